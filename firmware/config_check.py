"""The config's rules: every field's check, the merge-patch and the rules across fields.

Needed only when a config is loaded, patched or overridden, so ``config``
imports it for that call and drops it again (see ``config._rules``): most of the
time its heap is free. Callers use ``config.patch``, ``config.load`` and
``config.override``.
"""
from broker_url import parse_broker
from config import MASK, SECRETS, ConfigError, copy, get


# Fields the running gateway applies by itself ("MQTT.": the whole section, the
# publisher reconnects on any change; the network sections: the web API asks the
# network manager to reconnect); changing any other field needs a restart (ports,
# the P1 reader).
LIVE = (" MeterType DefaultNetIf WiFi. Ethernet. MQTT. Modbus.MaxClients Modbus.IdleTimeoutS"
        " Modbus.StaleAfterS Modbus.StalePolicy Modbus.FailsafeCurrentA Http.OpenData ")  # one constant, not one per field

_PEM_MAX = 4096

# Same shape as defaults(); each leaf says how to check the value. Tuples, not
# closures: the table costs a few hundred bytes instead of a function per field.
_E_MODE = ("e", ("DHCP", "Static"))
_STATIC = {"IpAddress": ("ip",), "Netmask": ("mask",), "Gateway": ("ip",), "DNS": ("ip",)}
SCHEMA = {
    "MeterType": ("e", ("PhoenixContact-EMPro", "Eastron-SDM630")),
    "DefaultNetIf": ("e", ("WiFi", "Ethernet")),
    "WiFi": {"Ssid": ("t", 32), "Password": ("wpa",), "IpMode": _E_MODE, "StaticIPv4": _STATIC},
    "Ethernet": {"IpMode": _E_MODE, "StaticIPv4": _STATIC},
    "MQTT": {"Enabled": ("b",), "Broker": ("url",), "Site": ("t", 64, "+#/"), "Username": ("t", 64),
             "Password": ("t", 128), "IncludeTotals": ("b",), "HomeAssistant": ("b",),
             "MinIntervalS": ("i", 0, 86400), "CaCert": ("pem", "CERTIFICATE"),
             "ClientCert": ("pem", "CERTIFICATE"), "ClientKey": ("pem", "PRIVATE KEY")},
    "Modbus": {"Port": ("i", 1, 65535), "MaxClients": ("i", 1, 8), "IdleTimeoutS": ("i", 0, 86400),
               "StaleAfterS": ("i", 0, 3600), "StalePolicy": ("e", ("exception", "failsafe")),
               "FailsafeCurrentA": ("f", 1, 100)},  # 0 A would tell a charger the house is idle
    "P1": {"Protocol": ("e", ("auto", "dsmr", "tic")), "Baud": ("e", ("auto", "115200", "9600", "1200")), "SmartyKey": ("hex", 16, True),
           "SmartyAad": ("hex", 17, False), "Passthrough": ("b",)},
    "Http": {"Port": ("i", 1, 65535), "OpenData": ("b",), "RawPort": ("i", 1, 65535)},
}


def _ipv4(v):
    """Raise ValueError unless ``v`` is dotted-decimal IPv4; return it as an int."""
    parts = v.split(".")
    if len(parts) != 4:
        raise ValueError("not an IPv4 address")
    n = 0
    for p in parts:
        # "01" and "+1" pass int() but are not dotted-decimal.
        if not p or len(p) > 3 or not p.isdigit() or (len(p) > 1 and p[0] == "0") or int(p) > 255:
            raise ValueError("not an IPv4 address")
        n = (n << 8) | int(p)
    return n


def _joined_pairs(v):
    """``v`` with each UTF-16 surrogate pair joined into the character it encodes.

    Python's json.dumps sends an emoji as "\\ud83d\\ude00"; MicroPython's json
    keeps each half as a character of its own, which is not valid UTF-8 (an MQTT
    broker drops a connection carrying it). A half without its partner is refused.
    """
    out = []
    hi = 0
    for c in v:
        o = ord(c)
        if hi and 0xDC00 <= o <= 0xDFFF:
            out.append(chr(0x10000 + (hi - 0xD800) * 0x400 + o - 0xDC00))
            hi = 0
        elif hi or 0xDC00 <= o <= 0xDFFF:
            raise ValueError("holds half of a UTF-16 surrogate pair")
        elif 0xD800 <= o <= 0xDBFF:
            hi = o
        else:
            out.append(c)
    if hi:
        raise ValueError("holds half of a UTF-16 surrogate pair")
    return "".join(out)


def check(spec, v):
    """Return ``v`` as stored if it meets ``spec`` (a SCHEMA leaf), else raise ValueError(why)."""
    kind = spec[0]
    if kind == "b":
        if v is not True and v is not False:
            raise ValueError("must be true or false")
        return v
    if kind in ("i", "f"):
        if isinstance(v, bool) or not isinstance(v, int) and (kind == "i" or not isinstance(v, float)):
            raise ValueError("must be an integer" if kind == "i" else "must be a number")
        if not spec[1] <= v <= spec[2]:
            raise ValueError("must be %s..%s" % (spec[1], spec[2]))
        return v if kind == "i" else float(v)
    if kind == "e":
        if v not in spec[1]:
            raise ValueError("must be one of " + ", ".join(spec[1]))
        return v
    if not isinstance(v, str):
        raise ValueError("must be a string")
    if kind == "t":
        v = _joined_pairs(v)
        if len(v.encode()) > spec[1]:
            raise ValueError("longer than %d bytes" % spec[1])
        for c in v:
            o = ord(c)
            # C0, DEL and C1 controls (U+0085 is a line break too), and Unicode's line
            # and paragraph separators: each would split a topic or a log line.
            if o < 32 or 127 <= o <= 159 or o == 0x2028 or o == 0x2029:
                raise ValueError("contains a control character")
            if len(spec) > 2 and c in spec[2]:  # e.g. MQTT wildcards or "/" in a topic level
                raise ValueError("may not contain " + " or ".join(spec[2]))
    elif kind == "wpa":
        if v and not 8 <= len(v) <= 63:
            raise ValueError("WPA2 passphrase must be 8..63 characters")
        for c in v:
            if not 32 <= ord(c) <= 126:
                raise ValueError("WPA2 passphrase must be printable ASCII")
    elif kind == "ip":
        if v:
            _ipv4(v)
    elif kind == "mask":  # a prefix length "0".."32" or a dotted mask with contiguous ones
        if v.isdigit() and len(v) <= 2:
            if int(v) > 32:
                raise ValueError("prefix length must be 0..32")
        else:
            inv = ~_ipv4(v) & 0xFFFFFFFF
            if inv & (inv + 1):
                raise ValueError("not a contiguous netmask")
    elif kind == "url":
        _check_broker(v)
    elif kind == "hex":
        if len(v) != 2 * spec[1] and not (spec[2] and not v):
            raise ValueError("must be %d hex digits" % (2 * spec[1]))
        for c in v:
            if c not in "0123456789abcdefABCDEF":
                raise ValueError("must be hex digits only")
    elif kind == "pem":
        if len(v) > _PEM_MAX:
            raise ValueError("longer than %d characters" % _PEM_MAX)
        if v:
            import pem  # only for a certificate or key: most PATCHes never load it

            pem.blocks(v, spec[1], False)  # what the publisher will load, or why not
    return v


def _check_broker(v):
    """"" or mqtt[s]://host[:port], by the publisher's own parser."""
    if not v:
        return
    if len(v) > 200:
        raise ValueError("must be a URL like mqtt://host:1883, at most 200 characters")
    parse_broker(v)


def merge(out, changes, schema, prefix, errors, changed):
    """Apply ``changes`` onto ``out`` (a copy), checking each leaf.

    A bad field raises ConfigError, or, when ``errors`` is a list (loading a
    file), is noted there and skipped so the rest of the file still counts.
    """
    if not isinstance(changes, dict):
        raise ConfigError(prefix[:-1] or "config", "must be an object")
    for key, value in changes.items():
        field = prefix + key
        try:
            if key not in schema:
                raise ConfigError(field, "unknown field")
            spec = schema[key]
            if value is None:  # merge-patch null: back to the default (built only for a null)
                from config_defaults import defaults
                value = get(defaults(), field)
            if isinstance(spec, dict):
                merge(out[key], value, spec, field + ".", errors, changed)
                continue
            if value == MASK and field in SECRETS:
                continue
            try:
                value = check(spec, value)
            except ValueError as e:
                raise ConfigError(field, e.args[0])
            if out[key] != value:
                out[key] = value
                changed.append(field)
        except ConfigError as e:
            if errors is None:
                raise
            errors.append(e)


_PORTS = ("Http.Port", "Http.RawPort", "Modbus.Port")


def _check_whole(cfg, changed=()):
    """Rules that span fields, checked after a patch; ``changed`` fields are named first."""
    for i, a in enumerate(_PORTS):
        for b in _PORTS[i + 1:]:
            if get(cfg, a) == get(cfg, b):
                # Two servers on one port: the second could not start after a restart.
                a, b = (b, a) if b in changed else (a, b)
                raise ConfigError(a, "port %d is already used by %s" % (get(cfg, a), b))
    for net in ("WiFi", "Ethernet"):
        if cfg[net]["IpMode"] == "Static":
            for k in ("IpAddress", "Gateway"):
                if not cfg[net]["StaticIPv4"][k]:
                    raise ConfigError("%s.StaticIPv4.%s" % (net, k), "required when IpMode is Static")
    if cfg["MQTT"]["Enabled"] and not cfg["MQTT"]["Broker"]:
        raise ConfigError("MQTT.Broker", "required when MQTT is enabled")
    if cfg["MQTT"]["ClientCert"] and not cfg["MQTT"]["ClientKey"]:
        raise ConfigError("MQTT.ClientKey", "required with a client certificate")
    p1 = cfg["P1"]
    if p1["SmartyKey"] and (p1["Baud"] not in ("auto", "115200") or p1["Protocol"] == "tic"):
        # Encrypted bytes need all 8 bits: 9600 7E1 would fail every frame.
        raise ConfigError("P1.SmartyKey" if "P1.SmartyKey" in changed else
                          "P1.Protocol" if "P1.Protocol" in changed else "P1.Baud",
                          "a Smarty meter sends DSMR at 115200 (Protocol auto or dsmr, Baud auto or 115200)")
    if p1["Protocol"] == "dsmr" and p1["Baud"] == "1200" or p1["Protocol"] == "tic" and p1["Baud"] == "115200":
        # DSMR is 115200 or 9600, TIC 9600 (standard) or 1200 (historique).
        raise ConfigError("P1.Protocol" if "P1.Protocol" in changed else "P1.Baud",
                          "%s meters do not send at %s baud" % (p1["Protocol"].upper(), p1["Baud"]))
    if cfg["MQTT"]["Password"] and not cfg["MQTT"]["Username"] \
            and ("MQTT.Password" in changed or "MQTT.Username" in changed):
        # MQTT sends no password without a user name: it would be dropped unseen.
        raise ConfigError("MQTT.Username", "required with a password")


def patch(cfg, changes):
    """config.patch's work: the new config and whether it needs a restart."""
    out = copy(cfg)
    changed = []
    merge(out, changes, SCHEMA, "", None, changed)
    _check_whole(out, changed)
    restart = False
    for field in changed:
        if " %s " % field not in LIVE and " %s " % field[:field.find(".") + 1] not in LIVE:
            restart = True
    return out, restart
