"""Boot counter and safe mode: a device stuck in a crash loop comes up with AP and web page only.

Loaded for each call and dropped (``ondemand.call``), by the app:
    safe = ondemand.call("safemode", "boot", hw.state_dir())  # counts this boot; True -> safe mode
    # safe: start only netman (NetManager(..., safe_mode=True)), the web
    #       server, LED and button; no P1 reader, Modbus, MQTT or raw stream.
    ondemand.call("safemode", "clear", state_dir)   # after app.STABLE_S of uptime, and
    # before an intentional reset (config saved, firmware update, factory reset)

Rules: every boot adds one to ``bootcount`` in the state dir; a boot that runs
5 minutes (``app.STABLE_S``) sets it back to 0. Boot number ``LIMIT + 1`` in a
row without such a stable run (three quick crashes or watchdog resets, then the
fourth boot) starts in safe mode, and clears the counter at once: the next
reset (from the web page, the button, the watchdog or the power) tries the
full firmware again. Quick power cycles count too: unplugging the device
within 5 minutes of boot four times in a row also ends in safe mode, harmless
because the next power-up leaves it.
"""
LIMIT = 3  # quick boots in a row tolerated before safe mode


def _path(state_dir):
    return state_dir.rstrip("/") + "/bootcount"


def parse_count(text):
    """The stored count; a missing or damaged file counts as 0."""
    try:
        n = int(text.strip())
    except (ValueError, AttributeError):
        return 0
    return n if n > 0 else 0


def boot(state_dir):
    """Count this boot; return True if it must start in safe mode."""
    try:
        with open(_path(state_dir)) as f:
            count = parse_count(f.read()) + 1
    except OSError:
        count = 1
    _write(state_dir, count)
    if count <= LIMIT:
        return False
    print("safemode: %d quick restarts in a row: safe mode (access point and web page only)" % (count - 1))
    _write(state_dir, 0)  # however this boot ends, the next one tries the full firmware
    return True


def clear(state_dir):
    """A stable run, or an intentional reset coming: this boot was no crash."""
    _write(state_dir, 0)


def _write(state_dir, n):
    try:
        with open(_path(state_dir), "w") as f:
            f.write("%d\n" % n)
    except OSError as e:  # a full or read-only filesystem must not stop the boot
        print("safemode: cannot write %s: %r" % (_path(state_dir), e))
