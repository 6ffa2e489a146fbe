"""MQTT broker URLs: the one parser the config check and the publisher share."""
from micropython import const

PORT = const(1883)
TLS_PORT = const(8883)


def parse_broker(url):
    """Split ``mqtt://host[:port]`` or ``mqtts://host[:port]`` into (tls, host, port).

    Raises ValueError saying what is wrong, so the status page can show it.
    """
    if not url:
        raise ValueError("no broker set (MQTT.Broker, like mqtt://host:1883)")
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError("broker %r needs a scheme: mqtt://host:port or mqtts://host:port" % url)
    scheme = scheme.lower()
    if scheme not in ("mqtt", "mqtts"):
        raise ValueError("broker scheme %r: use mqtt:// or mqtts://" % scheme)
    tls = scheme == "mqtts"
    if rest.endswith("/"):
        rest = rest[:-1]
    if "@" in rest:
        raise ValueError("broker URL must not hold credentials: set MQTT.Username and MQTT.Password")
    if "/" in rest or "?" in rest or "#" in rest:
        raise ValueError("broker URL takes only host and port, no path")
    if rest.startswith("["):
        raise ValueError("IPv6 brokers are not supported")
    host, sep, port = rest.partition(":")
    if not host:
        raise ValueError("broker URL %r has no host" % url)
    for c in host:
        if not (c.isalpha() or c.isdigit() or c in ".-_"):
            raise ValueError("broker host %r: invalid character %r" % (host, c))
    if not sep:
        return tls, host, TLS_PORT if tls else PORT
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError("broker port %r: must be 1..65535" % port)
    return tls, host, int(port)
