"""Network manager: connect, backoff, NTP and the access-point rules, on a fake clock and a fake Net."""
import asyncio

import netconnect
import netman
from hub import Hub
from netman import NetManager

IDENT = {"serial": "A1B2C3D4E5F6", "ssid": "P1GW-D4E5F6", "wpa_key": "k3y-k3y-k3y", "api_password": "x"}


def _cfg(ssid="home", netif="WiFi", wifi_mode="DHCP", eth_mode="DHCP"):
    static = {"IpAddress": "192.168.10.101", "Netmask": "24", "Gateway": "192.168.10.1", "DNS": "192.168.10.1"}
    return {"DefaultNetIf": netif,
            "WiFi": {"Ssid": ssid, "Password": "secret", "IpMode": wifi_mode, "StaticIPv4": static},
            "Ethernet": {"IpMode": eth_mode, "StaticIPv4": static}}


class FakeNet:
    """Records calls; the test decides when the network answers (``reachable``)."""

    def __init__(self):
        self.calls = []
        self.iface = None
        self.up = False
        self.ap = None
        self.reachable = True     # an attempt succeeds on the next status() call
        self.ntp_fails = False
        self.no_ethernet = False
        self.ap_fails = 0         # this many start_ap calls raise
        self.dhcp = True          # a DHCP server answers on the Ethernet cable
        self.static = None        # the address an Ethernet start set, None for DHCP

    def start_wifi(self, ssid, password, ipv4):
        self.calls.append(("wifi", ssid, password, ipv4))
        self.iface = "wifi"

    def start_ethernet(self, ipv4):
        if self.no_ethernet:
            raise OSError("no Ethernet on this board")
        self.calls.append(("ethernet", ipv4))
        self.iface = "ethernet"
        self.static = ipv4[0] if ipv4 else None

    def start_ap(self, ssid, key, ip):
        self.calls.append(("ap", ssid, key, ip))
        if self.ap_fails:
            self.ap_fails -= 1
            raise OSError("ap failed")
        self.ap = ip

    def stop_ap(self):
        self.calls.append(("stop_ap",))
        self.ap = None

    def disconnect(self):
        self.calls.append(("disconnect",))
        self.iface = None
        self.up = False

    def set_hostname(self, name):
        self.calls.append(("hostname", name))

    def sync_time(self):
        self.calls.append(("ntp",))
        if self.ntp_fails:
            raise OSError("ETIMEDOUT")

    def status(self):
        if self.iface and self.reachable:
            self.up = True
        if not self.reachable:
            self.up = False
        ip = "192.168.1.50" if self.up else None
        if self.up and self.iface == "ethernet":
            ip = self.static or (ip if self.dhcp else None)
        return {"iface": self.iface, "ip": ip,
                "rssi": -61 if self.up else None, "link": self.up, "ap": bool(self.ap),
                "ssid": "home" if self.up else None, "mac": "24:0a:c4:00:51:7e"}

    def count(self, name):
        return len([c for c in self.calls if c[0] == name])

    def times(self, name, log):
        return [t for t, c in log if c[0] == name]


class Rig:
    def __init__(self, cfg, reachable=True, safe_mode=False):
        self.net = FakeNet()
        self.net.reachable = reachable
        self.t = 0
        self.hub = Hub(cfg, IDENT, clock=lambda: self.t)
        self.nm = NetManager(self.net, self.hub, safe_mode=safe_mode)
        self.log = []          # (time, call) as calls happen

    def run_until(self, t_end, step=500):
        while self.t <= t_end:
            n = len(self.net.calls)
            self.nm.step(self.t)
            for c in self.net.calls[n:]:
                self.log.append((self.t, c))
            self.t += step

    def when(self, name):
        return [t for t, c in self.log if c[0] == name]


def test_scan_lists_each_network_once_strongest_first_without_hidden_or_non_utf8_names():
    scan = [(b"home", b"a", 1, -70, 3, False), (b"guest", b"b", 6, -50, 0, False),
            (b"home", b"c", 11, -40, 3, False), (b"", b"d", 1, -30, 3, True),
            (b"Caf\xe9", b"e", 1, -20, 3, False), (b"caf\xc3\xa9", b"f", 1, -90, 4, False)]
    assert netconnect.networks(scan) == [{"ssid": "home", "rssi": -40, "secure": True},
                                     {"ssid": "guest", "rssi": -50, "secure": False},
                                     {"ssid": "caf\u00e9", "rssi": -90, "secure": True}]


def test_netmask_from_prefix_or_dotted():
    assert netconnect.netmask("24") == "255.255.255.0"
    assert netconnect.netmask("20") == "255.255.240.0"
    assert netconnect.netmask("0") == "0.0.0.0"
    assert netconnect.netmask("255.255.0.0") == "255.255.0.0"


def test_hostname_is_set_before_connecting():
    r = Rig(_cfg())
    r.run_until(0)
    assert r.net.calls[:2] == [("hostname", "p1gw-a1b2c3d4e5f6"), ("wifi", "home", "secret", None)]


def test_link_local_address_comes_from_the_mac():
    assert netconnect.link_local_ip("24:0a:c4:00:51:7e") == "169.254.82.126"
    for mac in ("00:00:00:00:00:00", "ff:ff:ff:ff:fd:ff", "ff:ff:ff:ff:fe:00", "ff:ff:ff:ff:ff:ff"):
        x = int(netconnect.link_local_ip(mac).split(".")[2])
        assert 1 <= x <= 254, mac  # RFC 3927: never 169.254.0.x or 169.254.255.x


def _eth_without_dhcp():
    r = Rig(_cfg(netif="Ethernet"))
    r.net.dhcp = False
    return r


def test_ethernet_falls_back_to_link_local_after_three_dhcp_failures():
    r = _eth_without_dhcp()
    nm = r.nm
    r.run_until(nm.connect_timeout_ms * 3 + nm.backoff_min_ms * 3)
    starts = [c for c in r.net.calls if c[0] == "ethernet"]
    assert starts[:3] == [("ethernet", None)] * 3
    assert starts[3] == ("ethernet", ("169.254.82.126", "255.255.0.0", "0.0.0.0", "0.0.0.0"))
    r.run_until(r.t + 1000)
    st = r.hub.status["net"]
    assert st["ip"] == "169.254.82.126" and st["link_local"] is True and nm.state == netman.UP
    assert r.net.count("ntp") == 0  # no internet behind a charger's cable


def test_link_local_retries_dhcp_in_the_background_and_takes_its_answer():
    r = _eth_without_dhcp()
    nm = r.nm
    r.run_until(nm.connect_timeout_ms * 3 + nm.backoff_min_ms * 3 + 1000)
    assert r.hub.status["net"]["link_local"]
    t0 = r.t
    r.run_until(t0 + nm.dhcp_retry_ms + nm.dhcp_probe_ms + 1000)
    # one DHCP probe, no answer: back on the same link-local address
    assert [c for t, c in r.log if t > t0 and c[0] == "ethernet"] == [
        ("ethernet", None), ("ethernet", ("169.254.82.126", "255.255.0.0", "0.0.0.0", "0.0.0.0"))]
    r.net.dhcp = True  # a router appears on the cable
    r.run_until(r.t + nm.dhcp_retry_ms + 1000)
    st = r.hub.status["net"]
    assert st["ip"] == "192.168.1.50" and st["link_local"] is False and nm.link_local is None


def test_no_link_local_without_a_link_or_with_static_ipv4():
    r = Rig(_cfg(netif="Ethernet"), reachable=False)  # no cable: DHCP never had a chance
    r.run_until(600000)
    assert not [c for c in r.net.calls if c[0] == "ethernet" and c[1]]
    r = Rig(_cfg(netif="Ethernet", eth_mode="Static"), reachable=False)
    r.run_until(600000)
    assert all(c[1][0] == "192.168.10.101" for c in r.net.calls if c[0] == "ethernet")


def test_wifi_static_ipv4():
    r = Rig(_cfg(wifi_mode="Static"))
    r.run_until(0)
    assert ("wifi", "home", "secret", ("192.168.10.101", "255.255.255.0", "192.168.10.1", "192.168.10.1")) in r.net.calls


def test_ethernet_when_default_netif_is_ethernet():
    r = Rig(_cfg(ssid="", netif="Ethernet", eth_mode="Static"))
    r.run_until(1000)
    assert r.net.count("wifi") == 0
    assert r.net.calls[1] == ("ethernet", ("192.168.10.101", "255.255.255.0", "192.168.10.1", "192.168.10.1"))
    assert r.nm.state == netman.UP and r.net.count("ap") == 0


def test_connect_then_ntp_and_status_published():
    r = Rig(_cfg())
    r.run_until(1000)
    net = r.hub.status["net"]
    assert r.nm.state == netman.UP and r.net.count("ntp") == 1
    assert (net["iface"], net["ip"], net["link"], net["ap"], net["ssid"], net["rssi"]) == \
        ("wifi", "192.168.1.50", True, False, "home", -61)
    assert net["state"] == "up"


def test_ntp_resyncs_periodically_and_retries_failures_sooner():
    r = Rig(_cfg())
    r.net.ntp_fails = True
    r.run_until(500 + NetManager.ntp_retry_ms)
    assert r.when("ntp") == [500, 500 + NetManager.ntp_retry_ms]
    r.net.ntp_fails = False
    r.run_until(500 + 2 * NetManager.ntp_retry_ms + NetManager.ntp_every_ms)
    assert r.when("ntp")[2:] == [500 + 2 * NetManager.ntp_retry_ms,
                                  500 + 2 * NetManager.ntp_retry_ms + NetManager.ntp_every_ms]


def test_unreachable_network_retries_with_exponential_backoff():
    r = Rig(_cfg(), reachable=False)
    r.run_until(20 * 60 * 1000)
    starts = r.when("wifi")
    gaps = [b - a - NetManager.connect_timeout_ms for a, b in zip(starts, starts[1:])]
    assert gaps[:4] == [5000, 10000, 20000, 40000]
    assert max(gaps) == NetManager.backoff_max_ms
    assert r.net.count("disconnect") >= len(starts) - 1


def test_lost_link_gets_time_to_recover_by_itself():
    r = Rig(_cfg())
    r.run_until(5000)
    r.net.reachable = False
    r.run_until(15000)
    r.net.reachable = True
    r.run_until(20000)
    assert r.net.count("wifi") == 1 and r.nm.state == netman.UP


def test_first_boot_without_network_opens_the_access_point():
    r = Rig(_cfg(ssid=""))
    r.run_until(60 * 60 * 1000)
    assert r.net.count("wifi") == 0
    assert r.net.calls[1] == ("ap", "P1GW-D4E5F6", "k3y-k3y-k3y", "10.10.10.10")
    assert r.net.count("stop_ap") == 0 and r.nm.ap_reason == "unconfigured"
    assert r.hub.status["net"]["ap"] is True


def test_an_access_point_that_fails_to_start_is_tried_again():
    r = Rig(_cfg(ssid=""))
    r.net.ap_fails = 2
    r.run_until(60000)
    assert r.when("ap") == [0, NetManager.backoff_min_ms, 2 * NetManager.backoff_min_ms]
    assert r.net.ap and r.nm.ap_reason == "unconfigured"


def test_a_fallback_access_point_that_failed_is_not_opened_once_the_network_is_back():
    r = Rig(_cfg(), reachable=False)
    r.net.ap_fails = 1
    r.run_until(NetManager.fallback_ms)
    assert r.net.count("ap") == 1 and not r.net.ap
    r.net.reachable = True
    r.nm.request_reconnect()  # back before the AP's retry
    r.run_until(NetManager.fallback_ms + 60000)
    assert r.nm.state == netman.UP and r.net.count("ap") == 1 and not r.net.ap


def test_clearing_the_wifi_at_run_time_opens_the_access_point_at_once():
    r = Rig(_cfg())
    r.run_until(10000)
    r.hub.config = _cfg(ssid="")
    r.nm.request_reconnect()
    r.run_until(11000)
    assert r.nm.state == netman.OFF and r.nm.ap_reason == "unconfigured" and r.net.ap


def test_configuring_wifi_from_the_ap_connects_then_closes_the_ap_after_linger():
    r = Rig(_cfg(ssid=""))
    r.run_until(10000)
    r.hub.config = _cfg(ssid="home")
    r.nm.request_reconnect()
    r.run_until(10000 + NetManager.ap_linger_ms + 1000)
    up_at = r.when("wifi")[0] + 500
    assert r.when("stop_ap") == [up_at + NetManager.ap_linger_ms]


def test_unreachable_network_falls_back_to_the_access_point():
    r = Rig(_cfg(), reachable=False)
    r.run_until(NetManager.fallback_ms + 1000)
    assert r.when("ap") == [NetManager.fallback_ms]
    assert r.nm.ap_reason == "fallback"


def test_fallback_ap_closes_after_the_network_returns():
    r = Rig(_cfg(), reachable=False)
    r.run_until(NetManager.fallback_ms + 1000)
    r.net.reachable = True
    r.run_until(NetManager.fallback_ms + NetManager.backoff_max_ms + NetManager.connect_timeout_ms
                + NetManager.ap_linger_ms + 1000)
    assert r.net.count("stop_ap") == 1 and r.nm.state == netman.UP


def test_button_ap_on_a_working_device_stays_open_for_ap_idle_ms():
    r = Rig(_cfg())
    r.run_until(5000)
    r.nm.request_ap()
    r.run_until(5500 + NetManager.ap_idle_ms + 1000)
    assert r.when("ap") == [5500]
    assert r.when("stop_ap") == [5500 + NetManager.ap_idle_ms]


def test_button_ap_without_client_network_stays_open():
    r = Rig(_cfg(ssid=""))
    r.run_until(1000)
    r.nm.request_ap()
    r.run_until(3 * NetManager.ap_idle_ms)
    assert r.net.count("stop_ap") == 0 and r.nm.ap_reason == "button"


def test_short_press_reconnects_immediately():
    r = Rig(_cfg())
    r.run_until(5000)
    r.nm.request_reconnect()
    r.run_until(6000)
    assert r.when("disconnect") == [5500] and r.when("wifi") == [0, 5500]
    assert r.nm.state == netman.UP and r.when("ntp") == [500, 6000]


def test_safe_mode_is_ap_only_and_never_closes():
    r = Rig(_cfg(), safe_mode=True)
    r.run_until(3 * NetManager.ap_idle_ms)
    assert r.net.count("wifi") == 0 and r.net.count("stop_ap") == 0
    assert r.nm.ap_reason == "safe" and r.nm.state == netman.OFF


def test_missing_ethernet_hardware_backs_off_instead_of_crashing():
    r = Rig(_cfg(netif="Ethernet"))
    r.net.no_ethernet = True
    r.run_until(NetManager.fallback_ms + 1000)
    assert r.nm.state == netman.BACKOFF and r.nm.ap_reason == "fallback"


def test_run_steps_the_machine():
    r = Rig(_cfg())
    ticks = [0]

    def clock():
        ticks[0] += 1
        if ticks[0] > 3:
            raise KeyboardInterrupt
        return ticks[0] * 1000

    r.nm.poll_ms = 0
    try:
        asyncio.run(r.nm.run(clock))
    except KeyboardInterrupt:
        pass
    assert r.nm.state == netman.UP
