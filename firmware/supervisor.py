"""Keep a task running: a crash is logged and the task starts again after a back-off."""
import asyncio
import sys
from errno import EADDRINUSE

from clock import ticks_diff, ticks_ms

BACKOFF_MS = (1000, 60000)  # first wait after a crash, and the cap as it doubles
STABLE_MS = 60000           # a task that ran this long before crashing starts over at the first wait
crashes = 0                 # task crashes since boot: a new firmware on probation must have none (ota.py)


async def supervise(name, start, backoff_ms=BACKOFF_MS, clock=ticks_ms, log=print):
    """Run ``start()`` (a coroutine factory) forever, restarting it when it crashes or returns.

    ``start`` builds a fresh coroutine (and, for a service, a fresh object)
    each time, so a restart begins from a clean state.
    """
    global crashes
    first, cap = backoff_ms
    wait = first
    while True:
        began = clock()
        err = None
        try:
            await start()
        except asyncio.CancelledError:
            raise
        except Exception as e:
            err = e
            crashes += 1
        ran = ticks_diff(clock(), began)
        # Negative: a run past 2**29 ms (6 days), which an ESP32's ticks wrap.
        if ran < 0 or ran >= STABLE_MS:
            wait = first
        if err is None:
            log("app: %s returned; starting it again" % name)
        elif isinstance(err, OSError) and err.errno == EADDRINUSE:  # not a bug: no traceback
            # streams.listen's text names the port
            log("app: %s cannot listen: %s; trying again in %d ms" % (name, err.args[-1], wait))
        else:
            log("app: %s crashed (%s: %s); restarting in %d ms" % (name, type(err).__name__, err, wait))
            if hasattr(sys, "print_exception"):
                sys.print_exception(err)  # type: ignore[attr-defined]
        await asyncio.sleep(wait / 1000)
        wait = min(wait * 2, cap)
