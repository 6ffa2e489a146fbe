"""The gateway application: what keeps running once it has booted.

``main(hw, board)`` is all a device needs (see main.py); ``hw`` is the hardware
module (hw_esp32 or hw_host). The boot (config, identity, safe mode, the hub,
the drivers and the services' tasks) runs once, from ``startup.py``, loaded for
it and dropped: what stays here is the main loop, which feeds the watchdog (a
wedged event loop resets the device), clears the boot counter after a stable
run, and starts the services wanted later; the button's actions; the restart.
Each service present in the firmware is built as ``Service(hub)`` and its
``run()`` becomes a supervised task: a crash is logged and that service alone
starts again after a back-off.

Host runs pass ``host``, a dict with any of: "config" (dotted field -> value,
runtime only, e.g. the simulator's ports), "bind" (listen address, default
0.0.0.0), "services" (module names to start, default all; the others are not
even imported), "trace" (a function of the hub giving the P1 reader's log:
a line per telegram), "probation_s" (an updated firmware's probation).
"""
import asyncio
import gc
import os

import button
import ondemand
from clock import sleep_ms
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


# Services imported only once they are wanted, at boot or later (the main loop
# looks every second), and kept from then on: MQTT once MQTT.Enabled (~10 KB of
# an ESP32's heap that many gateways never use), the captive-portal DNS once the
# access point opens (a gateway on its home network never does).
ON_DEMAND = {"mqtt_publisher": _mqtt_enabled, "captive_dns": _ap_open}

RESTART_DELAY_MS = 500  # lets the API's answer to a restart request reach the browser
TICK_MS = 1000
STABLE_S = 300          # a boot that ran this long was no crash: the boot counter clears (safemode.py)


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


def start(hub, services):
    """A supervised task for each (name, class) of ``services``."""
    for name, cls in services:
        asyncio.create_task(supervise(name, lambda cls=cls: cls(hub).run()))
        print("app: started %s" % name)


class App:
    """The running gateway: the hub and what the main loop and the button drive (built by startup.py)."""

    def __init__(self, hw, hub, net, button, status, wdt, state, later):
        self.hw = hw
        self.hub = hub
        self.net = net          # netman.NetManager
        self.button = button    # button.Button
        self.status = status    # status.Status
        self.wdt = wdt
        self.state = state      # the state directory (config.json, bootcount)
        self.later = later      # ON_DEMAND modules not started yet

    def _reset(self):
        try:
            ondemand.call("safemode", "clear", self.state)  # intentional: not counted as a crash
        finally:
            self.hw.reset()  # even with no heap left to load safemode

    def on_button(self, event):
        print("button: %s" % event)
        if event == button.FACTORY:
            # Config goes, identity stays: it is the sticker on the box.
            try:
                os.remove(self.hub.config_path)
            except OSError:
                pass
            print("app: factory reset; config erased")
            self._reset()
        elif event == button.AP:
            self.net.request_ap()
        elif event == button.SHORT:
            self.net.request_reconnect()

    def run_button(self):
        """The button's poll, which steps the LED too."""
        return self.button.run(self.on_button, each=self.hub.led.step)

    def restart(self):
        """Reboot in a moment (the API's answer goes out first); not counted as a crash."""
        async def later():
            await sleep_ms(RESTART_DELAY_MS)
            print("app: restart requested")
            self._reset()
        asyncio.create_task(later())

    async def run(self):
        hub = self.hub
        later = self.later
        gc.collect()
        print("app: running (serial %s, %d bytes heap free)" % (hub.identity["serial"], gc.mem_free()))  # type: ignore[attr-defined]
        device = hub.status["device"] = {}  # updated in place: no new dict every second
        stable = False
        while True:
            self.wdt.feed()
            device["state"] = self.status.state()
            up = device["uptime_s"] = hub.uptime_s()
            # What this loop loads must not end it (no watchdog feed, a reset): a full
            # heap leaves it for the next turn.
            try:
                if not stable and up >= STABLE_S:
                    ondemand.call("safemode", "clear", self.state)
                    stable = True
                for mod_name in later:
                    if ON_DEMAND[mod_name](hub):
                        gc.collect()
                        start(hub, find_services((mod_name,)))
                        later.remove(mod_name)
                        break
            except MemoryError:
                print("app: no heap for a step of the main loop; trying again")
            await sleep_ms(TICK_MS)


async def boot_and_run(hw, board, host=None):
    """Boot the gateway (startup.py, dropped after), then run it until reset."""
    gateway = await ondemand.once("startup", "start", hw, board, host or {})
    await gateway.run()


def main(hw, board, host=None):
    asyncio.run(boot_and_run(hw, board, host))
