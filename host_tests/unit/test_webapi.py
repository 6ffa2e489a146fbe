"""The web API's status document, built without sockets."""
import config
import reading
from hub import Hub
from webapi import WebServer


def test_status_shows_no_power_from_a_reading_older_than_an_hour():
    now = [0]
    hub = Hub(config.copy(config.DEFAULTS), {"serial": "S1", "api_password": "pw"}, lambda: now[0])
    r = reading.new_reading()
    r["power_w"] = 1234
    hub.publish(r, b"/x")
    web = WebServer(hub)
    assert web.status()["meter"]["power_w"] == 1234
    now[0] = 3600001  # the hub forgets the telegram's age before the ticks could wrap
    m = web.status()["meter"]
    assert (m["age_ms"], m["power_w"], m["telegrams"]) == (None, None, 1)



def test_status_is_written_as_json_in_pieces():
    import json
    hub = Hub(config.copy(config.DEFAULTS), {"serial": "S1", "api_password": "pw"}, lambda: 0)
    hub.status["net"] = {"ssid": 'say "hi"\n', "ip": "10.0.0.2"}
    r = reading.new_reading()
    r["power_w"] = 1234
    hub.publish(r, b"/x")
    web = WebServer(hub)
    out = []
    web.write_status(out.append)
    doc = json.loads("".join(out))
    assert doc["meter"]["power_w"] == 1234 and doc["network"]["ssid"] == 'say "hi"\n'
    assert doc["serial"] == "S1" and len(out) > 50
