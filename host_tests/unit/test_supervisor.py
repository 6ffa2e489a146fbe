"""Task supervision: a crashed task is logged and started again, fresh each time."""
import asyncio

from supervisor import supervise


class _Stop(BaseException):
    """Ends the supervision loop in a test (supervise lets BaseException through)."""


def _run(start, runs_before_stop):
    lines = []
    calls = [0]

    async def counted():
        calls[0] += 1
        if calls[0] > runs_before_stop:
            raise _Stop()
        await start(calls[0])

    try:
        asyncio.run(supervise("svc", counted, (0, 0), log=lines.append))
    except _Stop:
        pass
    return calls[0] - 1, lines


def test_crashing_task_is_logged_and_restarted():
    async def crash(n):
        raise ValueError("boom %d" % n)
    runs, lines = _run(crash, 3)
    assert runs == 3
    assert lines == ["app: svc crashed (ValueError: boom %d); restarting in 0 ms" % n for n in (1, 2, 3)]


def test_task_that_returns_is_started_again():
    async def done(n):
        return None
    runs, lines = _run(done, 2)
    assert runs == 2
    assert lines == ["app: svc returned; starting it again"] * 2


def test_backoff_doubles_up_to_the_cap():
    waits = []
    real_sleep = asyncio.sleep

    async def fake_sleep(s):
        waits.append(s)
        if len(waits) == 5:
            raise _Stop()
        await real_sleep(0)

    async def crash():
        raise OSError(5)
    asyncio.sleep = fake_sleep
    try:
        asyncio.run(supervise("svc", crash, (1000, 4000), clock=lambda: 0, log=lambda m: None))
    except _Stop:
        pass
    finally:
        asyncio.sleep = real_sleep
    assert waits == [1.0, 2.0, 4.0, 4.0, 4.0]


def _esp32_ticks_diff(a, b):
    """time.ticks_diff as an ESP32 computes it: ticks wrap at 2**30."""
    return ((a - b + (1 << 29)) & ((1 << 30) - 1)) - (1 << 29)


def test_a_run_longer_than_the_tick_counter_spans_still_resets_the_backoff():
    import supervisor
    waits = []
    now = [0]
    real_sleep, real_diff = asyncio.sleep, supervisor.ticks_diff

    async def fake_sleep(s):
        waits.append(s)
        if len(waits) == 4:
            raise _Stop()
        await real_sleep(0)

    async def crash():
        if len(waits) == 3:
            now[0] = (now[0] + 7 * 86400 * 1000) & ((1 << 30) - 1)  # a week, as the ticks show it
        raise OSError(5)
    asyncio.sleep, supervisor.ticks_diff = fake_sleep, _esp32_ticks_diff
    try:
        asyncio.run(supervise("svc", crash, (1000, 60000), clock=lambda: now[0], log=lambda m: None))
    except _Stop:
        pass
    finally:
        asyncio.sleep, supervisor.ticks_diff = real_sleep, real_diff
    assert waits == [1.0, 2.0, 4.0, 1.0]
