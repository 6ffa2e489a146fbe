"""The app's service table: which services wait until they are wanted."""
import app
import config
from hub import Hub


def test_mqtt_and_the_captive_dns_wait_until_wanted():
    hub = Hub(config.defaults(), {"serial": "S"})
    hub.status["net"] = {"ap": False}
    assert [m for m, wanted in app.ON_DEMAND.items() if wanted(hub)] == []
    hub.config["MQTT"]["Enabled"] = True
    hub.status["net"] = {"ap": True}
    assert sorted(m for m, wanted in app.ON_DEMAND.items() if wanted(hub)) == ["captive_dns", "mqtt_publisher"]


def test_services_started_at_boot_leave_the_on_demand_ones_out():
    names = [name.split(".")[0] for name, _ in app.find_services(None, tuple(app.ON_DEMAND))]
    assert "modbus_tcp" in names and "raw_stream" in names
    assert "mqtt_publisher" not in names and "captive_dns" not in names
