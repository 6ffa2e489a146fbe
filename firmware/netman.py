"""Network manager: keeps the configured client network up and decides when the AP is open.

Integration (app.py):
    import netman
    nm = netman.NetManager(hw.Net(board), hub, safe_mode=False)
    asyncio.create_task(nm.run())       # steps every 500 ms, publishes hub.status["net"]
    # button SHORT / POST /api/v1/reset / a PATCH touching WiFi, Ethernet or
    # DefaultNetIf -> nm.request_reconnect()   (settings are read from hub.config)
    # button AP -> nm.request_ap()
    # safe mode (safemode.py) -> safe_mode=True: AP only, no client network

The steps that run every poll are here; the rare ones (bringing an interface
up, the link-local fallback, opening or closing the AP) are in
``netconnect.py``, loaded for each and dropped: a gateway that stays connected
holds only the polling in its heap.

Policy (all times are class attributes, so tests and boards can tune them):
- One client interface at a time, ``DefaultNetIf`` "WiFi" or "Ethernet", DHCP
  or static IPv4 per interface; hostname ``p1gw-<serial>`` before connecting.
- An attempt that has no link and address after ``connect_timeout_ms`` is
  dropped and retried after an exponential backoff (``backoff_min_ms``
  doubling up to ``backoff_max_ms``). A lost link first gets
  ``connect_timeout_ms`` to come back by itself (the Wi-Fi driver and an
  Ethernet PHY both recover on their own), then the same backoff.
- Link-local fallback (Ethernet, as the Xemex does): after ``link_local_after``
  attempts in a row with a link but no address (no DHCP answer), the interface
  takes 169.254.x.y/16 (``link_local_ip``: from the MAC, so the same device
  always gets the same address), so an EV charger on a direct cable reaches
  it. DHCP is tried again every ``dhcp_retry_ms`` for ``dhcp_probe_ms`` (the
  link-local address is gone meanwhile: the charger sees a short gap); a
  reconnect request (button, API) asks DHCP at once.
- NTP after every (re)connect, then every ``ntp_every_ms``; a failed sync is
  retried after ``ntp_retry_ms``. Not on a link-local address (no internet).
- The access point (10.10.10.10/24, WPA2, SSID and key from identity.json)
  opens: from the button (reason "button"); when no network is configured,
  i.e. Wi-Fi with an empty SSID, at boot or once a PATCH clears it
  ("unconfigured"); when the configured network stays unreachable for
  ``fallback_ms`` ("fallback"); in safe mode ("safe", never closes). An AP
  that fails to start is tried again every ``backoff_min_ms``. The client
  keeps retrying while the AP is open (on an ESP32 each Wi-Fi attempt may
  move the AP to the router's channel, so a phone on the AP can drop briefly;
  the backoff keeps that rare).
- The AP closes once a client connection made while it was open has lasted
  ``ap_linger_ms`` (60 s): the phone that just saved new settings stays
  associated long enough to read the result (the new IP) on the status page.
  If the client network was already up when the AP opened (button pressed
  on a working device), the AP closes after ``ap_idle_ms`` (15 min) unless a
  reconnect with new settings closes it sooner. Without a client network the
  AP stays open.
"""
import ondemand
from clock import sleep_ms, ticks_diff, ticks_ms
from status import has_ip

START = "start"            # nothing tried yet
CONNECTING = "connecting"  # interface started, waiting for link + address
UP = "up"                  # client network has an address
BACKOFF = "backoff"        # waiting before the next attempt
OFF = "off"                # no client network (unconfigured or safe mode)


class NetManager:
    connect_timeout_ms = 30000
    backoff_min_ms = 5000
    backoff_max_ms = 300000
    fallback_ms = 300000
    ap_linger_ms = 60000
    ap_idle_ms = 900000
    ntp_every_ms = 6 * 3600 * 1000
    ntp_retry_ms = 60000
    link_local_after = 3
    dhcp_retry_ms = 300000
    dhcp_probe_ms = 15000
    poll_ms = 500

    def __init__(self, net, hub, safe_mode=False):
        self.net = net
        self.hub = hub
        self.safe_mode = safe_mode
        self.state = START
        self.ap_reason = None        # None (AP closed), "button", "unconfigured", "fallback", "safe"
        self._since = 0              # when the current state began
        self._wait_ms = 0            # BACKOFF: how long to wait from _since
        self._backoff_ms = self.backoff_min_ms
        self._down_since = None      # client network unreachable since (None while up)
        self._ap_since = 0           # when the AP opened, or last failed to
        self._ap_failed = None       # the reason of an AP that failed to start: retried
        self._ap_conn_ms = None      # when the client came up while the AP was open
        self._ntp_ms = 0             # last NTP attempt
        self._ntp_wait = 0           # 0 = sync now
        self._want_reconnect = False
        self._want_ap = False
        self._dhcp_failures = 0      # Ethernet attempts in a row with a link and no address
        self.link_local = None       # the 169.254.x.y address while it stands in for DHCP

    # -- requests from the button, the web API and the app --------------------

    def request_reconnect(self):
        """Drop the client connection and connect again now, with the current config."""
        self._want_reconnect = True

    def request_ap(self):
        """Open the access point (or restart its timers if it is open)."""
        self._want_ap = True

    # -- the state machine -----------------------------------------------------

    def step(self, now_ms):
        """Advance the state machine to ``now_ms``; publishes hub.status["net"]."""
        st = self.net.status()
        up = has_ip(st)
        state = self.state
        since = ticks_diff(now_ms, self._since)
        if state == START or self._want_reconnect:
            if self._rare("begin", now_ms):
                up = False
        elif state == UP:
            if not up or self.link_local and since >= self.dhcp_retry_ms:
                self._rare("timer", now_ms, st, up)  # link lost; or DHCP tried again on link-local
            elif not self.link_local:
                self._ntp(now_ms)
        elif state == CONNECTING or state == BACKOFF:
            if up:
                self._rare("up", now_ms, st)
            elif since >= (self._wait_ms if state == BACKOFF
                           else self.dhcp_probe_ms if self.link_local else self.connect_timeout_ms):
                self._rare("timer", now_ms, st, up)
        self._ap_policy(now_ms, up)
        self._publish(st)

    def _rare(self, step, *args):
        """One of netconnect's steps: loaded for it and dropped."""
        return ondemand.call("netconnect", step, self, *args)

    def _ntp(self, now_ms):
        if self._ntp_wait and ticks_diff(now_ms, self._ntp_ms) < self._ntp_wait:
            return
        self._ntp_ms = now_ms
        ok = self._call(self.net.sync_time)
        self._ntp_wait = self.ntp_every_ms if ok else self.ntp_retry_ms

    def _ap_policy(self, now_ms, up):
        if self._want_ap:
            self._want_ap = False
            self._rare("open_ap", "button", now_ms)
        if not self.ap_reason:
            if self._ap_failed is not None:
                if ticks_diff(now_ms, self._ap_since) >= self.backoff_min_ms:
                    self._rare("open_ap", self._ap_failed, now_ms)
            elif (self._down_since is not None
                    and ticks_diff(now_ms, self._down_since) >= self.fallback_ms):
                print("net: network unreachable, opening the access point")
                self._rare("open_ap", "fallback", now_ms)
            return
        if self.ap_reason == "safe" or not up:
            return
        if self._ap_conn_ms is not None:
            if ticks_diff(now_ms, self._ap_conn_ms) >= self.ap_linger_ms:
                self._rare("close_ap")
        elif ticks_diff(now_ms, self._ap_since) >= self.ap_idle_ms:
            self._rare("close_ap")

    def _call(self, fn, *args):
        """Run a hw call; False if it raised (logged), else True."""
        try:
            fn(*args)
            return True
        except Exception as e:
            print("net: %s failed: %r" % (getattr(fn, "__name__", "call"), e))
            return False

    def _publish(self, st):
        st["state"] = self.state
        st["ap_reason"] = self.ap_reason
        st["link_local"] = self.link_local is not None and st.get("ip") == self.link_local
        self.hub.status["net"] = st

    async def run(self, clock=ticks_ms):
        while True:
            self.step(clock())
            await sleep_ms(self.poll_ms)
