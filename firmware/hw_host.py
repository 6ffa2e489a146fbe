"""The hardware interface on a PC (MicroPython unix port): the simulator's device.

Same names as ``hw_esp32.py``. The P1 "UART" is a TCP connection to a meter
(``tcp:HOST:PORT``, as ``tools/sim.py`` and ``host_tests/simctl.py`` serve it)
or a file read once (``file:PATH``). The UART's settings go to the meter as a
line ``line 9600 7E1`` on connecting and on every change: the simulated meter
then sends what a UART so set would read (tools/uart_line.py). The LED prints its colour, the button is
pressed on a schedule (``--button``) or through a control file, the network is
a fixed Ethernet link on 127.0.0.1, and the watchdog does nothing.
The flash's two app slots (``hw_host_flash.py``) are files that ``tools/sim.py`` (the bootloader) reads.
``hw_host_sim.py`` fills ``OPTIONS`` from the command line before the app starts,
and holds what the simulator needs seldom (the Wi-Fi scan).
"""
import asyncio
import os
import sys

import ondemand
from clock import ticks_diff, ticks_ms

# Filled from the command line (hw_host_sim.parse, its defaults) before the app starts.
OPTIONS = {}

RESET_EXIT = 3  # exit status for "reset me": the launcher starts the firmware again

_BOOT_MS = ticks_ms()


class P1Port:
    """The meter's serial line, fed from a TCP meter or a file."""

    RETRY_MS = 1000

    def __init__(self, board, config):
        self._spec = OPTIONS["p1"] or ""
        self._reader = None
        self._file = None
        self.serial = (115200, 8, None)
        self._tell = True  # the meter has yet to hear our settings

    def configure(self, baud, bits, parity, invert=True):
        # Inversion is the electrical side of the line: the simulated one has none.
        self.serial = (baud, bits, parity)
        self._tell = True

    async def readinto(self, buf):
        """Wait for meter bytes; return how many landed in ``buf`` (0: none yet)."""
        spec = self._spec
        if spec.startswith("tcp:"):
            return await self._read_tcp(buf, spec[4:])
        if spec.startswith("file:"):
            return await self._read_file(buf, spec[5:])
        await asyncio.sleep_ms(self.RETRY_MS)  # no meter given: a silent line
        return 0

    async def _read_tcp(self, buf, where):
        if self._reader is None:
            host, _, port = where.rpartition(":")
            try:
                self._reader, _ = await asyncio.open_connection(host, int(port))
            except OSError as e:
                print("p1: cannot reach meter at %s (%s); retrying" % (where, e))
                await asyncio.sleep_ms(self.RETRY_MS)
                return 0
            self._tell = True
        try:
            if self._tell:
                self._tell = False
                baud, bits, parity = self.serial
                self._reader.write(b"line %d %d%s1\n" % (baud, bits, b"N" if parity is None else b"E"))  # type: ignore[attr-defined]
                await self._reader.drain()  # type: ignore[attr-defined]
            n = await self._reader.readinto(buf)  # type: ignore[attr-defined]  (one Stream reads and closes)
        except OSError:
            n = 0
        if not n:  # the meter hung up: reconnect on the next call
            self._reader.close()  # type: ignore[attr-defined]
            self._reader = None
            await asyncio.sleep_ms(self.RETRY_MS)
        return n or 0

    async def _read_file(self, buf, path):
        # A regular file never blocks: read it once, then stay quiet like a
        # meter with nothing more to say. Small chunks mimic a UART.
        if self._file is None:
            self._file = open(path, "rb")
        n = self._file.readinto(memoryview(buf)[:64])
        await asyncio.sleep_ms(5 if n else self.RETRY_MS)
        return n or 0

    def write(self, data):
        """P1 passthrough: the host has no TX pin."""


# Names for the colours the status LED shows (PRODUCT.md section 6).
_NAMES = {(0, 0, 0): "off", (255, 0, 0): "red", (0, 255, 0): "green", (0, 0, 255): "blue",
          (255, 96, 0): "orange", (160, 160, 160): "white"}


class Led:
    """Prints the LED colour when it changes; an alternation prints once."""

    def __init__(self, board):
        self._last = None
        self._before = None

    def set(self, r, g, b):
        rgb = (r, g, b)
        if rgb == self._last:
            return
        blinking = rgb == self._before
        self._before, self._last = self._last, rgb
        name = _NAMES.get(rgb) or "rgb(%d,%d,%d)" % rgb
        if OPTIONS["ansi"]:
            # One line in place: blinking repaints it instead of scrolling.
            sys.stdout.write("\r\x1b[48;2;%d;%d;%dm    \x1b[0m led %-8s\r" % (r, g, b, name))
        elif not blinking:
            print("led: %s" % name)


class Button:
    """A button pressed by schedule (``--button``) or by lines in a control file."""

    POLL_MS = 200

    def __init__(self, board):
        self._presses = [(s, s + h) for s, h in OPTIONS["presses"]]
        self._control = OPTIONS["control"]
        # Bytes of the control file already acted on: what it held at boot was
        # pressed before the reset, and must not be pressed again (a factory
        # reset would repeat after every reboot).
        self._seen = 0
        if self._control:
            try:
                self._seen = os.stat(self._control)[6]
            except OSError:
                pass
        self._checked = 0

    def pressed(self):
        now = ticks_diff(ticks_ms(), _BOOT_MS)
        if self._control and now - self._checked >= self.POLL_MS:
            self._checked = now
            try:
                size = os.stat(self._control)[6]
            except OSError:
                size = self._seen
            if size != self._seen:  # lines added (pressed), or the file cut short
                ondemand.call("hw_host_sim", "control", self, size, now)
        for start, end in self._presses:
            if start <= now < end:
                return True
        return False


class Net:
    """A wired link that is always up on 127.0.0.1; the AP is only a flag.

    Ethernet without DHCP (``OPTIONS["dhcp"]`` False) has a link but no address
    until a static one is set. The host name is kept as the ESP32 port uses it:
    mDNS answers the name set before the first interface came up, so status()
    shows both (``hostname``, ``mdns``), and a late set_hostname is visible.
    """

    def __init__(self, board):
        self._ap = None
        self._iface = "ethernet"
        self._ssid = None
        self._static = None
        self._hostname = "p1gw"
        self._mdns = None      # the name mDNS answers: fixed when an interface first comes up

    def _come_up(self):
        if self._mdns is None:
            self._mdns = self._hostname + ".local"

    def start_wifi(self, ssid, password, ipv4):
        self._come_up()
        self._iface = "wifi"
        self._ssid = ssid

    def start_ethernet(self, ipv4):
        self._come_up()
        self._iface = "ethernet"
        self._ssid = None
        self._static = ipv4[0] if ipv4 else None

    def start_ap(self, ssid, key, ip="10.10.10.10"):
        self._come_up()
        self._ap = ssid

    def stop_ap(self):
        self._ap = None

    def disconnect(self):
        pass

    def status(self):
        ip = "127.0.0.1"
        if self._iface == "ethernet" and (self._static or not OPTIONS["dhcp"]):
            ip = self._static
        return {"iface": self._iface, "ip": ip, "rssi": -55 if self._iface == "wifi" else None,
                "link": True, "ap": self._ap is not None, "ssid": self._ssid,
                "mac": ":".join("%02x" % b for b in OPTIONS["mac"]),
                "hostname": self._hostname, "mdns": self._mdns}

    def scan(self):
        return ondemand.call("hw_host_sim", "scan")

    def set_hostname(self, name):
        self._hostname = name

    def sync_time(self):
        pass  # the PC's clock is already right


class Watchdog:
    def __init__(self, timeout_ms):
        pass

    def feed(self):
        pass


def unique_id():
    return OPTIONS["mac"]


def reset():
    """Restart the device: the launcher starts a new firmware process."""
    print("reset")
    sys.exit(RESET_EXIT)


def state_dir():
    return OPTIONS["state_dir"]


def __getattr__(name):
    """``hw_host.Partition``: the simulated flash's app slots (``hw_host_flash.py``), loaded when
    an update asks for them; hw_esp32's is MicroPython's own class, in flash."""
    if name == "Partition":
        from hw_host_flash import Partition
        return Partition
    raise AttributeError(name)
