"""Firmware update over the network: upload into the other app slot, restart, probation, rollback.

Loaded on demand (``ondemand.call``): by webapi for ``/api/v1/firmware`` and by
the app at boot while an update waits for its verdict; a gateway that is not
updating holds none of it, and the upload's 1 KB buffer exists only during an upload.
The flash is ``Partition`` of the hardware module: ``esp32.Partition`` on the
device (hw_esp32), ``hw_host.Partition`` in the simulator: the same calls either way.

The upload (``upload``) goes into the slot the bootloader does not run, hashed as
it passes: each 4 KB flash block is erased when the upload reaches it and
programmed a 1 KB piece at a time. (One 4 KB buffer would save three flash
program calls per block, but with a browser's connections open a 64 KB heap often
has no 4 KB in one piece: measured, the largest was 2.4 KB.) The image's first byte (0xE9) is held back,
0xFF in flash, until every check passed, so a cut-off or refused upload, or a
power cut, never leaves anything bootable. Then ``set_boot`` and a restart.

``ota.json`` beside config.json holds the last outcome across restarts. Between
set_boot and the verdict it says "restarting" and names the slot; the new
firmware (``after_boot``) runs on probation for ``PROBATION_S`` and marks itself
valid only when it is healthy then, else it notes why and restarts: the
bootloader rolls back, and the old firmware, finding itself running instead of
the slot named, records the rollback.
"""
import asyncio
import binascii
import gc
import hashlib
import json
import os

from micropython import const

import image_check
import supervisor
from clock import ticks_diff, ticks_ms
from http_server import error_response, json_response
from version import VERSION

try:
    from hw_esp32 import Partition
except ImportError:  # the simulator: there is no hw_esp32 in it (nor machine)
    from hw_host import Partition

BLOCK = const(4096)         # a flash block: what an erase takes
PIECE = const(1024)         # the upload's buffer: a quarter block, so a fragmented heap has room for it
PROBATION_S = 60
_STOCK = ("this installation has no app slots (stock MicroPython with .mpy files): install the p1gw "
          "image over USB (make flash), or update the files with make deploy")


def _path(hub):
    return (hub.config_path or "config.json").rsplit("config.json", 1)[0] + "ota.json"


def _load(hub):
    try:
        with open(_path(hub)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def _save(hub, rec):
    path = _path(hub)
    try:
        with open(path + ".tmp", "w") as f:
            json.dump(rec, f)
        os.rename(path + ".tmp", path)
    except OSError as e:
        print("ota: cannot write %s: %r" % (path, e))


def _slots(hub):
    """(running slot, slot to update, the running image's head) or None without app slots."""
    try:
        run = Partition(Partition.RUNNING)  # pyright: ignore[reportArgumentType]  (the stubs say str: BOOT and RUNNING are ints)
        nxt = run.get_next_update()
    except OSError:
        return None
    head = bytearray(image_check.HEAD)
    run.readblocks(0, head)
    return run, nxt, head


def _label(part):
    return part.info()[4]


def _version_in(part):
    head = bytearray(image_check.HEAD)
    part.readblocks(0, head)
    rec = image_check.record(head)
    return rec and rec[0]


def info(hub):
    """GET /api/v1/firmware beyond version and build: slots and the last update's outcome."""
    slots = _slots(hub)
    rec = _load(hub)
    out = {"updates": slots is not None and image_check.record(slots[2]) is not None}  # type: dict[str, object]
    if slots:
        run, nxt, head = slots
        mine = image_check.record(head)
        out["board"] = mine and mine[1]
        out["slot"] = _label(run)
        out["other_slot"] = {"slot": _label(nxt), "version": _version_in(nxt)}
    out["last"] = hub.status.get("update") or (
        {k: rec.get(k) for k in ("outcome", "reason", "version", "from")} if rec.get("outcome") else None)
    out["cut_off"] = rec.get("cut_off", 0)
    return out


def _query(q):
    out = {}
    for pair in q.split("&"):
        k, _, v = pair.partition("=")
        out[k] = v
    return out


def _hex(digest):
    return binascii.hexlify(digest).decode()


async def upload(hub, req):
    """POST /api/v1/firmware: the body is the image; see the module's text."""
    slots = _slots(hub)
    if slots is None or image_check.record(slots[2]) is None:
        return error_response(501, _STOCK)
    busy = hub.status.get("update")
    if busy:
        return error_response(409, "an update is already running (%s)" % busy.get("stage", "upload"))
    q = _query(req.query)
    sha = (q.get("sha256") or req.headers.get("x-sha256") or "").lower()
    if len(sha) != 64 or sha.strip("0123456789abcdef"):
        return error_response(400, "give the image's SHA-256 as 64 hex digits: ?sha256=... or header X-SHA256",
                              "sha256")
    length = int(req.headers.get("content-length", "0"))
    if not length:
        return error_response(411, "Content-Length required: send the image as the body", "Content-Length")
    run, nxt, head = slots
    size = (nxt.ioctl(4, 0) or 0) * BLOCK
    if length > size:
        return error_response(413, "%d bytes do not fit the %d-byte app slot" % (length, size), "Content-Length")
    buf = await _piece_buffer()
    if buf is None:
        return error_response(503, "out of memory for the upload's buffer: try again")
    state = hub.status["update"] = {"outcome": "in_progress", "stage": "upload", "bytes": 0, "total": length,
                                    "version": None}
    try:
        bad, new = await _receive(req.body, buf, nxt, head, length, sha, q.get("allow_downgrade") == "1",
                                  state)
        if bad is None:
            nxt.writeblocks(0, b"\xe9", 0)  # now it is an image
            try:
                nxt.set_boot()
            except OSError as e:
                bad = "the bootloader refuses the image (%r)" % e, "image"
        if bad is not None:
            return _refuse(hub, nxt if state["bytes"] else None, new, bad)
    except (EOFError, asyncio.CancelledError):
        # Cut off: the client went away or stopped sending (the server's deadline).
        if state["bytes"]:
            nxt.ioctl(6, 0)
        rec = _load(hub)
        rec["cut_off"] = rec.get("cut_off", 0) + 1
        _save(hub, rec)
        print("ota: upload cut off after %d of %d bytes" % (state["bytes"], length))
        raise
    finally:
        del hub.status["update"]
    net = hub.status.get("net") or {}
    _save(hub, {"outcome": "restarting", "version": new, "from": VERSION, "slot": _label(nxt),
                "p1": hub.age_ms() is not None, "net": "ip" if net.get("ip") else "ap" if net.get("ap") else None,
                "cut_off": _load(hub).get("cut_off", 0)})
    print("ota: %s written to %s; restarting into it" % (new, _label(nxt)))
    if hub.restart is not None:
        hub.restart()
    return json_response({"result": "restarting", "version": new, "slot": _label(nxt)})


async def _piece_buffer():
    """PIECE bytes in one piece. What a connection that just closed still holds can split
    the heap's free space for a moment: collect, and try again for up to a second."""
    for _ in range(10):
        gc.collect()
        try:
            return bytearray(PIECE)
        except MemoryError:
            await asyncio.sleep_ms(100)
    return None


async def _fill(body, mv):
    """Read until ``mv`` is full; EOFError when the client stops early."""
    got = 0
    while got < len(mv):
        n = await body.readinto(mv[got:])
        if not n:
            raise EOFError("body cut off")
        got += n
    return got


async def _receive(body, buf, nxt, head, length, sha, allow_downgrade, state):
    """Stream the body through ``buf`` into ``nxt``: (refusal or None, the image's version)."""
    mv = memoryview(buf)
    whole = hashlib.sha256()
    own = hashlib.sha256()   # the image's appended hash covers all but its last 32 bytes
    own_fed = 0
    walk = image_check.ImageLength()
    version = None
    got = 0
    while got < length:
        n = await _fill(body, mv[:min(PIECE, length - got)])
        part = mv[:n]
        whole.update(part)
        if not got:
            bad = image_check.refusal(part, head, allow_downgrade)
            if bad is not None:
                return bad, None
            version = image_check.record(part)[0]  # pyright: ignore[reportOptionalSubscript]  (refusal checked)
            state["version"] = version
        walk.feed(got, part)
        stop = n if walk.length is None else max(0, min(n, walk.length - 32 - got))
        own.update(part[:stop])
        own_fed += stop
        if not got:
            buf[0] = 0xFF  # held back: the slot holds no image until every check passed
        block, offset = divmod(got, BLOCK)
        if not offset:
            nxt.ioctl(6, block)  # erase the block this piece starts
        nxt.writeblocks(block, part, offset)
        got += n
        state["bytes"] = got
        await asyncio.sleep(0)  # a flash write takes a while: let Modbus in between
    if walk.length != length:
        return ("the file is %d bytes but the image in it says %s: cut off or padded" % (
            length, walk.length if walk.length else "more"), "Content-Length"), version
    got_sha = _hex(whole.digest())  # once: MicroPython's hash is final after digest()
    if got_sha != sha:
        return ("SHA-256 of the upload is %s, not the %s given" % (got_sha, sha), "sha256"), version
    if walk.hashed:
        tail = bytearray(32)
        nxt.readblocks((length - 32) // BLOCK, tail, (length - 32) % BLOCK)
        if own_fed != length - 32 or own.digest() != bytes(tail):
            return ("the image's own SHA-256 does not match its contents: it is damaged", "image"), version
    return None, version


def _refuse(hub, nxt, version, bad):
    if nxt is not None:
        nxt.ioctl(6, 0)  # what was written: not even its first block stays
    message, field = bad
    rec = _load(hub)
    _save(hub, {"outcome": "rejected", "reason": message, "version": version, "from": VERSION,
                "cut_off": rec.get("cut_off", 0)})
    print("ota: upload refused: %s" % message)
    return error_response(400, message, field)


# --- after the restart -----------------------------------------------------------

def after_boot(hub, probation_s=None):
    """At boot: record a rollback, or return the probation to run (a coroutine) for a new firmware."""
    rec = _load(hub)
    if rec.get("outcome") != "restarting":
        return None
    slots = _slots(hub)
    if slots is None or _label(slots[0]) != rec.get("slot"):
        why = rec.get("failed") or ("it stopped during its probation (crash, hang or power loss)"
                                    if rec.get("started") else "it did not start (crashed at boot)")
        rec.update(outcome="rolled_back", reason="%s was rolled back: %s" % (rec.get("version"), why))
        _save(hub, rec)
        print("ota: " + rec["reason"])
        return None
    rec["started"] = True
    _save(hub, rec)
    return _probation(hub, rec, probation_s or PROBATION_S)


def unhealthy(hub, rec, crashes):
    """Why this firmware is not doing what the one before it did, or None."""
    if crashes:
        return "%d service crash(es) since boot" % crashes
    net = hub.status.get("net") or {}
    if rec.get("net") == "ip" and not (net.get("ip") and net.get("link")):
        return "network not up"
    if rec.get("net") == "ap" and not (net.get("ap") or net.get("ip")):
        return "access point not up"
    if rec.get("p1") and hub.age_ms() is None:
        return "no telegram parsed from the meter"
    return None


async def _probation(hub, rec, period_s):
    start = ticks_ms()
    crashes = supervisor.crashes
    state = hub.status["update"] = {"outcome": "in_progress", "stage": "probation", "version": VERSION,
                                    "left_s": period_s}
    print("ota: %s on probation for %d s" % (VERSION, period_s))
    while True:
        await asyncio.sleep(1)
        left = period_s - ticks_diff(ticks_ms(), start) // 1000
        state["left_s"] = max(0, left)
        if left <= 0:
            break
    why = unhealthy(hub, rec, supervisor.crashes - crashes)
    if why is None:
        try:
            Partition.mark_app_valid_cancel_rollback()
        except OSError as e:
            why = "cannot mark itself valid (%r)" % e
    del hub.status["update"]
    if why is None:
        rec.update(outcome="ok", reason=None)
        _save(hub, rec)
        print("ota: %s passed its probation: marked valid" % VERSION)
        return
    rec["failed"] = "not healthy after %d s: %s" % (period_s, why)
    _save(hub, rec)
    print("ota: %s; restarting into the previous firmware" % rec["failed"])
    if hub.restart is not None:
        hub.restart()
