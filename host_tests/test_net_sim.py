"""The network layer's setup conveniences through the host hardware layer (hw_host.Net).

The sim cannot answer mDNS or run DHCP; hw_host.Net keeps the host name the
way the ESP32 port uses it (mDNS answers the name set before the first
interface came up) and plays an Ethernet cable with no DHCP server (--no-dhcp).
"""
import base64
import json
import urllib.request

from simctl import Sim


def status(sim):
    tok = base64.b64encode(("user:" + sim.identity["api_password"]).encode()).decode()
    req = urllib.request.Request("http://127.0.0.1:%d/api/v1/status" % sim.http_port,
                                 headers={"Authorization": "Basic " + tok})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)["network"]


def test_host_name_is_set_before_the_interface_comes_up(tmp_path):
    with Sim(tmp_path, config={"DefaultNetIf": "Ethernet"}) as sim:
        name = "p1gw-" + sim.identity["serial"].lower()
        sim.wait_output("net: up")
        net = status(sim)
        assert net["hostname"] == name
        assert net["mdns"] == name + ".local"  # the name was set before Ethernet started


def test_ethernet_without_dhcp_falls_back_to_link_local_and_keeps_asking(tmp_path):
    with Sim(tmp_path, config={"DefaultNetIf": "Ethernet"}, args=("--no-dhcp",)) as sim:
        sim.wait_output("net: no DHCP answer: link-local 169.254.82.126", timeout=30)
        sim.wait_output("net: up, ethernet 169.254.82.126")
        net = status(sim)
        assert net["ip"] == "169.254.82.126" and net["link_local"] is True  # from MAC 24:0a:c4:00:51:7e
        sim.wait_output("net: trying DHCP again", timeout=30)
