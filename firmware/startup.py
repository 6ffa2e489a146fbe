"""The gateway's boot: config, identity, safe mode, the hub, the drivers and the tasks, once.

``app.boot_and_run`` awaits ``start(...)`` through ``ondemand.once``: this module is
dropped after it, while the modules it imported stay (the objects built here
use them). Nothing defined here may outlive the call: a closure or coroutine
of this module handed to a task would hold the whole module.
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
import status
from app import ON_DEMAND, SERVICES, App, find_services, start as start_services
from hub import Hub
from p1reader import P1Reader
from supervisor import supervise

WATCHDOG_MS = 30000   # a TLS handshake can hold the loop for seconds: keep slack


def _differs_from_file(path, cfg):
    try:
        with open(path) as f:
            return json.load(f) != cfg
    except (OSError, ValueError):
        return True


def _load_config(path, host):
    cfg, err = config.load(path)
    if err:
        print("config: " + err)
    elif _differs_from_file(path, cfg):
        # An older file: store it with every field, so it reads like the API shows it.
        config.save(path, cfg)
        print("config: %s completed with defaults for the missing fields" % path)
    if host.get("config"):
        config.override(cfg, host["config"])
    return cfg


async def start(hw, board, host):
    """Build the gateway, start its tasks and return it (``app.App``: its main loop is ``run``)."""
    hw_led = hw.Led(board)
    hw_led.set(255, 0, 0)  # booting: red until the tasks run
    wdt = hw.Watchdog(WATCHDOG_MS)
    state = hw.state_dir()
    safe = ondemand.call("safemode", "boot", state)  # True after a crash loop: AP and web page only
    identity = ondemand.call("identity", "load_or_create", state, hw.unique_id())
    config_path = config.path(state)
    cfg = _load_config(config_path, host)
    hub = Hub(cfg, identity)
    net = netman.NetManager(hw.Net(board), hub, safe_mode=safe)
    btn = button.Button(hw.Button(board))
    st = status.Status(hub, btn)
    only = host.get("services")
    if safe:
        only = [m for m, _ in SERVICES if m in ("http_server", "webapi", "captive_dns")
                and (only is None or m in only)]
    later = [m for m, wanted in ON_DEMAND.items() if not wanted(hub) and (only is None or m in only)]
    app = App(hw, hub, net, btn, st, wdt, state, later)
    # Hub extras the services read (until hub.py declares them).
    hub.bind = host.get("bind", "0.0.0.0")
    hub.config_path = config_path
    hub.netman = net  # pyright: ignore[reportAttributeAccessIssue]  (hub.py types it None)
    hub.restart = app.restart  # pyright: ignore[reportAttributeAccessIssue]
    hub.led = led.LedDriver(hw_led, st.state)  # pyright: ignore[reportAttributeAccessIssue]  (hub.py types it None)
    if not safe:
        gc.collect()  # the framer wants 4 KB in one piece
        trace = host.get("trace")
        reader = P1Reader(hub, hw.P1Port(board, cfg), log=trace(hub) if trace else None)
        asyncio.create_task(supervise("p1reader", reader.run))
    asyncio.create_task(supervise("netman", net.run))
    asyncio.create_task(supervise("button", app.run_button))  # and the LED: one task
    if "mqtt_publisher" in later:
        hub.status["mqtt"] = {"enabled": False}  # what the page shows until it runs
    start_services(hub, find_services(only, later))
    st.booting = False
    await asyncio.sleep(0)  # let the services open their sockets first
    try:
        os.stat(config_path.rsplit("config.json", 1)[0] + "ota.json")
        updated = True
    except OSError:
        updated = False
    if updated:  # record a rollback, or put the new firmware on probation
        probation = ondemand.call("ota", "after_boot", hub, host.get("probation_s"))
        if probation is not None:
            asyncio.create_task(probation)
    return app
