"""The simulator end to end: the real firmware in the unix port, fed through its P1 "UART".

CPython only: starts tools/sim.py or host_tests/simctl.Sim as child processes.
"""
import base64
import http.client
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [HERE, os.path.join(ROOT, "firmware"), os.path.join(HERE, "shim")]
import config  # noqa: E402
from simctl import Sim  # noqa: E402

TELEGRAMS = os.path.join(HERE, "telegrams")
_TRACE = re.compile(r"p1: valid=(\d+) .*\| (-?[\d.]+) W ")


def _telegram(name):
    with open(os.path.join(TELEGRAMS, name), "rb") as f:
        return f.read()


class _SimProcess:
    """tools/sim.py as a child process, its output collected."""

    def __init__(self, args, state_dir):
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(ROOT, "tools", "sim.py"), "--state-dir", str(state_dir),
             "--services", ""] + args,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
        self.lines = []
        threading.Thread(target=self._collect, daemon=True).start()

    def _collect(self):
        for raw in self.proc.stdout:
            self.lines.append(raw.decode("utf-8", "replace"))

    def traces(self, n, timeout=20):
        """The first ``n`` telegram trace lines as (valid count, power W)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [(int(m.group(1)), float(m.group(2)))
                     for m in map(_TRACE.search, list(self.lines)) if m]
            if len(found) >= n:
                return found[:n]
            assert self.proc.poll() is None, "".join(self.lines)
            time.sleep(0.05)
        raise AssertionError("no %d telegrams:\n%s" % (n, "".join(self.lines)))

    def close(self):
        os.killpg(self.proc.pid, signal.SIGKILL)  # the launcher and its firmware child
        self.proc.wait()


@pytest.fixture
def sim_process(tmp_path):
    started = []

    def start(*args):
        p = _SimProcess(list(args), tmp_path / "state")
        started.append(p)
        return p
    yield start
    for p in started:
        p.close()


def test_sim_replays_a_file_through_the_uart_path(sim_process):
    p = sim_process("--meter", os.path.join(TELEGRAMS, "v5.p1"), "--interval", "0.1")
    seen = p.traces(3)
    assert [n for n, _ in seen] == [1, 2, 3]
    assert {w for _, w in seen} == {244.0}  # v5.p1: 0.244 kW


def test_sim_replays_a_folder_in_a_loop(sim_process, tmp_path):
    folder = tmp_path / "meter"
    folder.mkdir()
    shutil.copy(os.path.join(TELEGRAMS, "v5.p1"), folder / "a.p1")
    shutil.copy(os.path.join(TELEGRAMS, "v4_2.p1"), folder / "b.p1")
    p = sim_process("--meter", str(folder), "--interval", "0.1")
    powers = [w for _, w in p.traces(4)]
    assert powers[0] == powers[2] and powers[1] == powers[3]
    assert powers[0] != powers[1]


def test_simulated_meter_values_move(sim_process):
    p = sim_process("--interval", "0.2", "--seed", "7")
    powers = [w for _, w in p.traces(6)]
    assert len(set(powers)) > 1


def test_hand_corrupted_config_boots_with_defaults_and_says_so(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    (state / "config.json").write_text('{"MQTT": {"Site": "x"')
    with Sim(state, services=()) as sim:
        sim.feed(_telegram("v5.p1"))
        sim.wait_valid(1)
        out = sim.output()
    assert "config.json is not valid JSON; using defaults" in out
    # The bad file is left for the user to see; the next save replaces it.
    assert (state / "config.json").read_text() == '{"MQTT": {"Site": "x"'


def test_sim_ports_are_not_written_into_config_json(tmp_path):
    state = tmp_path / "state"
    with Sim(state, config={"MQTT": {"Site": "garage"}}, services=()) as sim:
        sim.wait_output("app: running")
    stored = json.loads((state / "config.json").read_text())
    assert stored["MQTT"]["Site"] == "garage"
    assert stored["Modbus"]["Port"] == 502 and stored["Http"]["Port"] == 80


def test_factory_reset_button_erases_config_and_keeps_identity(tmp_path):
    state = tmp_path / "state"
    with Sim(state, config={"MQTT": {"Site": "garage"}}, services=(), buttons=("factory@0.2",)) as sim:
        ident = sim.identity
        assert sim.proc.wait(30) == 3  # hw_host.reset(): the launcher would start it again
        assert "factory reset" in sim.output()
    assert not (state / "config.json").exists()
    assert json.loads((state / "identity.json").read_text()) == ident


def _api(sim, method, path, body=None):
    """(status, JSON) of one authenticated API call."""
    auth = "Basic " + base64.b64encode(("user:" + sim.identity["api_password"]).encode()).decode()
    c = http.client.HTTPConnection("127.0.0.1", sim.http_port, timeout=5)
    c.request(method, path, None if body is None else json.dumps(body),
              {"Authorization": auth, "Content-Type": "application/json"})
    r = c.getresponse()
    out = r.status, json.loads(r.read())
    c.close()
    return out


def test_restart_from_the_api_leaves_safe_mode(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    (state / "bootcount").write_text("3")  # three quick restarts in a row: this boot is safe mode
    with Sim(state, services=("webapi",)) as sim:
        assert _api(sim, "GET", "/api/v1/status")[1]["network"]["ap_reason"] == "safe"
        assert _api(sim, "POST", "/api/v1/reset", {"restart": "yes"}) == (
            400, {"error": "must be true or false", "field": "restart"})
        assert _api(sim, "POST", "/api/v1/reset", {"restart": True}) == (200, {"reset": "restarting"})
        assert sim.proc.wait(30) == 3  # hw_host.reset(): the launcher would start it again
        assert "app: restart requested" in sim.output()
    assert (state / "bootcount").read_text().strip() == "0"  # an asked-for restart is no crash
    with Sim(state, services=("webapi",)) as sim:
        assert _api(sim, "GET", "/api/v1/status")[1]["network"]["ap_reason"] != "safe"


def _patch_forever(port, password, stop):
    auth = "Basic " + base64.b64encode(("user:" + password).encode()).decode()
    pem = "-----BEGIN CERTIFICATE-----\n" + "A" * 3000 + "\n-----END CERTIFICATE-----\n"
    i = 0
    while not stop.is_set():
        i += 1
        body = json.dumps({"MQTT": {"Site": "site-%d" % i, "CaCert": pem if i % 2 else ""}})
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("PATCH", "/api/v1/config", body, {"Authorization": auth,
                                                        "Content-Type": "application/json"})
            c.getresponse().read()
            c.close()
        except OSError:
            time.sleep(0.01)


def test_kill_9_during_config_saves_never_leaves_a_corrupt_file(tmp_path):
    state = tmp_path / "state"
    rng = random.Random(1)
    sites = set()
    for _ in range(8):
        with Sim(state, services=("webapi",)) as sim:
            stop = threading.Event()
            t = threading.Thread(target=_patch_forever,
                                 args=(sim.http_port, sim.identity["api_password"], stop))
            t.start()
            time.sleep(0.3 + rng.random() * 0.7)
            sim.kill()
            stop.set()
            t.join()
        cfg, err = config.load(str(state / "config.json"))
        assert err is None, err
        sites.add(cfg["MQTT"]["Site"])
    assert len(sites) > 1  # saves really happened between the kills
