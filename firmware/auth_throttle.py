"""The password throttle of ``http_server.BasicAuth``: wrong passwords counted per client address.

Loaded for a call and dropped after, and only while some address has a wrong
password counted (``BasicAuth._fails`` holds the table): a gateway whose owner
types the right password never holds this code, nor the table.

After ``FREE_FAILURES`` wrong passwords in a row from one address, each
further failure locks the check for that address for a while (doubling up to
``MAX_DELAY_MS``). A success clears the address's count; so do ``FORGET_MS``
without a wrong password; the table is dropped once no row counts one.

The table has ``TABLE_SIZE`` rows, allocated at the first wrong password. An
address with no wrong password has no row. When every row but the last is
held by an address still guessing, further addresses share the last row, and
its lock: many addresses guessing at once are slowed down together.
"""
from clock import ticks_diff

FREE_FAILURES = 3
MAX_DELAY_MS = 16000
FORGET_MS = 600000
TABLE_SIZE = 8


def check(auth, ok, addr):
    """BasicAuth.check's verdict for credentials that are right (``ok``) or not, from ``addr``."""
    now = auth._clock()
    i = _row(auth, addr, now)
    if _left_ms(auth, i, now) > 0:
        return "locked"
    if ok:
        if 0 <= i < TABLE_SIZE - 1:
            auth._fails[i] = 0  # the shared row stays: it counts other addresses too
        if not any(auth._fails):
            auth._fails = bytearray()  # nobody guessing: no table
        return "ok"
    auth.failures += 1
    if i < 0:
        auth._addrs = bytearray(4 * TABLE_SIZE)
        auth._fails = bytearray(TABLE_SIZE)  # wrong passwords in a row, up to 255 (0: the row is free)
        auth._last = [0] * TABLE_SIZE        # ticks_ms of the row's last wrong password: its lock starts there
        i = _row(auth, addr, now)
    auth._fails[i] = min(auth._fails[i] + 1, 255)
    auth._last[i] = now
    return "bad"


def retry_after_s(auth, addr):
    """Whole seconds until ``addr``'s credentials are checked again (0: not locked)."""
    now = auth._clock()
    left = _left_ms(auth, _row(auth, addr, now), now)
    return (left + 999) // 1000 if left > 0 else 0


def _row(auth, addr, now):
    """``addr``'s row; else a free one (count 0) that takes it; else the shared last row.
    -1 while there is no table."""
    fails = auth._fails
    if not fails:
        return -1
    addr = addr or b"\0\0\0\0"
    addrs, last = auth._addrs, auth._last
    free = -1
    for i in range(TABLE_SIZE - 1):
        if fails[i] and ticks_diff(now, last[i]) > FORGET_MS:
            fails[i] = 0
        if not fails[i]:
            if free < 0:
                free = i
        elif addrs[4 * i] == addr[0] and addrs[4 * i + 1] == addr[1] \
                and addrs[4 * i + 2] == addr[2] and addrs[4 * i + 3] == addr[3]:
            return i
    if free < 0:
        free = TABLE_SIZE - 1
        if fails[free] and ticks_diff(now, last[free]) > FORGET_MS:
            fails[free] = 0
        return free
    addrs[4 * free:4 * free + 4] = addr
    return free


def _left_ms(auth, i, now):
    """How long row ``i`` stays locked: 1 s after the 4th wrong password, doubling to 16 s."""
    if i < 0:
        return 0
    over = auth._fails[i] - FREE_FAILURES
    if over <= 0:
        return 0
    return min(1000 << min(over - 1, 8), MAX_DELAY_MS) - ticks_diff(now, auth._last[i])
