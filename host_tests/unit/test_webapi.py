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


def _hub_with(r):
    hub = Hub(config.copy(config.DEFAULTS), {"serial": "S1", "api_password": "pw"}, lambda: 0)
    hub.publish(r, b"/x")
    return hub


def _status_text(web):
    out = []
    web.write_status(out.append)
    return "".join(out)


def test_status_writes_the_meters_counters_with_exactly_its_digits():
    import dsmr
    from _support import make_telegram
    r = dsmr.parse(make_telegram([b"1-0:1.8.1(012345.678*kWh)", b"1-0:1.8.2(021910.746*kWh)",
                                  b"0-1:24.1.0(003)", b"0-1:24.2.1(200426223001S)(00981.44*m3)"]))
    text = _status_text(WebServer(_hub_with(r)))
    for counter in ('"energy_import_kwh":34256.424', '"energy_import_t1_kwh":12345.678',
                    '"gas_m3":981.440', '"water_m3":null'):
        assert counter in text, counter


def test_status_before_any_telegram_has_null_counters():
    hub = Hub(config.copy(config.DEFAULTS), {"serial": "S1", "api_password": "pw"}, lambda: 0)
    text = _status_text(WebServer(hub))
    assert '"energy_import_kwh":null' in text and '"heat_gj":null' in text
