"""Millisecond ticks, and an asyncio sleep in milliseconds, on every runtime.

MicroPython has wrapping ``time.ticks_ms`` and ``asyncio.sleep_ms`` (which,
unlike ``sleep(ms / 1000)``, allocates no float: a polling loop makes no
garbage); CPython (unit tests) gets stand-ins. Logic modules never call this: they take ``now_ms``
arguments so tests step a fake clock instead of sleeping.
"""
import time

try:
    from asyncio import sleep_ms  # type: ignore[attr-defined]
except ImportError:  # CPython, or no asyncio at hand (pure logic alone)
    def sleep_ms(ms):
        import asyncio
        return asyncio.sleep(ms / 1000)

try:
    ticks_ms = time.ticks_ms  # type: ignore[attr-defined]
    ticks_diff = time.ticks_diff  # type: ignore[attr-defined]
    ticks_add = time.ticks_add  # type: ignore[attr-defined]
except AttributeError:  # CPython
    def ticks_ms():
        return int(time.monotonic() * 1000)  # pyright: ignore[reportAttributeAccessIssue]

    def ticks_diff(a, b):
        return a - b

    def ticks_add(a, b):
        return a + b


# Bare-metal ports count from 2000, the unix port and CPython from 1970.
_EPOCH_OFFSET = 946684800 if time.gmtime(0)[0] == 2000 else 0


# A wall clock before 2024-01-01 has not been set (no NTP yet): it counts from boot.
SET_AFTER_S = 1704067200


def epoch_s():
    """Wall-clock UTC seconds since 1970 (valid once NTP has set the clock: >= SET_AFTER_S)."""
    return int(time.time()) + _EPOCH_OFFSET
