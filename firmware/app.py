"""The gateway application: boot, wire P1 reader, hub and services, keep them running.

``main(hw, board)`` is all a device needs (see main.py); ``hw`` is the hardware
module (hw_esp32 or hw_host). Each service present in the firmware is built as
``Service(hub)`` and its ``run()`` becomes a supervised task: a crash is logged
and that service alone starts again after a back-off. The main loop feeds the
watchdog, so a wedged event loop resets the device.

Host runs pass ``host``, a dict with any of: "config" (dotted field -> value,
runtime only, e.g. the simulator's ports), "bind" (listen address, default
0.0.0.0), "services" (module names to start, default all; the others are not
even imported), "trace" (print a line per telegram).
"""
import asyncio
import gc
import json
import os

import button
import config
import led
import netman
import ondemand
import safemode
import status
from hub import Hub
from p1reader import P1Reader
from supervisor import supervise

# (module, class): started when the module exists. The web server lives in
# http_server or webapi, whichever holds WebServer.
SERVICES = (
    ("modbus_tcp", "ModbusServer"),
    ("mqtt_publisher", "MqttPublisher"),
    ("http_server", "WebServer"),
    ("webapi", "WebServer"),
    ("raw_stream", "RawStream"),
    ("captive_dns", "CaptiveDns"),
)


def _mqtt_enabled(hub):
    return hub.config["MQTT"]["Enabled"]


def _ap_open(hub):
    return bool((hub.status.get("net") or {}).get("ap"))


# Services imported only once they are wanted, at boot or later, and kept from
# then on: MQTT once MQTT.Enabled (~10 KB of an ESP32's heap that many gateways
# never use), the captive-portal DNS once the access point opens (a gateway on
# its home network never does).
ON_DEMAND = {"mqtt_publisher": _mqtt_enabled, "captive_dns": _ap_open}
ON_DEMAND_POLL_MS = 2000

RESTART_DELAY_MS = 500  # lets the API's answer to a restart request reach the browser
WATCHDOG_MS = 30000   # a TLS handshake can hold the loop for seconds: keep slack
TICK_MS = 1000


def _trace(hub):
    from jsonw import fixed_text

    def show(what, detail):
        c = hub.counters
        head = "p1: valid=%d crc_mismatch=%d malformed=%d too_long=%d parse_error=%d" % (
            c["valid"], c["crc_mismatch"], c["malformed"], c["too_long"], c["parse_error"])
        if what == "valid":
            r = detail
            print("%s | %s W | L1 %s V %s A | L2 %s V %s A | L3 %s V %s A | import %s kWh" % (
                head, r["power_w"], r["voltage_l1_v"], r["current_l1_a"], r["voltage_l2_v"],
                r["current_l2_a"], r["voltage_l3_v"], r["current_l3_a"],
                None if r["energy_import"] is None else fixed_text(r["energy_import"], r["counter_decimals"])))
        elif what == "parse_error":
            print("%s | parse error: %s" % (head, detail))
        else:
            print("%s | %s" % (head, what))
    return show


def find_services(only=None, skip=()):
    """[(name, class)] for each service module present in the firmware (or in ``only``), but ``skip``."""
    found = []
    web = False
    for mod_name, cls_name in SERVICES:
        if (only is not None and mod_name not in only) or mod_name in skip or (web and cls_name == "WebServer"):
            continue
        try:
            mod = __import__(mod_name)
        except ImportError as e:
            if mod_name not in str(e):  # the module is there but something it needs is not
                print("app: cannot load %s: %s" % (mod_name, e))
            continue
        cls = getattr(mod, cls_name, None)
        if cls is not None:
            found.append(("%s.%s" % (mod_name, cls_name), cls))
            web = web or cls_name == "WebServer"
    return found


class App:
    """The running gateway: the hub, the hardware it drives and its tasks."""

    def __init__(self, hw, board, host=None):
        host = host or {}
        self.hw = hw
        self.board = board
        self.host = host
        self.hw_led = hw.Led(board)
        self.hw_led.set(255, 0, 0)  # booting: red until the tasks run
        self.wdt = hw.Watchdog(WATCHDOG_MS)
        state = hw.state_dir()
        self.boots = safemode.BootCounter(state)
        self.safe = self.boots.boot()  # True after a crash loop: AP and web page only
        # needed once: dropped again so its heap comes back
        self.identity = ondemand.call("identity", "load_or_create", state, hw.unique_id())
        self.config_path = config.path(state)
        cfg, err = config.load(self.config_path)
        if err:
            print("config: " + err)
        elif _differs_from_file(self.config_path, cfg):
            # An older file: store it with every field, so it reads like the API shows it.
            config.save(self.config_path, cfg)
            print("config: %s completed with defaults for the missing fields" % self.config_path)
        if host.get("config"):
            config.override(cfg, host["config"])
        self.hub = Hub(cfg, self.identity)
        self.net = netman.NetManager(hw.Net(board), self.hub, safe_mode=self.safe)
        # Hub extras the services read (until hub.py declares them).
        self.hub.bind = host.get("bind", "0.0.0.0")
        self.hub.config_path = self.config_path
        self.hub.netman = self.net  # pyright: ignore[reportAttributeAccessIssue]  (hub.py types it None)
        self.hub.restart = self.restart  # pyright: ignore[reportAttributeAccessIssue]
        self.button = button.Button(hw.Button(board))
        self.status = status.Status(self.hub, self.button)
        self.led = led.LedDriver(self.hw_led, self.status.state)
        self.hub.led = self.led  # pyright: ignore[reportAttributeAccessIssue]  (hub.py types it None)
        self.reader = None
        if not self.safe:
            gc.collect()  # the framer wants 4 KB in one piece
            self.reader = P1Reader(self.hub, hw.P1Port(board, cfg),
                                   log=_trace(self.hub) if host.get("trace") else None)

    def on_button(self, event):
        print("button: %s" % event)
        if event == button.FACTORY:
            # Config goes, identity stays: it is the sticker on the box.
            try:
                os.remove(self.config_path)
            except OSError:
                pass
            print("app: factory reset; config erased")
            self.boots.clean_reset()
            self.hw.reset()
        elif event == button.AP:
            self.net.request_ap()
        elif event == button.SHORT:
            self.net.request_reconnect()

    def restart(self):
        """Reboot in a moment (the API's answer goes out first); not counted as a crash."""
        async def later():
            await asyncio.sleep(RESTART_DELAY_MS / 1000)
            print("app: restart requested")
            self.boots.clean_reset()
            self.hw.reset()
        asyncio.create_task(later())

    async def run(self):
        hub = self.hub
        only = self.host.get("services")
        if self.reader is not None:
            asyncio.create_task(supervise("p1reader", self.reader.run))
        else:  # safe mode
            only = [m for m, _ in SERVICES if m in ("http_server", "webapi", "captive_dns")
                    and (only is None or m in only)]
        asyncio.create_task(self.boots.run())
        asyncio.create_task(supervise("netman", self.net.run))
        asyncio.create_task(supervise("led", self.led.run))
        asyncio.create_task(supervise("button", lambda: self.button.run(self.on_button)))
        later = [m for m, wanted in ON_DEMAND.items() if not wanted(hub) and (only is None or m in only)]
        if "mqtt_publisher" in later:
            hub.status["mqtt"] = {"enabled": False}  # what the page shows until it runs
        self._start(find_services(only, later))
        for mod_name in later:
            asyncio.create_task(self._start_when_wanted(mod_name, ON_DEMAND[mod_name]))
        self.status.booting = False
        await asyncio.sleep(0)  # let the services open their sockets first
        gc.collect()
        print("app: running (serial %s, %d bytes heap free)" % (self.identity["serial"], gc.mem_free()))  # type: ignore[attr-defined]
        device = hub.status["device"] = {}  # updated in place: no new dict every second
        while True:
            self.wdt.feed()
            device["state"] = self.status.state()
            device["uptime_s"] = hub.uptime_s()
            await asyncio.sleep(TICK_MS / 1000)

    def _start(self, services):
        """A supervised task for each (name, class) of ``services``."""
        hub = self.hub
        for name, cls in services:
            asyncio.create_task(supervise(name, lambda cls=cls: cls(hub).run()))
            print("app: started %s" % name)

    async def _start_when_wanted(self, mod_name, wanted):
        """Import and start ``mod_name`` once ``wanted(hub)`` is true."""
        hub = self.hub
        while not wanted(hub):
            await asyncio.sleep(ON_DEMAND_POLL_MS / 1000)
        gc.collect()
        self._start(find_services((mod_name,)))


def _differs_from_file(path, cfg):
    try:
        with open(path) as f:
            return json.load(f) != cfg
    except (OSError, ValueError):
        return True


def main(hw, board, host=None):
    """Boot the gateway and run it until reset."""
    asyncio.run(App(hw, board, host).run())
