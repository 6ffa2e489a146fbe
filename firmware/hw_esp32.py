"""The hardware interface on an ESP32 / ESP32-C3: UART, pins, LED, network, watchdog.

Integration: ``main.py`` passes this module and ``board`` (the board file copied
at deploy) to ``app.main``; everything here takes the board module and reads
only the constants listed in ``boards/esp32_devkitc.py``. Same names as
``hw_host.py``. Never runs off-target: it is type-checked against
micropython-esp32-stubs and compiled with mpy-cross.

Blocking calls the ESP32 port gives no async form for, and what they cost the
event loop: ``Net.scan()`` ~2 s (only on request from the config page),
``Net.sync_time()`` up to ``ntptime.timeout`` (1 s) per NTP attempt plus, the
first time or after a failure, a DNS lookup (seconds while DNS is down), the first
``network.LAN`` start ~0.5 s. The watchdog timeout must stay above these.
"""
import asyncio

import machine
import network
# The app slots of the p1gw image's OTA layout: MicroPython's own class, whose
# calls the update uses (ota.py) hw_host.Partition mirrors for the simulator.
from esp32 import Partition  # noqa: F401
from machine import PWM, UART, Pin
from micropython import const

_UART_ID = const(1)       # UART0 is the REPL on both chips
_RXBUF = const(4096)      # > one 1.5 KB telegram plus what arrives during a slow loop turn
_POLL_MS = const(20)      # 115200 baud = 230 bytes per 20 ms poll
_IDLE_POLLS = const(10)   # readinto returns 0 after ~200 ms of silence


class P1Port:
    """The meter's data line: UART RX with inversion, optional TX passthrough and data request."""

    def __init__(self, board, config):
        self._board = board
        self._uart = None
        if board.P1_DATA_REQUEST is not None:
            # The meter only sends while Data Request is high; never pull it low.
            self._request = Pin(board.P1_DATA_REQUEST, Pin.OUT, value=1)
        self.configure(115200, 8, None)

    def configure(self, baud, bits, parity, invert=True):
        """Set the serial format: 115200 8N1 (DSMR 4/5), 9600 7E1 (``parity=0``: DSMR 2.2/3,
        TIC standard) or 1200 7E1 (TIC historique); ``invert`` the RX line (P1 yes, TIC no)."""
        b = self._board
        # TX is always named: left out, UART1 keeps its default TX pin (GPIO10),
        # which may be the board's P1 RX and would drive against the meter. TX
        # carries the passthrough, not inverted, for an NPN open-collector stage
        # that re-creates the P1 line (see README.md, "The P1 port").
        kw = {"baudrate": baud, "bits": bits, "parity": parity, "stop": 1,
              "rx": b.P1_RX, "tx": b.P1_TX, "rxbuf": _RXBUF, "invert": UART.INV_RX if invert else 0}
        if self._uart is None:
            self._uart = UART(_UART_ID, **kw)
        else:
            self._uart.init(**kw)

    async def readinto(self, buf):
        """Copy waiting bytes into ``buf``; 0 after ~200 ms without any."""
        uart = self._uart
        if uart is None:
            return 0
        for _ in range(_IDLE_POLLS):
            n = uart.any()
            if n:
                got = uart.readinto(buf, min(n, len(buf)))
                return got or 0
            await asyncio.sleep_ms(_POLL_MS)
        return 0

    def write(self, data):
        """P1 passthrough to a second device, on the board's P1_TX."""
        if self._uart is not None:
            self._uart.write(data)


class Led:
    """Status LED: one WS2812 ("neopixel") or three PWM pins (common cathode)."""

    def __init__(self, board):
        self._kind = board.LED_KIND
        self._np = None
        self._pwm = ()
        if self._kind == "neopixel":
            from neopixel import NeoPixel
            self._np = NeoPixel(Pin(board.LED_PINS[0], Pin.OUT), 1)
        elif self._kind == "rgb_pwm":
            self._pwm = tuple(PWM(Pin(p, Pin.OUT), freq=1000, duty_u16=0) for p in board.LED_PINS)

    def set(self, r, g, b):
        if self._np is not None:
            self._np[0] = (r, g, b)
            self._np.write()
        elif self._pwm:
            for pwm, v in zip(self._pwm, (r, g, b)):
                pwm.duty_u16(v * 257)  # 0..255 -> 0..65535


class Button:
    """The button's raw level; debouncing is in button.py."""

    def __init__(self, board):
        self._active_low = board.BUTTON_ACTIVE_LOW
        # Pins 34-39 have no internal pull resistors: boards using them carry their own.
        if self._active_low and board.BUTTON_PIN < 34:
            self._pin = Pin(board.BUTTON_PIN, Pin.IN, Pin.PULL_UP)
        else:
            self._pin = Pin(board.BUTTON_PIN, Pin.IN)

    def pressed(self):
        return self._pin.value() == (0 if self._active_low else 1)


def _mac(raw):
    return ":".join("%02x" % b for b in raw)


class Net:
    """Wi-Fi station or LAN8720 Ethernet (one at a time) plus the Wi-Fi access point."""

    def __init__(self, board):
        self._board = board
        self._sta = network.WLAN(network.STA_IF)
        self._ap = network.WLAN(network.AP_IF)
        self._lan = None       # network.LAN is a singleton: create once, then (de)activate
        self._iface = None     # "wifi", "ethernet" or None
        self._static = set()   # interfaces we took off DHCP
        self._ntp_ip = None    # pool.ntp.org, resolved once: DNS blocks the loop
        self._hostname = None  # as set (status() reads it every poll: no new string each time)
        self._mdns = None      # the name mDNS answers: the host name when an interface first came up

    def _ipv4(self, name, nic, ipv4):
        # DHCP is on by default and restarting a running client raises, so
        # only turn it back on where a static address switched it off.
        if ipv4:
            nic.ifconfig(ipv4)
            self._static.add(name)
        elif name in self._static:
            nic.ipconfig(dhcp4=True)
            self._static.discard(name)

    def set_hostname(self, name):
        # The ESP32 port's mDNS responder starts with the first interface and
        # answers the host name set by then: netman sets it before any start.
        network.hostname(name)
        self._hostname = name

    def _come_up(self):
        if self._mdns is None:
            self._mdns = (self._hostname or "espressif") + ".local"  # ESP-IDF's default name

    def start_wifi(self, ssid, password, ipv4):
        self._come_up()
        self.disconnect()
        sta = self._sta
        sta.active(True)
        self._ipv4("wifi", sta, ipv4)
        self._iface = "wifi"
        sta.connect(ssid, password)  # returns at once; status() shows the result

    def start_ethernet(self, ipv4):
        eth = self._board.ETH
        if not eth:
            raise OSError("board %s has no Ethernet" % self._board.NAME)
        self._come_up()
        self.disconnect()
        if self._lan is None:
            self._lan = _make_lan(eth)
        self._lan.active(True)
        self._ipv4("ethernet", self._lan, ipv4)
        self._iface = "ethernet"

    def disconnect(self):
        if self._iface == "wifi":
            self._sta.disconnect()
            self._sta.active(False)
        elif self._iface == "ethernet" and self._lan is not None:
            self._lan.active(False)
        self._iface = None

    def start_ap(self, ssid, key, ip="10.10.10.10"):
        self._come_up()
        ap = self._ap
        ap.active(True)
        ap.config(ssid=ssid, key=key, security=network.AUTH_WPA2_PSK)
        # The AP is its own gateway and DNS server (captive_dns answers there).
        ap.ifconfig((ip, "255.255.255.0", ip, ip))

    def stop_ap(self):
        self._ap.active(False)

    def status(self):
        link = False
        ip = rssi = ssid = None
        mac = self._sta.config("mac")
        if self._iface == "wifi":
            link = self._sta.isconnected()
            if link:
                ip = self._sta.ifconfig()[0]
                ssid = self._sta.config("ssid")
                rssi = self._sta.status("rssi")
        elif self._iface == "ethernet" and self._lan is not None:
            # The stubs declare network.LAN twice and the later, port-generic
            # one lacks these methods; the ESP32 LAN object has them.
            lan = self._lan
            link = lan.isconnected()  # pyright: ignore[reportAttributeAccessIssue]
            if link:
                ip = lan.ifconfig()[0]  # pyright: ignore[reportAttributeAccessIssue]
            mac = lan.config("mac")  # pyright: ignore[reportAttributeAccessIssue]
        return {"iface": self._iface, "ip": ip, "rssi": rssi, "link": link,
                "ap": self._ap.active(), "ssid": ssid, "mac": _mac(mac),
                "hostname": self._hostname, "mdns": self._mdns}

    def scan(self):
        """``WLAN.scan()`` as it is: (ssid, bssid, channel, rssi, security, hidden) tuples."""
        sta = self._sta
        if not sta.active():
            sta.active(True)
        return sta.scan()

    def sync_time(self):
        """Set the RTC from NTP (pool.ntp.org); raises OSError when no answer comes.

        The name is resolved once and its address reused: getaddrinfo blocks the
        loop (seconds while DNS is down), an address does not. A failed sync
        forgets the address, so a dead server is replaced on the next try.
        """
        import ntptime
        import socket
        ntptime.timeout = 1
        try:
            if self._ntp_ip is None:
                self._ntp_ip = socket.getaddrinfo("pool.ntp.org", 123)[0][-1][0]
            ntptime.host = self._ntp_ip
            ntptime.settime()
        except OSError:
            self._ntp_ip = None
            raise


def _make_lan(eth):
    # The stubs declare LAN's generic signature; the ESP32 port takes pins and
    # the PHY, e.g. LAN(mdc=Pin(23), mdio=Pin(18), phy_type=PHY_LAN8720, ...).
    # GPIO0 is the only RMII clock input; 16/17 are outputs driven by the ESP32.
    kw = {"mdc": Pin(eth["mdc"]), "mdio": Pin(eth["mdio"]),
          "phy_type": network.PHY_LAN8720, "phy_addr": eth["phy_addr"],
          "ref_clk": Pin(eth["ref_clk"]),
          "ref_clk_mode": Pin.IN if eth["ref_clk"] == 0 else Pin.OUT}
    if eth.get("power") is not None:
        kw["power"] = Pin(eth["power"])
    return network.LAN(**kw)


class Watchdog:
    """machine.WDT: resets the chip unless fed within ``timeout_ms``; cannot be stopped."""

    def __init__(self, timeout_ms):
        self._wdt = machine.WDT(timeout=timeout_ms)

    def feed(self):
        self._wdt.feed()


def unique_id():
    """The factory MAC (6 bytes): the source of the device serial."""
    return machine.unique_id()


def reset():
    machine.reset()


def state_dir():
    return "/"
