"""The network manager's rare steps (netman.py): loaded for each and dropped.

Each function takes the ``NetManager`` and changes its state: the first
attempt or a reconnect (``begin``), a timer that ran out (``timer``: an
attempt with no address, a back-off over, a lost link, DHCP tried again on a
link-local address), the network coming ``up``, the access point opening or
closing. Also the pure helpers they use (static IPv4 settings, the link-local
address) and the scan list for the config page (``networks``).
"""
from netman import BACKOFF, CONNECTING, OFF, START, UP

AP_IP = "10.10.10.10"


def networks(scan):
    """Access points for the page from ``WLAN.scan()`` tuples: one per name, strongest first.

    A name that is not UTF-8 (an old router's Latin-1) is left out: it could
    not be typed into the config, nor joined by a name in UTF-8. Security 0 is
    ``network.AUTH_OPEN``.
    """
    best = {}
    for ssid, _bssid, _ch, rssi, security, _hidden in scan:
        try:
            name = ssid.decode()
        except UnicodeError:
            continue
        if name and (name not in best or rssi > best[name]["rssi"]):
            best[name] = {"ssid": name, "rssi": rssi, "secure": security != 0}
    return sorted(best.values(), key=lambda n: -n["rssi"])


def netmask(value):
    """Dotted netmask from a prefix length ("24") or a dotted mask (returned as is)."""
    value = str(value).strip()
    if "." in value:
        return value
    bits = int(value)
    if not 0 <= bits <= 32:
        raise ValueError("netmask prefix out of range: %d" % bits)
    m = (0xFFFFFFFF << (32 - bits)) & 0xFFFFFFFF
    return "%d.%d.%d.%d" % (m >> 24, (m >> 16) & 255, (m >> 8) & 255, m & 255)


def ipv4_settings(section):
    """None for DHCP, else the (ip, netmask, gateway, dns) tuple hw ``Net`` takes."""
    if section.get("IpMode") != "Static":
        return None
    s = section.get("StaticIPv4") or {}
    gw = s.get("Gateway", "")
    return (s.get("IpAddress", ""), netmask(s.get("Netmask", "24")), gw, s.get("DNS") or gw)


def link_local_ip(mac):
    """169.254.x.y from MAC "aa:bb:cc:dd:ee:ff": x = 1 + 5th byte mod 254 (RFC 3927
    leaves out 169.254.0.x and .255.x), y = 6th byte."""
    parts = mac.split(":")
    return "169.254.%d.%d" % (1 + int(parts[4], 16) % 254, int(parts[5], 16))


def client_configured(cfg):
    """Ethernet needs no settings; Wi-Fi needs an SSID."""
    if cfg.get("DefaultNetIf") == "Ethernet":
        return True
    return bool((cfg.get("WiFi") or {}).get("Ssid"))


def _set(nm, state, now_ms):
    nm.state = state
    nm._since = now_ms


def begin(nm, now_ms):
    """The first attempt (the host name set first), or a reconnect asked for; True for a
    reconnect: the network is down now."""
    again = nm.state != START
    nm._want_reconnect = False
    if again:
        nm._call(nm.net.disconnect)
        nm._backoff_ms = nm.backoff_min_ms
        nm._dhcp_failures = 0
        nm.link_local = None
        if nm._down_since is None:
            nm._down_since = now_ms
    else:
        serial = str(nm.hub.identity.get("serial", "")).lower()
        nm._call(nm.net.set_hostname, "p1gw-" + serial)
        nm._down_since = now_ms
    _connect(nm, now_ms)
    return again


def _connect(nm, now_ms):
    cfg = nm.hub.config
    if nm.safe_mode or not client_configured(cfg):
        # At boot, or a PATCH that cleared the Wi-Fi: nothing to reach, so no
        # fallback timer; the AP is the only way in.
        _set(nm, OFF, now_ms)
        nm._down_since = None
        open_ap(nm, "safe" if nm.safe_mode else "unconfigured", now_ms)
        return
    try:
        if cfg.get("DefaultNetIf") == "Ethernet":
            print("net: starting Ethernet")
            nm.net.start_ethernet(ipv4_settings(cfg.get("Ethernet") or {}))
        else:
            wifi = cfg.get("WiFi") or {}
            print("net: connecting to Wi-Fi %s" % wifi.get("Ssid"))
            nm.net.start_wifi(wifi.get("Ssid"), wifi.get("Password", ""), ipv4_settings(wifi))
    except Exception as e:  # bad static address, no Ethernet on this board, driver error
        print("net: connect failed: %r" % (e,))
        _backoff(nm, now_ms)
        return
    _set(nm, CONNECTING, now_ms)


def _backoff(nm, now_ms):
    _set(nm, BACKOFF, now_ms)
    nm._wait_ms = nm._backoff_ms
    nm._backoff_ms = min(nm._backoff_ms * 2, nm.backoff_max_ms)


def up(nm, now_ms, st):
    """CONNECTING or BACKOFF, and the client network has an address."""
    print("net: up, %s %s" % (st.get("iface"), st.get("ip")))
    if st.get("ip") != nm.link_local:  # DHCP (or a static address) answered
        nm.link_local = None
        nm._dhcp_failures = 0
    _set(nm, UP, now_ms)
    nm._backoff_ms = nm.backoff_min_ms
    nm._down_since = None
    nm._ntp_wait = 0
    if nm._ap_failed == "fallback":
        nm._ap_failed = None  # the network it stood in for is back
    if nm.ap_reason:
        nm._ap_conn_ms = now_ms
    if not nm.link_local:
        nm._ntp(now_ms)


def timer(nm, now_ms, st, up):
    """The current state's time ran out (or, UP, the network went)."""
    if nm.state == BACKOFF:
        _connect(nm, now_ms)
    elif nm.state == UP:
        if up:  # on link-local
            print("net: trying DHCP again")
            nm._call(nm.net.start_ethernet, None)
            _set(nm, CONNECTING, now_ms)
        else:
            print("net: link lost")
            _set(nm, CONNECTING, now_ms)
            nm._down_since = now_ms
    else:  # CONNECTING with no address in time
        print("net: no connection")
        if st.get("iface") == "ethernet" and st.get("link"):
            nm._dhcp_failures += 1  # a link, but no DHCP answer
        if nm._dhcp_failures >= nm.link_local_after:
            nm.link_local = link_local_ip(st.get("mac") or "0:0:0:0:0:0")
            print("net: no DHCP answer: link-local %s" % nm.link_local)
            nm._call(nm.net.start_ethernet, (nm.link_local, "255.255.0.0", "0.0.0.0", "0.0.0.0"))
            _set(nm, CONNECTING, now_ms)
        else:
            nm._call(nm.net.disconnect)
            _backoff(nm, now_ms)


def open_ap(nm, reason, now_ms):
    ident = nm.hub.identity
    if not nm.ap_reason:
        print("net: access point %s at %s (%s)" % (ident.get("ssid"), AP_IP, reason))
        if not nm._call(nm.net.start_ap, ident.get("ssid"), ident.get("wpa_key"), AP_IP):
            nm._ap_failed = reason  # tried again after backoff_min_ms
            nm._ap_since = now_ms
            return
    nm._ap_failed = None
    if nm.ap_reason != "safe":
        nm.ap_reason = reason
    nm._ap_since = now_ms
    nm._ap_conn_ms = None


def close_ap(nm):
    print("net: closing the access point")
    nm._call(nm.net.stop_ap)
    nm.ap_reason = None
    nm._ap_conn_ms = None
