"""The web API's status document, built without sockets."""

import config
import reading
from hub import Hub
from webapi import WebServer


def test_status_shows_no_power_from_a_reading_older_than_an_hour():
    now = [0]
    hub = Hub(config.defaults(), {"serial": "S1", "api_password": "pw"}, lambda: now[0])
    r = reading.new_reading()
    r["power_w"] = 1234
    hub.publish(r, b"/x")
    web = WebServer(hub)
    assert web.status()["meter"]["power_w"] == 1234
    now[0] = 3600001  # the hub forgets the telegram's age before the ticks could wrap
    m = web.status()["meter"]
    assert (m["age_ms"], m["power_w"], m["telegrams"]) == (None, None, 1)




def test_status_route_writes_the_document_as_json():
    from _http_client import TestClient
    hub = Hub(config.defaults(), {"serial": "S1", "api_password": "pw"}, lambda: 0)
    hub.status["net"] = {"ssid": 'say "hi"\n', "ip": "10.0.0.2"}
    r = reading.new_reading()
    r["power_w"] = 1234
    hub.publish(r, b"/x")
    resp = TestClient(WebServer(hub).server).get("/api/v1/status", auth=("user", "pw"))
    assert resp.status == 200 and resp.headers["content-type"] == "application/json"
    doc = resp.json()
    assert doc["meter"]["power_w"] == 1234 and doc["network"]["ssid"] == 'say "hi"\n'
    assert doc["serial"] == "S1"


def test_the_connectivity_probes_and_only_they_are_redirected_to_the_page():
    from _http_client import TestClient
    hub = Hub(config.defaults(), {"serial": "S1", "api_password": "pw"}, lambda: 0)
    client = TestClient(WebServer(hub).server)
    for path in ("/generate_204", "/gen_204", "/hotspot-detect.html", "/library/test/success.html",
                 "/connecttest.txt", "/ncsi.txt", "/redirect", "/success.txt", "/canonical.html"):
        r = client.get(path)
        assert r.status == 302 and r.headers["location"] == "http://10.10.10.10/", path
    for path in ("/gen", "/generate_2045", "/test/success.html", "/ncsi.tx", "/canonical.html/x"):
        assert client.get(path).status == 401, path


def test_homewizard_data_route_writes_exact_counters():
    import dsmr
    from _http_client import TestClient
    from _support import make_telegram
    hub = Hub(config.defaults(), {"serial": "S1", "api_password": "pw"}, lambda: 0)
    hub.publish(dsmr.parse(make_telegram([b"1-0:1.8.1(012345.678*kWh)", b"1-0:1.8.2(021910.746*kWh)"])), b"/x")
    resp = TestClient(WebServer(hub).server).get("/api/v1/data")
    assert resp.status == 200 and resp.headers["content-type"] == "application/json"
    assert b'"total_power_import_kwh":34256.424,' in resp.body
    assert b'"total_power_import_t1_kwh":12345.678,' in resp.body


class _Body:
    def __init__(self, body):
        self.body = body


def _no_heap(req):
    raise MemoryError("memory allocation failed, allocating 3001 bytes")


def test_a_patch_that_finds_no_heap_is_told_to_try_again_not_that_its_json_is_bad():
    import webconfig
    hub = Hub(config.defaults(), {"serial": "240AC4000001", "api_password": "pw"})
    before = hub.config
    parse, webconfig.body_json = webconfig.body_json, _no_heap  # the body finds no heap to be parsed in
    try:
        r = webconfig.patch(hub, _Body(b'{"MQTT": {"Site": "home"}}'))
    finally:
        webconfig.body_json = parse
    assert r.status == 503 and hub.config is before


def test_a_patch_with_a_trailing_comma_is_400_not_json_and_nothing_changes():
    import webconfig
    hub = Hub(config.defaults(), {"serial": "240AC4000001", "api_password": "pw"})
    before = hub.config
    r = webconfig.patch(hub, _Body(b'{"Modbus": {"FailsafeCurrentA": 10},}'))
    assert r.status == 400 and hub.config is before


def test_own_host_is_the_devices_address_or_name_and_nothing_else():
    from webapi import own_host
    net = {"ip": "192.168.1.50", "ap": False}
    for host in (None, "192.168.1.50", "192.168.1.50:80", "p1gw-240ac4000001", "P1GW-240AC4000001.local",
                 "p1gw-240ac4000001.fritz.box:80"):
        assert own_host(host, net, "240AC4000001"), host
    for host in ("", "evil.example", "p1gw.evil.example", "p1gw-240ac4000002.local", "10.10.10.10",
                 "localhost", "[::1]", "192.168.1.5", "p1gw-240ac4000001x.local"):
        assert not own_host(host, net, "240AC4000001"), host
    assert own_host("10.10.10.10", {"ip": None, "ap": True}, "240AC4000001")
    # The simulator listens on 127.0.0.1 whatever address its network stand-in shows.
    assert own_host("localhost:8080", {"ip": "169.254.82.126"}, "240AC4000001", "127.0.0.1")
    assert own_host("127.0.0.1:8080", {"ip": "169.254.82.126"}, "240AC4000001", "127.0.0.1")
    assert not own_host("0.0.0.0", {"ip": "192.168.1.50"}, "240AC4000001", "0.0.0.0")
