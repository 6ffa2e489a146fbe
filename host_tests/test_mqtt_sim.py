"""MQTT publishing of the real firmware (unix port) to a real mosquitto started here.

The test plays the meter through simctl, subscribes with paho-mqtt on a plain
listener of the same broker and checks topics, every payload field against
dsmr.parse of what it sent, availability and last will, Home Assistant
discovery, password auth, TLS (a CA made here with openssl) and mTLS, recovery
after a broker restart, and that a broker that never answers CONNECT does not
hold up Modbus (latencies printed, not asserted).
"""
import base64
import json
import os
import statistics
import subprocess
import threading
import time
import urllib.request

import paho.mqtt.client as paho
import pytest
from pymodbus.client import ModbusTcpClient

import dsmr
from telegram_edit import read as telegram, v5_telegram
from simctl import Broker, Sim
import meter_sim  # tools/, on the path through simctl

HERE = os.path.dirname(os.path.abspath(__file__))


INSTANT = ("power_w", "power_import_w", "power_export_w", "power_l1_w", "power_l2_w", "power_l3_w",
           "voltage_l1_v", "voltage_l2_v", "voltage_l3_v", "current_l1_a", "current_l2_a",
           "current_l3_a", "frequency_hz", "tariff", "average_power_15m_w")


def v5_with_power_l1(kw):
    """v5.p1 with another L1 power: telegrams a subscriber can tell apart."""
    return v5_telegram(power_l1_kw=kw)


class Subscriber:
    """paho-mqtt subscribed to '#' on the broker's plain listener; keeps (topic, payload, retain)."""

    def __init__(self, port):
        self.messages = []
        self._lock = threading.Lock()
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="test-%d" % os.getpid())
        self.client.on_message = self._on_message
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe("#")
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _on_message(self, client, userdata, msg):
        with self._lock:
            self.messages.append((msg.topic, msg.payload, bool(msg.retain)))

    def on(self, topic):
        with self._lock:
            return [(p, r) for t, p, r in self.messages if t == topic]

    def wait(self, topic, n=1, timeout=20, sim=None):
        deadline = time.monotonic() + timeout
        while len(self.on(topic)) < n:
            assert time.monotonic() < deadline, "timed out waiting for %d message(s) on %s; got %r\n%s" % (
                n, topic, self.messages[-5:], sim.output() if sim else "")
            time.sleep(0.05)
        return self.on(topic)

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def broker(tmp_path):
    b = Broker(tmp_path)
    yield b
    b.stop()


@pytest.fixture
def sub(broker):
    s = Subscriber(broker.port)
    yield s
    s.close()


def topics(sim, site="home"):
    base = "devices/%s/smart-connect/%s/" % (site, sim.identity["serial"])
    return base + "data", base + "status"


def gateway(tmp_path, url, **mqtt):
    cfg = {"Site": "home"}
    cfg.update(mqtt)
    return Sim(tmp_path / "state", config={"MQTT": cfg}, mqtt=url)


def api(sim, path, method="GET", body=None):
    """Call the web API with the device's own API password; the JSON answer."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (sim.http_port, path), data, method=method)
    token = base64.b64encode(("user:%s" % sim.identity["api_password"]).encode()).decode()
    req.add_header("Authorization", "Basic " + token)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.loads(r.read())


def api_status(sim):
    """GET /api/v1/status."""
    return api(sim, "/api/v1/status")


def feed_and_wait(sim, sub, topic, raw, n):
    sim.feed(raw)
    sim.wait_valid(n)
    return sub.wait(topic, n, sim=sim)


TOTALS = ("energy_import_kwh", "energy_export_kwh", "energy_import_t1_kwh", "energy_import_t2_kwh",
          "energy_export_t1_kwh", "energy_export_t2_kwh", "gas_m3", "water_m3", "heat_gj")


def published(reading):
    """The reading as the payload names it: counters (exact ints) as Decimals in their unit."""
    from decimal import Decimal
    from reading import TOTAL_FIELDS, TOTAL_NAMES
    out = dict(reading)
    for field, name in zip(TOTAL_FIELDS, TOTAL_NAMES):
        v = reading[field]
        out[name] = None if v is None else Decimal(v).scaleb(-reading["counter_decimals"])
    return out


def check_fields(payload, raw, fields=INSTANT):
    expected = published(dsmr.parse(raw))
    for f in fields:
        assert f in payload, f
        if expected[f] is None:
            assert payload[f] is None, f
        elif f in TOTALS:
            assert payload[f] == float(expected[f]), f  # the meter's digits, read as a float here
        else:
            assert payload[f] == pytest.approx(expected[f], rel=1e-6), f
    assert payload["timestamp"] == expected["timestamp"]


def test_one_message_per_telegram_with_every_field(tmp_path, broker, sub):
    raw = telegram("v5.p1")
    with gateway(tmp_path, broker.url()) as sim:
        data, _ = topics(sim)
        for n in (1, 2, 3):
            feed_and_wait(sim, sub, data, raw, n)
        time.sleep(1)  # room for a duplicate to show up
        msgs = sub.on(data)
        assert len(msgs) == 3
        for body, retained in msgs:
            p = json.loads(body)
            assert not retained
            assert sorted(p) == sorted(INSTANT + ("timestamp",))
            check_fields(p, raw)


def test_enabled_by_the_api_publishes_without_a_restart(tmp_path, broker, sub):
    # Disabled at boot, the publisher is not even loaded; a PATCH must bring it up.
    with Sim(tmp_path / "state", config={"MQTT": {"Site": "home"}}) as sim:
        data, _ = topics(sim)
        assert api_status(sim)["mqtt"]["enabled"] is False
        answer = api(sim, "/api/v1/config", "PATCH", {"MQTT": {"Enabled": True, "Broker": broker.url()}})
        assert answer["saved"] is True
        sim.wait_output("mqtt: connected", 20)
        feed_and_wait(sim, sub, data, telegram("v5.p1"), 1)
        assert api_status(sim)["mqtt"]["connected"] is True


def test_rate_limit_sends_the_newest_reading(tmp_path, broker, sub):
    with gateway(tmp_path, broker.url(), MinIntervalS=2) as sim:
        data, _ = topics(sim)
        n = 8
        for i in range(1, n + 1):
            sim.feed(v5_with_power_l1(i / 1000))  # L1 = i W
            sim.wait_valid(i)
            time.sleep(0.4)
        sub.wait(data, 1)
        deadline = time.monotonic() + 10
        while json.loads(sub.on(data)[-1][0])["power_l1_w"] != n:
            assert time.monotonic() < deadline, "the newest reading was never sent: %r" % sub.on(data)
            time.sleep(0.1)
        time.sleep(2.5)  # a whole interval more: nothing new to send
        sent = [json.loads(p)["power_l1_w"] for p, _ in sub.on(data)]
        assert 1 < len(sent) < n, sent
        assert sent == sorted(sent) and sent[-1] == n, sent
        assert len(set(sent)) == len(sent), sent  # each reading at most once


def test_dsmr4_fields_it_lacks_are_null(tmp_path, broker, sub):
    raw = telegram("v4_2.p1")
    with gateway(tmp_path, broker.url()) as sim:
        data, _ = topics(sim)
        p = json.loads(feed_and_wait(sim, sub, data, raw, 1)[0][0])
        for f in ("voltage_l1_v", "voltage_l2_v", "voltage_l3_v", "frequency_hz", "average_power_15m_w"):
            assert f in p and p[f] is None, f
        check_fields(p, raw)


def test_totals_when_enabled(tmp_path, broker, sub):
    raw = telegram("fluvius_v171.p1")
    with gateway(tmp_path, broker.url(), IncludeTotals=True) as sim:
        data, _ = topics(sim)
        body = feed_and_wait(sim, sub, data, raw, 1)[0][0]
        p = json.loads(body)
        check_fields(p, raw, INSTANT + TOTALS)
        assert p["average_power_15m_w"] == 2351.0
        # exactly the meter's digits, as numbers, from the 32-bit single-float build
        assert b'"water_m3":872.234,' in body and b'"energy_import_t2_kwh":15.758,' in body


def test_retained_online_then_last_will_on_kill(tmp_path, broker, sub):
    with gateway(tmp_path, broker.url()) as sim:
        _, status = topics(sim)
        sub.wait(status, 1)
        late = Subscriber(broker.port)  # a newcomer gets the retained state
        try:
            assert late.wait(status, 1)[0] == (b"online", True)
        finally:
            late.close()
        sim.kill()
        msgs = sub.wait(status, 2)
        assert msgs[-1][0] == b"offline"
    late = Subscriber(broker.port)
    try:
        assert late.wait(status, 1)[0] == (b"offline", True)
    finally:
        late.close()


def test_home_assistant_discovery_for_fields_the_meter_sends(tmp_path, broker, sub):
    raw = telegram("v4_2.p1")
    with gateway(tmp_path, broker.url(), HomeAssistant=True, IncludeTotals=True) as sim:
        data, status = topics(sim)
        feed_and_wait(sim, sub, data, raw, 1)
        node = "p1gw_" + sim.identity["serial"]
        prefix = "homeassistant/sensor/%s/" % node
        late = Subscriber(broker.port)  # sees what the broker retained, with the retain flag
        try:
            late.wait(prefix + "power_w/config", 1)
            time.sleep(0.5)
            with late._lock:
                configs = {t[len(prefix):-len("/config")]: (json.loads(p), r)
                           for t, p, r in late.messages if t.startswith(prefix)}
        finally:
            late.close()
        reading = published(dsmr.parse(raw))
        assert sorted(configs) == sorted(f for f in INSTANT + TOTALS if reading[f] is not None)
        assert "voltage_l1_v" not in configs  # a DSMR 4 meter has no voltages
        for field, (c, retained) in configs.items():
            assert retained
            assert c["state_topic"] == data and c["availability_topic"] == status
            assert c["value_template"] == "{{ value_json.%s }}" % field
            assert c["device"]["identifiers"] == [node]
        p, _ = configs["power_w"]
        assert (p["device_class"], p["unit_of_measurement"], p["state_class"]) == ("power", "W", "measurement")
        e, _ = configs["energy_import_kwh"]
        assert (e["device_class"], e["unit_of_measurement"], e["state_class"]) == (
            "energy", "kWh", "total_increasing")
        g, _ = configs["gas_m3"]
        assert (g["device_class"], g["state_class"]) == ("gas", "total_increasing")


def test_home_assistant_sensors_no_longer_sent_are_removed(tmp_path, broker, sub):
    raw = telegram("v4_2.p1")
    with gateway(tmp_path, broker.url(), HomeAssistant=True, IncludeTotals=True) as sim:
        data, _ = topics(sim)
        prefix = "homeassistant/sensor/p1gw_%s/" % sim.identity["serial"]
        feed_and_wait(sim, sub, data, raw, 1)
        sub.wait(prefix + "energy_import_kwh/config", 1)
        api(sim, "/api/v1/config", "PATCH", {"MQTT": {"IncludeTotals": False}})
        # An empty retained config makes Home Assistant drop the sensor.
        assert sub.wait(prefix + "energy_import_kwh/config", 2, sim=sim)[-1][0] == b""
        assert sub.on(prefix + "power_w/config")[-1][0] != b""
        api(sim, "/api/v1/config", "PATCH", {"MQTT": {"HomeAssistant": False}})
        assert sub.wait(prefix + "power_w/config", 2, sim=sim)[-1][0] == b""


def test_a_setting_changed_while_rate_limited_applies_at_once(tmp_path, broker, sub):
    with gateway(tmp_path, broker.url(), MinIntervalS=3600) as sim:
        data, _ = topics(sim)
        feed_and_wait(sim, sub, data, telegram("v5.p1"), 1)
        sim.feed(telegram("v5.p1"))  # held back by the hour-long rate limit
        sim.wait_valid(2)
        api(sim, "/api/v1/config", "PATCH", {"MQTT": {"Site": "shed"}})
        t0 = time.monotonic()
        sub.wait(topics(sim, "shed")[1], 1, timeout=10, sim=sim)
        print("\nMQTT site change to the new status topic: %.1f s" % (time.monotonic() - t0))


def test_a_broker_that_hangs_is_dropped_within_two_ping_periods(tmp_path, broker, sub):
    import signal
    raw = telegram("v5.p1")
    with gateway(tmp_path, broker.url()) as sim:
        data, _ = topics(sim)
        feed_and_wait(sim, sub, data, raw, 1)
        broker.proc.send_signal(signal.SIGSTOP)  # alive to TCP, deaf to MQTT
        try:
            n, t0 = 1, time.monotonic()
            while "no answer to PINGREQ" not in sim.output():
                # Messages keep flowing into the socket: they must not count as signs of life.
                assert time.monotonic() - t0 < 75, "a hung broker was never dropped:\n" + sim.output()
                sim.feed(raw)
                n += 1
                sim.wait_valid(n)
                time.sleep(1)
            assert api_status(sim)["mqtt"]["connected"] is False
        finally:
            broker.proc.send_signal(signal.SIGCONT)


def test_username_and_password(tmp_path):
    pwfile = str(tmp_path / "passwd")
    subprocess.run(["mosquitto_passwd", "-c", "-b", pwfile, "gw", "s3cret"], check=True)
    broker = Broker(tmp_path, "allow_anonymous false\npassword_file %s" % pwfile)
    sub = Subscriber(broker.port)
    try:
        raw = telegram("v5.p1")
        with gateway(tmp_path / "good", broker.url(), Username="gw", Password="s3cret") as sim:
            data, _ = topics(sim)
            check_fields(json.loads(feed_and_wait(sim, sub, data, raw, 1)[0][0]), raw)
        with gateway(tmp_path / "bad", broker.url(), Username="gw", Password="wrong") as sim:
            sim.wait_output("mqtt: waiting for CONNACK: OSError: broker refused", 20)
            assert "mqtt: connected" not in sim.output()
    finally:
        sub.close()
        broker.stop()


def _openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A CA, a server certificate for localhost/127.0.0.1 and a client certificate (EC P-256)."""
    d = str(tmp_path_factory.mktemp("pki"))
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for ca in ("ca", "otherca"):
        _openssl("req", "-x509", *ec, "-keyout", ca + ".key", "-out", ca + ".crt", "-days", "2",
                 "-subj", "/CN=p1gw test " + ca, "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    for name, ext in (("server", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"),
                      ("client", "extendedKeyUsage=clientAuth\n")):
        with open(os.path.join(d, name + ".ext"), "w") as f:
            f.write(ext)
        _openssl("req", *ec, "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + name, cwd=d)
        _openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                 "-CAcreateserial", "-out", name + ".crt", "-days", "2", "-extfile", name + ".ext", cwd=d)
    # What `openssl ecparam -genkey` writes before the key: the key file a user may paste.
    _openssl("ecparam", "-name", "prime256v1", "-out", "ecparams.pem", cwd=d)

    def pem(name):
        with open(os.path.join(d, name)) as f:
            return f.read()
    return d, pem


def _tls_broker(tmp_path, pki, mtls=False):
    d, _ = pki
    lines = "allow_anonymous true\ncafile {0}/ca.crt\ncertfile {0}/server.crt\nkeyfile {0}/server.key\n".format(d)
    if mtls:
        lines += "require_certificate true\n"
    return Broker(tmp_path, lines)


def _tls_case(tmp_path, pki, good, bad, mtls=False):
    """The gateway publishes over TLS with the ``good`` MQTT settings and never connects with ``bad``."""
    broker = _tls_broker(tmp_path, pki, mtls=mtls)
    sub = Subscriber(broker.port)
    try:
        raw = telegram("v5.p1")
        with gateway(tmp_path / "good", broker.url("mqtts", "localhost"), **good) as sim:
            data, _ = topics(sim)
            check_fields(json.loads(feed_and_wait(sim, sub, data, raw, 1)[0][0]), raw)
            # Web requests while the TLS session is polled (the unix port once crashed here).
            for _ in range(10):
                assert api_status(sim)["mqtt"]["connected"]
            check_fields(json.loads(feed_and_wait(sim, sub, data, raw, 2)[1][0]), raw)
        with gateway(tmp_path / "bad", broker.url("mqtts", "localhost"), **bad) as sim:
            sim.wait_output("mqtt: TLS handshake with localhost", 20)
            assert "mqtt: connected" not in sim.output()
    finally:
        sub.close()
        broker.stop()


def test_tls_with_verified_server_certificate(tmp_path, pki):
    _, pem = pki
    # A bundle whose first CA is not the broker's, the second is; then a CA that did not sign it.
    _tls_case(tmp_path, pki, good={"CaCert": pem("otherca.crt") + pem("ca.crt")},
              bad={"CaCert": pem("otherca.crt")})


def test_mutual_tls_with_client_certificate(tmp_path, pki):
    _, pem = pki
    # The key file starts with an EC PARAMETERS block, as `openssl ecparam -genkey` writes it.
    _tls_case(tmp_path, pki, mtls=True,
              good={"CaCert": pem("ca.crt"), "ClientCert": pem("client.crt"),
                    "ClientKey": pem("ecparams.pem") + pem("client.key")},
              bad={"CaCert": pem("ca.crt")})


def test_recovers_after_broker_restart(tmp_path, broker):
    raw = telegram("v5.p1")
    sub = Subscriber(broker.port)
    with gateway(tmp_path, broker.url()) as sim:
        data, status = topics(sim)
        feed_and_wait(sim, sub, data, raw, 1)
        sub.close()
        broker.stop()
        sim.feed(raw)  # sent while the broker is down: lost (QoS 0, no queue)
        sim.wait_valid(2)
        broker.start()
        sub = Subscriber(broker.port)
        deadline = time.monotonic() + 40
        n = 2
        while not sub.on(data):
            assert time.monotonic() < deadline, "no message after the broker came back:\n" + sim.output()
            sim.feed(raw)
            n += 1
            sim.wait_valid(n)
            time.sleep(1)
        assert sub.wait(status, 1)[-1][0] == b"online"
        st = api_status(sim)["mqtt"]
        assert st["connected"] is True and st["last_error"] is None
        assert st["reconnects"] >= 1 and st["messages_sent"] >= 2
        assert st["broker"] == broker.url()
    sub.close()


def test_silent_broker_does_not_hold_up_modbus(tmp_path):
    # A broker hung before CONNACK: accepts TCP connections and never says a word.
    silent = meter_sim.Server((), 0).start()
    raw = telegram("v5.p1")
    try:
        with gateway(tmp_path, "mqtt://127.0.0.1:%d" % silent.port) as sim:
            sim.feed(raw)
            sim.wait_valid(1)
            c = ModbusTcpClient("127.0.0.1", port=sim.modbus_port, timeout=3, retries=0)
            assert c.connect()
            latencies = []
            answered = 0
            start = time.monotonic()
            last_feed = start
            while time.monotonic() - start < 25:  # two CONNECT timeouts and their retries
                if time.monotonic() - last_feed >= 1:
                    sim.feed(raw)  # keep the data fresh, as a DSMR 5 meter does
                    last_feed = time.monotonic()
                t0 = time.perf_counter()
                rr = c.read_holding_registers(0x8000, count=60, device_id=1)
                latencies.append((time.perf_counter() - t0) * 1000)
                assert not rr.isError(), rr
                answered += 1
                time.sleep(0.02)
            c.close()
            assert answered == len(latencies) and answered > 100
            assert len(silent.clients) >= 2, "the gateway should have tried the broker again"
            assert "mqtt: waiting for CONNACK: timed out" in sim.output()
            print("\nModbus while MQTT hangs on CONNECT: %d requests, median %.1f ms, "
                  "p99 %.1f ms, max %.1f ms" % (answered, statistics.median(latencies),
                                               sorted(latencies)[int(len(latencies) * 0.99)],
                                               max(latencies)))
    finally:
        silent.close()
