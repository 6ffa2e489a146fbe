"""The config page in headless Chromium on a phone-sized window, against the real firmware.

Logs in (Basic auth header via CDP), changes the MQTT broker, sees the
confirmation and a field-level validation error, and watches live power follow
the telegrams. Screenshots go to build/screenshots/ as test artifacts;
``make screenshots`` writes them to docs/ for the README instead.
"""
import base64
import os
import shutil
import tempfile

import pytest

from test_web_sim import Meter, start, wait_for

selenium = pytest.importorskip("selenium")
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHOTS = os.environ.get("P1GW_SCREENSHOTS") or os.path.join(ROOT, "build", "screenshots")
CHROMEDRIVER = "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    assert os.path.exists(CHROMEDRIVER), "Debian chromedriver missing: make setup installs it (as root)"
    profile = tempfile.mkdtemp(prefix="p1gw-chromium-")
    opts = webdriver.ChromeOptions()
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--user-data-dir=" + profile, "--window-size=412,915"):
        opts.add_argument(flag)
    with start(tmp_path_factory.mktemp("page")) as sim:
        sim.meter = Meter(sim)
        sim.wait_valid(1)
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
        try:
            token = base64.b64encode(("user:" + sim.identity["api_password"]).encode()).decode()
            driver.execute_cdp_cmd("Network.enable", {})
            driver.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {"Authorization": "Basic " + token}})
            driver.set_window_size(412, 915)
            driver.get("http://127.0.0.1:%d/" % sim.http_port)
            yield driver, sim
        finally:
            driver.quit()
            sim.meter.stop.set()
            shutil.rmtree(profile, ignore_errors=True)


def text(driver, css):
    return driver.find_element(By.CSS_SELECTOR, css).text


def shot(driver, name, full=True):
    os.makedirs(SHOTS, exist_ok=True)
    if full:  # the whole page, as tall as it is, still phone-wide
        h = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(412, max(915, h + 140))
    driver.save_screenshot(os.path.join(SHOTS, "screenshot-%s.png" % name))
    driver.set_window_size(412, 915)


def test_status_shows_meter_and_live_power(page):
    driver, sim = page
    wait_for(lambda: "ISk5" in text(driver, "#s-meter"))
    assert text(driver, "#p1") == "70" and "DSMR 50" in text(driver, "#s-meter")
    assert "127.0.0.1" in text(driver, "#s-net") and text(driver, "#serial") == sim.identity["serial"]
    sim.meter.l1_kw = 1.846
    wait_for(lambda: text(driver, "#p1") == "1846")
    wait_for(lambda: "KB" in text(driver, "#s-mem"))
    shot(driver, "status", full=False)


def test_change_mqtt_broker_shows_confirmation(page):
    driver, sim = page
    wait_for(lambda: driver.find_element(By.NAME, "MQTT.Site").get_attribute("value") == "unknown-site")
    broker = driver.find_element(By.NAME, "MQTT.Broker")
    broker.clear()
    broker.send_keys("mqtt://broker.lan:1883")
    driver.find_element(By.CSS_SELECTOR, "#f-mqtt button").click()
    wait_for(lambda: "Saved" in text(driver, "#f-mqtt .msg"))
    assert "ok" in driver.find_element(By.CSS_SELECTOR, "#f-mqtt .msg").get_attribute("class")
    assert sim.stored_config()["MQTT"]["Broker"] == "mqtt://broker.lan:1883"
    assert sim.stored_config()["MQTT"]["Site"] == "unknown-site"  # only the changed field sent
    driver.execute_script("document.getElementById('f-mqtt').scrollIntoView()")
    shot(driver, "saved")


def test_invalid_broker_shows_error_next_to_the_field(page):
    driver, sim = page
    broker = driver.find_element(By.NAME, "MQTT.Broker")
    broker.clear()
    broker.send_keys("http://broker.lan")
    driver.find_element(By.CSS_SELECTOR, "#f-mqtt button").click()
    err = driver.find_element(By.CSS_SELECTOR, "#f-mqtt label:nth-of-type(2) .err")
    wait_for(lambda: "mqtt://" in err.text)
    assert "invalid" in broker.get_attribute("class")
    assert "Not saved" in text(driver, "#f-mqtt .msg")
    assert sim.stored_config()["MQTT"]["Broker"] == "mqtt://broker.lan:1883"
    driver.execute_script("document.getElementById('f-mqtt').scrollIntoView()")
    shot(driver, "error", full=False)


def _save(driver, form):
    driver.find_element(By.CSS_SELECTOR, "#%s > button" % form).click()  # its Save
    wait_for(lambda: text(driver, "#%s .msg" % form) not in ("", "Saving…"))
    return text(driver, "#%s .msg" % form)


def test_a_stored_secret_can_be_removed(page):
    driver, sim = page
    key = driver.find_element(By.NAME, "P1.SmartyKey")
    key.send_keys("0123456789ABCDEF0123456789ABCDEF")
    assert "Saved" in _save(driver, "f-meter")
    assert sim.stored_config()["P1"]["SmartyKey"] == "0123456789ABCDEF0123456789ABCDEF"
    remove = driver.find_element(By.CSS_SELECTOR, "#f-meter .clear input")
    assert remove.is_displayed()  # offered only while a key is stored
    remove.click()
    assert "Saved" in _save(driver, "f-meter")
    assert sim.stored_config()["P1"]["SmartyKey"] == ""
    assert not remove.is_displayed()


def test_an_emptied_number_is_an_error_not_the_default(page):
    driver, sim = page
    amps = driver.find_element(By.NAME, "Modbus.FailsafeCurrentA")
    amps.clear()
    amps.send_keys("7.5")
    assert "Saved" in _save(driver, "f-meter")
    amps.clear()
    assert "Not saved" in _save(driver, "f-meter")
    assert "number" in amps.find_element(By.XPATH, "..").find_element(By.CSS_SELECTOR, ".err").text
    assert sim.stored_config()["Modbus"]["FailsafeCurrentA"] == 7.5


def test_status_says_when_the_gateway_stops_answering(page):
    driver, sim = page
    wait_for(lambda: text(driver, "#p") not in ("", "–"))
    driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*/api/v1/status"]})
    try:
        wait_for(lambda: "not answering" in text(driver, "#s-age"))
        assert text(driver, "#p") == "–"
    finally:
        driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})
    wait_for(lambda: "s ago" in text(driver, "#s-age"))


def test_settings_of_the_interface_not_shown_are_not_sent(page):
    from selenium.webdriver.support.ui import Select
    driver, sim = page
    Select(driver.find_element(By.NAME, "WiFi.IpMode")).select_by_visible_text("Static")
    driver.find_element(By.NAME, "WiFi.StaticIPv4.IpAddress").send_keys("192.168.1.50")  # no gateway
    Select(driver.find_element(By.NAME, "DefaultNetIf")).select_by_value("Ethernet")
    assert "Saved" in _save(driver, "f-net")  # the half-done Wi-Fi settings stayed out
    assert sim.stored_config()["DefaultNetIf"] == "Ethernet"
    assert sim.stored_config()["WiFi"]["IpMode"] == "DHCP"
    Select(driver.find_element(By.NAME, "DefaultNetIf")).select_by_value("WiFi")
    assert "Saved" in _save(driver, "f-net")


# Every control whose content does not fit: a select whose chosen option's text is
# wider than its box (Chromium cuts it off), or any control wider than its box or the window.
_CLIPPED = """
var out = [], ctx = document.createElement("canvas").getContext("2d"), vw = document.documentElement.clientWidth;
document.querySelectorAll("input, select, textarea, button").forEach(function (el) {
  if (!el.offsetParent) return;  // hidden section
  var r = el.getBoundingClientRect(), cs = getComputedStyle(el);
  if (r.left < 0 || r.right > vw || el.scrollWidth > el.clientWidth + 1) out.push(el.name || el.textContent);
  if (el.tagName == "SELECT") {
    ctx.font = cs.font;
    var room = el.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight) - 20;  // 20: the arrow
    for (var i = 0; i < el.options.length; i++)
      if (ctx.measureText(el.options[i].text).width > room) out.push(el.name + ": " + el.options[i].text);
  }
});
return out;
"""


def test_no_control_is_clipped_at_360_px(page):
    driver, sim = page
    driver.set_window_size(360, 800)
    try:
        wait_for(lambda: driver.execute_script("return document.documentElement.clientWidth") <= 360)
        for netif in ("WiFi", "Ethernet"):  # both network sections shown in turn
            driver.execute_script("var s = document.getElementsByName('DefaultNetIf')[0];"
                                  "s.value = arguments[0]; s.dispatchEvent(new Event('change'));", netif)
            assert driver.execute_script(_CLIPPED) == []
    finally:
        driver.set_window_size(412, 915)
