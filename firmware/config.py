"""The gateway's settings: defaults, validation, JSON merge-patch and atomic save.

``config.json`` has the Xemex Smart Connect shape (docs/ARCHITECTURE.md). Every
field is checked on its own, so an error names the field ("MQTT.Broker") and a
bad PATCH changes nothing. Pure logic apart from ``load``/``save``; runs under
CPython, the unix port and the ESP32.
"""
import json
import os

from broker_url import parse_broker

MASK = "********"

DEFAULTS = {
    "MeterType": "PhoenixContact-EMPro",
    "DefaultNetIf": "WiFi",
    "WiFi": {"Ssid": "", "Password": "", "IpMode": "DHCP",
             "StaticIPv4": {"IpAddress": "", "Netmask": "24", "Gateway": "", "DNS": ""}},
    "Ethernet": {"IpMode": "DHCP",
                 "StaticIPv4": {"IpAddress": "", "Netmask": "24", "Gateway": "", "DNS": ""}},
    "MQTT": {"Enabled": False, "Broker": "", "Site": "unknown-site", "Username": "", "Password": "",
             "IncludeTotals": False, "HomeAssistant": False, "MinIntervalS": 0,
             "CaCert": "", "ClientCert": "", "ClientKey": ""},
    "Modbus": {"Port": 502, "MaxClients": 4, "IdleTimeoutS": 60, "StaleAfterS": 0,
               "StalePolicy": "exception", "FailsafeCurrentA": 6.0},
    "P1": {"Baud": "auto", "SmartyKey": "", "SmartyAad": "3000112233445566778899AABBCCDDEEFF",
           "Passthrough": False},
    "Http": {"Port": 80, "OpenData": True, "RawPort": 2000},
}

# Never sent back by the API: redact() shows them as MASK when set, and a PATCH
# that sends MASK back (a form round-trip) leaves the stored value alone.
SECRETS = ("WiFi.Password", "MQTT.Password", "MQTT.ClientKey", "P1.SmartyKey")

# Fields the running services pick up from hub.config by themselves; changing
# any other field needs a restart (network, ports, the P1 reader, MQTT session).
LIVE = ("MeterType", "MQTT.Site", "MQTT.IncludeTotals", "MQTT.HomeAssistant", "MQTT.MinIntervalS",
        "Modbus.MaxClients", "Modbus.IdleTimeoutS", "Modbus.StaleAfterS", "Modbus.StalePolicy",
        "Modbus.FailsafeCurrentA", "Http.OpenData")

_PEM_MAX = 4096


class ConfigError(ValueError):
    """A rejected value: ``field`` is its dotted name, ``message`` says why."""

    def __init__(self, field, message):
        super().__init__("%s: %s" % (field, message))
        self.field = field
        self.message = message


# Same shape as DEFAULTS; each leaf says how to check the value. Tuples, not
# closures: the table costs a few hundred bytes instead of a function per field.
_E_MODE = ("e", ("DHCP", "Static"))
_STATIC = {"IpAddress": ("ip",), "Netmask": ("mask",), "Gateway": ("ip",), "DNS": ("ip",)}
SCHEMA = {
    "MeterType": ("e", ("PhoenixContact-EMPro", "Eastron-SDM630")),
    "DefaultNetIf": ("e", ("WiFi", "Ethernet")),
    "WiFi": {"Ssid": ("t", 32), "Password": ("wpa",), "IpMode": _E_MODE, "StaticIPv4": _STATIC},
    "Ethernet": {"IpMode": _E_MODE, "StaticIPv4": _STATIC},
    "MQTT": {"Enabled": ("b",), "Broker": ("url",), "Site": ("t", 64), "Username": ("t", 64),
             "Password": ("t", 128), "IncludeTotals": ("b",), "HomeAssistant": ("b",),
             "MinIntervalS": ("i", 0, 86400), "CaCert": ("pem",), "ClientCert": ("pem",),
             "ClientKey": ("pem",)},
    "Modbus": {"Port": ("i", 1, 65535), "MaxClients": ("i", 1, 8), "IdleTimeoutS": ("i", 0, 86400),
               "StaleAfterS": ("i", 0, 3600), "StalePolicy": ("e", ("exception", "failsafe")),
               "FailsafeCurrentA": ("f", 0, 100)},
    "P1": {"Baud": ("e", ("auto", "115200", "9600")), "SmartyKey": ("hex", 16, True),
           "SmartyAad": ("hex", 17, False), "Passthrough": ("b",)},
    "Http": {"Port": ("i", 1, 65535), "OpenData": ("b",), "RawPort": ("i", 0, 65535)},
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
        if len(v.encode()) > spec[1]:
            raise ValueError("longer than %d bytes" % spec[1])
        for c in v:
            if ord(c) < 32 or ord(c) == 127:
                raise ValueError("contains a control character")
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
        if v and not v.startswith("-----BEGIN "):
            raise ValueError("must be PEM text (-----BEGIN ...)")
        if len(v) > _PEM_MAX:
            raise ValueError("longer than %d characters" % _PEM_MAX)
    return v


def _check_broker(v):
    """"" or mqtt[s]://host[:port], by the publisher's own parser."""
    if not v:
        return
    if len(v) > 200:
        raise ValueError("must be a URL like mqtt://host:1883, at most 200 characters")
    parse_broker(v)


def copy(cfg):
    """A deep copy of a config (dicts of plain values)."""
    return {k: copy(v) if isinstance(v, dict) else v for k, v in cfg.items()}


def get(cfg, field):
    """The value at a dotted field name, e.g. get(cfg, "MQTT.Broker")."""
    for k in field.split("."):
        cfg = cfg[k]
    return cfg


def _set(cfg, field, value):
    keys = field.split(".")
    for k in keys[:-1]:
        cfg = cfg[k]
    cfg[keys[-1]] = value


def _merge(out, changes, schema, defaults, prefix, errors, changed):
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
            if isinstance(spec, dict):
                if value is None:  # merge-patch null: back to the defaults
                    value = copy(defaults[key])
                _merge(out[key], value, spec, defaults[key], field + ".", errors, changed)
                continue
            if value is None:
                value = defaults[key]
            elif value == MASK and field in SECRETS:
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


def _check_whole(cfg):
    """Rules that span fields, checked after a patch."""
    for net in ("WiFi", "Ethernet"):
        if cfg[net]["IpMode"] == "Static":
            for k in ("IpAddress", "Gateway"):
                if not cfg[net]["StaticIPv4"][k]:
                    raise ConfigError("%s.StaticIPv4.%s" % (net, k), "required when IpMode is Static")
    if cfg["MQTT"]["Enabled"] and not cfg["MQTT"]["Broker"]:
        raise ConfigError("MQTT.Broker", "required when MQTT is enabled")
    if cfg["MQTT"]["ClientCert"] and not cfg["MQTT"]["ClientKey"]:
        raise ConfigError("MQTT.ClientKey", "required with a client certificate")


def patch(cfg, changes):
    """Validate and apply a JSON merge-patch; return (new_cfg, restart_needed).

    Raises ConfigError naming the first bad field; ``cfg`` is never changed.
    ``null`` resets a field (or a whole section) to its default.
    """
    out = copy(cfg)
    changed = []
    _merge(out, changes, SCHEMA, DEFAULTS, "", None, changed)
    _check_whole(out)
    restart = False
    for field in changed:
        if field not in LIVE:
            restart = True
    return out, restart


def redact(cfg):
    """A copy safe to show: every secret that is set reads MASK."""
    out = copy(cfg)
    for field in SECRETS:
        if get(out, field):
            _set(out, field, MASK)
    return out


# --- host overrides: the simulator's ports, never written to the file ---

_overrides = {}   # dotted field -> value in effect now
_stored = {}      # dotted field -> the value the file holds


def override(cfg, values):
    """Put runtime-only values (dict field -> value) into ``cfg`` in place.

    ``save`` writes the file's own values for those fields, so the simulator's
    ``--modbus-port`` and friends never end up in config.json. Values are
    checked like a PATCH's; a bad one raises ConfigError.
    """
    for field, value in values.items():
        spec = SCHEMA
        try:
            for k in field.split("."):
                spec = spec[k]
        except (KeyError, TypeError):
            raise ConfigError(field, "unknown field")
        try:
            value = check(spec, value)
        except ValueError as e:
            raise ConfigError(field, e.args[0])
        _stored[field] = get(cfg, field)
        _overrides[field] = value
        _set(cfg, field, value)


def path(state_dir):
    """Where config.json lives in the device's state directory."""
    return state_dir.rstrip("/") + "/config.json"


def load(path):
    """Read config.json; return (cfg, error message or None).

    A missing or unreadable file gives the defaults; a field with a bad value
    gets its default while the other fields are kept. Either way the message
    says what happened so the log shows it.
    """
    cfg = copy(DEFAULTS)
    try:
        with open(path) as f:
            data = json.load(f)
    except OSError:
        return cfg, "%s missing; using defaults" % path
    except ValueError:
        return cfg, "%s is not valid JSON; using defaults" % path
    errors = []
    try:
        _merge(cfg, data, SCHEMA, DEFAULTS, "", errors, [])
    except ConfigError as e:  # the top level is not an object
        return copy(DEFAULTS), "%s: %s; using defaults" % (path, e)
    if errors:
        return cfg, "%s: %s; using the default for %s" % (
            path, "; ".join(str(e) for e in errors), "a bad field" if len(errors) == 1 else "bad fields")
    return cfg, None


def save(path, cfg):
    """Write ``cfg`` atomically: a temp file, then rename over config.json.

    A power cut (or kill -9) leaves either the old file or the new one, never
    half of one: rename is atomic on POSIX and on LittleFS.
    """
    if _overrides:
        cfg = copy(cfg)
        for field in _overrides:
            _set(cfg, field, _stored[field])
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(cfg, f)
    os.rename(tmp, path)
