"""Task supervision: a crashed task is logged and started again, fresh each time."""
import asyncio

from _support import esp32_ticks_diff
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


def _sleeps(crash, n, backoff_ms, clock=lambda: 0):
    """The first ``n`` back-off sleeps (s) of supervising ``crash`` (called with the sleeps so far)."""
    waits = []
    real_sleep = asyncio.sleep

    async def fake_sleep(s):
        waits.append(s)
        if len(waits) == n:
            raise _Stop()
        await real_sleep(0)

    async def start():
        crash(waits)
    asyncio.sleep = fake_sleep
    try:
        asyncio.run(supervise("svc", start, backoff_ms, clock=clock, log=lambda m: None))
    except _Stop:
        pass
    finally:
        asyncio.sleep = real_sleep
    return waits


def _oserror(waits):
    raise OSError(5)


def test_backoff_doubles_up_to_the_cap():
    assert _sleeps(_oserror, 5, (1000, 4000)) == [1.0, 2.0, 4.0, 4.0, 4.0]


def test_a_run_longer_than_the_tick_counter_spans_still_resets_the_backoff():
    import supervisor
    now = [0]

    def crash(waits):
        if len(waits) == 3:
            now[0] = (now[0] + 7 * 86400 * 1000) & ((1 << 30) - 1)  # a week, as the ticks show it
        raise OSError(5)
    real = supervisor.ticks_diff
    supervisor.ticks_diff = esp32_ticks_diff
    try:
        waits = _sleeps(crash, 4, (1000, 60000), lambda: now[0])
    finally:
        supervisor.ticks_diff = real
    assert waits == [1.0, 2.0, 4.0, 1.0]
