"""Firmware update over the network against the real firmware in the sim: real HTTP, real restarts.

The sim runs the p1gw image from its simulated flash (tools/sim.py plays the
bootloader): this build (0.1.0, "A") in ota_0. "B" is ``make sim-image
VERSION=9.9.9``: the same firmware with another version frozen in, in the
container a device's .app.bin has. Broken images are made here with
tools/esp32_image.py. Probation is 3 s instead of the device's 60 (``--probation``).
"""
import base64
import contextlib
import hashlib
import http.client
import json
import os
import socket
import struct
import sys
import threading
import time

import pytest

from simctl import Sim
from telegram_edit import v5_telegram

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import esp32_image  # noqa: E402
import ota_update  # noqa: E402
import sim as sim_tool  # noqa: E402

A = esp32_image.firmware_version()
B = "9.9.9"
PROBATION_S = 3


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    d = tmp_path_factory.mktemp("images")
    sim_tool.write_sim_image(B, str(d / "b.bin"))
    b = (d / "b.bin").read_bytes()
    desc = esp32_image.app_desc(esp32_image.version_record(B, sim_tool.BOARD))
    # A firmware that dies at once, as an app that panics at boot does.
    panic = b"#!/bin/sh\necho 'Guru Meditation Error: Core 0 panic'ed at boot'\nkill -SEGV $$\n"
    return {"b": b,
            "crash": esp32_image.app_image("esp32", desc, panic + b" " * (-len(panic) % 4)),
            "c3": esp32_image.app_image("esp32c3", desc, b[300:4000]),
            "old": esp32_image.app_image("esp32", esp32_image.app_desc(esp32_image.version_record("0.0.1", "sim")),
                                         b[300:4000]),
            "other_board": esp32_image.app_image(
                "esp32", esp32_image.app_desc(esp32_image.version_record(B, "wt32_eth01")), b[300:4000])}


class Meter:
    """A DSMR 5 meter on the sim's P1 line, a telegram every 0.5 s, through restarts."""

    def __init__(self, sim):
        self.sim = sim
        self.stop = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while not self.stop.is_set():
            try:
                self.sim.feed(v5_telegram())
            except (OSError, AssertionError, AttributeError):
                pass  # restarting
            self.stop.wait(0.5)


@contextlib.contextmanager
def gateway(tmp_path, **kw):
    """The p1gw image from the sim's flash, its meter sending; killed (a power cut) at the end."""
    sim = Sim(tmp_path, flash=True, probation=PROBATION_S, **kw).start()
    sim.meter = Meter(sim)
    try:
        sim.wait_valid(1)
        yield sim
    finally:
        sim.meter.stop.set()
        sim.kill()


def auth(sim):
    return "Basic " + base64.b64encode(("user:" + sim.identity["api_password"]).encode()).decode()


def post(sim, data, sha=None, query="", content_type="application/octet-stream", with_auth=True):
    """POST /api/v1/firmware: (status, JSON)."""
    conn = http.client.HTTPConnection("127.0.0.1", sim.http_port, timeout=30)
    headers = {"Content-Type": content_type}
    if with_auth:
        headers["Authorization"] = auth(sim)
    path = "/api/v1/firmware?sha256=%s%s" % (sha or hashlib.sha256(data).hexdigest(), query)
    try:
        conn.request("POST", path, data, headers)
        r = conn.getresponse()
        return r.status, json.loads(r.read())
    finally:
        conn.close()


def firmware(sim):
    """GET /api/v1/firmware; a 503 "busy" (refused uploads still draining) is retried, as it asks."""
    for _ in range(20):
        conn = http.client.HTTPConnection("127.0.0.1", sim.http_port, timeout=10)
        try:
            conn.request("GET", "/api/v1/firmware", headers={"Authorization": auth(sim)})
            r = conn.getresponse()
            body = r.read()
        finally:
            conn.close()
        if r.status != 503:
            break
        time.sleep(0.5)
    assert r.status == 200, body
    return json.loads(body)


def start_upload(sim, data, fraction):
    """A raw upload that has sent ``fraction`` of ``data`` and stays open: the socket."""
    s = socket.create_connection(("127.0.0.1", sim.http_port), 10)
    s.sendall(("POST /api/v1/firmware?sha256=%s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: %s\r\n"
               "Content-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n"
               % (hashlib.sha256(data).hexdigest(), auth(sim), len(data))).encode())
    s.sendall(data[:int(len(data) * fraction)])
    return s


def wait_for(cond, timeout=20, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if cond():
                return
        except (OSError, http.client.HTTPException):
            pass  # restarting
        time.sleep(0.2)
    raise AssertionError("timed out waiting for " + what)


def assert_a_runs_and_nothing_else_boots(sim):
    fw = firmware(sim)
    assert (fw["version"], fw["slot"]) == (A, "ota_0")
    assert fw["other_slot"] == {"slot": "ota_1", "version": None}
    # What the bootloader would find: otadata blank (ota_0 boots) and no image in ota_1.
    assert sim_tool.otadata(sim.state_dir) is None
    try:
        with open(os.path.join(sim_tool.flash_dir(sim.state_dir), "ota_1"), "rb") as f:
            slot = f.read()
    except FileNotFoundError:
        return
    with pytest.raises(esp32_image.ImageError):
        esp32_image.app_segments(slot, exact=False)


class Modbus:
    """A charger reading the EMPro block every 10 ms; latencies of the answers with data."""

    def __init__(self, port):
        self.port = port
        self.latencies = []
        self.failures = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        with socket.create_connection(("127.0.0.1", self.port), 5) as s:
            tid = 0
            while not self.stop.is_set():
                tid = (tid + 1) & 0xFFFF
                t = time.monotonic()
                s.sendall(struct.pack(">HHHBBHH", tid, 0, 6, 1, 3, 0x8000, 16))
                answer = b""
                while len(answer) < 9 + 32:
                    chunk = s.recv(256)
                    if not chunk:
                        self.failures.append("closed")
                        return
                    answer += chunk
                if answer[7] != 3:
                    self.failures.append(answer[7:9].hex())
                else:
                    self.latencies.append((time.monotonic() - t) * 1000)
                self.stop.wait(0.01)


# --- the update, and the rollbacks ---------------------------------------------------

def test_update_a_to_b_with_make_ota_modbus_served_throughout(tmp_path, images):
    with gateway(tmp_path) as sim:
        charger = Modbus(sim.modbus_port)
        time.sleep(0.5)
        before = len(charger.latencies)
        data, info = images["b"], esp32_image.read_image(images["b"])
        log = []
        done = threading.Event()
        result = []
        def send():
            try:
                result.append(ota_update.update("127.0.0.1:%d" % sim.http_port, data, info,
                                                sim.identity["api_password"], follow_s=60, log=log.append))
            except SystemExit as e:  # refused: the tool's one line
                log.append(str(e))
            done.set()
        t = threading.Thread(target=send)
        t.start()
        wait_for(lambda: any("accepted" in line for line in log) or done.is_set(), 30, "the upload to be accepted")
        assert any("accepted" in line for line in log), (log, sim.output()[-3000:])
        charger.stop.set()
        charger.thread.join(5)
        during = charger.latencies[before:]
        assert not charger.failures and during, charger.failures
        during.sort()
        print("\nModbus during the upload: %d reads, p50 %.1f ms, max %.1f ms"
              % (len(during), during[len(during) // 2], during[-1]))
        t.join(60)
        assert result == [True], log
        fw = firmware(sim)
        assert (fw["version"], fw["slot"], fw["last"]["outcome"]) == (B, "ota_1", "ok")
        assert fw["other_slot"] == {"slot": "ota_0", "version": A}
        assert sim_tool.otadata(sim.state_dir)["state"] == "valid"
        assert "ota: %s passed its probation: marked valid" % B in sim.output()
        sim.wait_valid(sim.valid_count() + 1)  # B reads the meter
        # B stays after a power cut: it is valid now.
        sim.kill()
        sim.start()
        assert firmware(sim)["version"] == B


def test_b_that_crashes_at_boot_is_rolled_back(tmp_path, images):
    with gateway(tmp_path) as sim:
        assert post(sim, images["crash"]) == (200, {"result": "restarting", "version": B, "slot": "ota_1"})
        sim.wait_running(2, 30)
        fw = firmware(sim)
        assert (fw["version"], fw["slot"]) == (A, "ota_0")
        assert fw["last"]["outcome"] == "rolled_back"
        assert fw["last"]["reason"] == "%s was rolled back: it did not start (crashed at boot)" % B
        assert "bootloader: ota_1 restarted without marking itself valid: rolling back to ota_0" in sim.output()


def test_b_that_never_gets_healthy_is_rolled_back(tmp_path, images):
    with gateway(tmp_path) as sim:
        assert post(sim, images["b"])[0] == 200
        sim.meter.stop.set()  # from now on B reads nothing from the meter A was reading
        sim.wait_running(2, 30)
        sim.wait_output("ota: %s on probation" % B, 20)
        sim.wait_running(3, 30)   # B's probation failed: restart, rollback
        fw = firmware(sim)
        assert (fw["version"], fw["slot"], fw["last"]["outcome"]) == (A, "ota_0", "rolled_back")
        assert fw["last"]["reason"] == "%s was rolled back: not healthy after %d s: no telegram parsed from the meter" % (
            B, PROBATION_S)
        assert fw["other_slot"]["version"] == B  # still there, never to boot again by itself
        assert sim_tool.otadata(sim.state_dir)["slot"] == "ota_0"


# --- refusals: the right status, A runs, nothing bootable ----------------------------

@pytest.fixture(scope="module")
def gw(tmp_path_factory):
    with gateway(tmp_path_factory.mktemp("refusals")) as sim:
        yield sim


@pytest.mark.parametrize("case, expect", [
    ("wrong sha256", (400, "sha256")),
    ("other chip", (400, "chip")),
    ("other board", (400, "board")),
    ("not an image", (400, "image")),
    ("older version", (400, "version")),
    ("sha256 missing", (400, "sha256")),
    ("no auth", (401, None)),
    ("form-encoded", (415, None)),
])
def test_refused(gw, images, case, expect):
    b = images["b"]
    kw = {}
    data = b
    if case == "wrong sha256":
        kw["sha"] = hashlib.sha256(b + b"x").hexdigest()
    elif case == "other chip":
        data = images["c3"]
    elif case == "other board":
        data = images["other_board"]
    elif case == "not an image":
        data = b"<html>not firmware</html>\n" * 200
    elif case == "older version":
        data = images["old"]
    elif case == "sha256 missing":
        kw["sha"] = "nope"
    elif case == "no auth":
        kw["with_auth"] = False
    elif case == "form-encoded":
        kw["content_type"] = "application/x-www-form-urlencoded"
    status, body = post(gw, data, **kw)
    assert (status, body.get("field")) == expect, body
    assert body["error"]
    assert_a_runs_and_nothing_else_boots(gw)
    if status == 400 and case not in ("sha256 missing",):
        last = firmware(gw)["last"]
        assert last["outcome"] == "rejected" and last["reason"] == body["error"]


def test_wrong_sha256_names_both(gw, images):
    status, body = post(gw, images["b"], sha="0" * 64)
    assert status == 400 and hashlib.sha256(images["b"]).hexdigest() in body["error"] and "0" * 64 in body["error"]


def test_truncated_upload_leaves_only_a_counter(gw, images):
    cut = firmware(gw)["cut_off"]
    last = firmware(gw)["last"]
    s = start_upload(gw, images["b"], 0.3)
    wait_for(lambda: (firmware(gw)["last"] or {}).get("bytes", 0) > 0, 10, "the upload to be in progress")
    s.close()
    wait_for(lambda: firmware(gw)["cut_off"] == cut + 1, 15, "the cut-off to be counted")
    assert firmware(gw)["last"] == last
    assert_a_runs_and_nothing_else_boots(gw)
    assert "ota: upload cut off after" in gw.output()


def test_second_upload_at_once_gets_409(gw, images):
    first = start_upload(gw, images["b"], 0.1)
    try:
        wait_for(lambda: (firmware(gw)["last"] or {}).get("outcome") == "in_progress", 10, "the first upload")
        progress = firmware(gw)["last"]
        assert progress["bytes"] > 0 and progress["total"] == len(images["b"]) and progress["version"] == B
        status, body = post(gw, images["b"])
        assert status == 409 and "already running" in body["error"]
    finally:
        first.close()
    wait_for(lambda: firmware(gw)["last"] is None or firmware(gw)["last"]["outcome"] != "in_progress", 15,
             "the first upload to end")
    assert_a_runs_and_nothing_else_boots(gw)


def test_kill_9_during_the_upload_boots_a_again(tmp_path, images):
    with gateway(tmp_path) as sim:
        s = start_upload(sim, images["b"], 0.5)
        wait_for(lambda: (firmware(sim)["last"] or {}).get("bytes", 0) > 0, 10, "the upload to be in progress")
        sim.kill()
        s.close()
        sim.start()
        assert_a_runs_and_nothing_else_boots(sim)
        assert firmware(sim)["last"] is None


def test_stock_layout_answers_501(tmp_path, images):
    with Sim(tmp_path, layout="stock", services=("webapi",)) as sim:
        status, body = post(sim, images["b"])
        assert status == 501 and "make deploy" in body["error"]
        assert firmware(sim)["updates"] is False


# --- the page's update form in headless Chromium ---------------------------------------

def test_page_update_form_shows_progress_restart_and_the_new_version(tmp_path, images):
    pytest.importorskip("selenium")
    from selenium.webdriver.common.by import By
    from test_page_chromium import chromium, shot

    path = tmp_path / ("p1gw-sim-%s.app.bin" % B)
    path.write_bytes(images["b"])
    with gateway(tmp_path / "state") as sim, chromium(sim) as driver:
        text = lambda css: driver.find_element(By.CSS_SELECTOR, css).text  # noqa: E731
        wait_for(lambda: text("#fw-run").startswith(A + " · slot ota_0"), 10, "the running version")
        assert text("#fw-other") == "empty" and text("#fw-last") == "none yet"
        # Every message the form shows, in order.
        driver.execute_script("""window.fwLog = []; new MutationObserver(function () {
            fwLog.push(document.getElementById('fw-msg').textContent); })
            .observe(document.getElementById('fw-msg'), {childList: true, characterData: true, subtree: true});""")
        driver.find_element(By.ID, "fw-file").send_keys(str(path))
        driver.find_element(By.CSS_SELECTOR, "#f-fw button").click()
        wait_for(lambda: "Updated: %s runs" % B in text("#fw-msg"), 60, "the page to show the new version")
        log = driver.execute_script("return window.fwLog")
        assert any(m.startswith("Uploading… ") for m in log), log
        assert "Restarting… into %s" % B in log, log
        assert driver.find_element(By.ID, "fw-prog").get_attribute("value") == "100"
        wait_for(lambda: text("#fw-run").startswith(B + " · slot ota_1"), 10, "the new version in the list")
        assert text("#fw-other") == A and text("#fw-last").startswith("ok (%s)" % B)
        driver.execute_script("document.getElementById('firmware').scrollIntoView()")
        shot(driver, "firmware", full=False)
