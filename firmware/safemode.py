"""Boot counter and safe mode: a device stuck in a crash loop comes up with AP and web page only.

Integration (app.py, first thing after the hw layer is up):
    import safemode
    bc = safemode.BootCounter(hw.state_dir())
    safe = bc.boot()                  # counts this boot; True -> safe mode
    # safe: start only netman (NetManager(..., safe_mode=True)), the web
    #       server, LED and button; no P1 reader, Modbus, MQTT or raw stream.
    asyncio.create_task(bc.run())     # clears the counter after stable_ms of uptime
    # before an intentional reset (config saved, firmware update, factory reset):
    bc.clean_reset(); hw.reset()

Rules: every boot adds one to ``bootcount`` in the state dir; a boot that runs
``stable_ms`` (5 min) sets it back to 0. Boot number ``limit + 1`` in a row
without such a stable run (three quick crashes or watchdog resets, then the
fourth boot) starts in safe mode, and clears the counter at once: the next
reset (from the web page, the button, the watchdog or the power) tries the
full firmware again. Quick power cycles count too: unplugging the device
within 5 minutes of boot four times in a row also ends in safe mode, harmless
because the next power-up leaves it.
"""
import asyncio

from clock import ticks_diff, ticks_ms

_FILE = "bootcount"


def parse_count(text):
    """The stored count; a missing or damaged file counts as 0."""
    try:
        n = int(text.strip())
    except (ValueError, AttributeError):
        return 0
    return n if n > 0 else 0


class BootCounter:
    limit = 3                  # quick boots in a row tolerated before safe mode
    stable_ms = 5 * 60 * 1000  # uptime after which a boot counts as good
    check_ms = 10000

    def __init__(self, state_dir):
        self.path = state_dir.rstrip("/") + "/" + _FILE
        self.count = 0
        self.safe = False
        self.stable = False

    def boot(self):
        """Count this boot; return True if it must start in safe mode."""
        try:
            with open(self.path) as f:
                self.count = parse_count(f.read()) + 1
        except OSError:
            self.count = 1
        self._write(self.count)
        self.safe = self.count > self.limit
        if self.safe:
            print("safemode: %d quick restarts in a row: safe mode (access point and web page only)"
                  % (self.count - 1))
            self._write(0)  # however this boot ends, the next one tries the full firmware
        return self.safe

    def update(self, uptime_ms):
        """Clear the counter once the device has been up ``stable_ms``."""
        if not self.stable and uptime_ms >= self.stable_ms:
            self.stable = True
            self.count = 0
            self._write(0)

    def clean_reset(self):
        """Call before an intentional reset, so it is not counted as a crash."""
        self._write(0)

    def _write(self, n):
        try:
            with open(self.path, "w") as f:
                f.write("%d\n" % n)
        except OSError as e:  # a full or read-only filesystem must not stop the boot
            print("safemode: cannot write %s: %r" % (self.path, e))

    async def run(self, clock=ticks_ms):
        start = clock()
        while not self.stable:
            self.update(ticks_diff(clock(), start))
            await asyncio.sleep(self.check_ms / 1000)
