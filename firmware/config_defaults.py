"""The config's defaults, reading config.json at boot, and checking the simulator's overrides.

Needed only at boot and for a PATCH that sets a field back to its default
(``null``), so ``config`` imports it for the call and drops it again (see
``config.defaults``, ``config.load``): not even a PATCH's peak holds it.
"""
import json

from config import ConfigError


def defaults():
    """A fresh config with every field at its default.

    Built on each call rather than kept: a module-level dict would hold ~1 KB
    of an ESP32's heap for good, and the defaults are needed only at boot and
    for a PATCH (so they live here, loaded for those). Written with keyword
    arguments: each field name is then an identifier, a qstr interned when this
    module loads at boot (qstrs stay when the module is dropped), so config.json's
    keys (json.load, after that) and every other module's string constant of a
    field name ("IdleTimeoutS", "FailsafeCurrentA"...) resolve to it instead of
    each being a heap string of its own.
    """
    return dict(
        MeterType="PhoenixContact-EMPro",
        DefaultNetIf="WiFi",
        WiFi=dict(Ssid="", Password="", IpMode="DHCP",
                  StaticIPv4=dict(IpAddress="", Netmask="24", Gateway="", DNS="")),
        Ethernet=dict(IpMode="DHCP",
                      StaticIPv4=dict(IpAddress="", Netmask="24", Gateway="", DNS="")),
        MQTT=dict(Enabled=False, Broker="", Site="unknown-site", Username="", Password="",
                  IncludeTotals=False, HomeAssistant=False, MinIntervalS=0,
                  CaCert="", ClientCert="", ClientKey=""),
        Modbus=dict(Port=502, MaxClients=4, IdleTimeoutS=60, StaleAfterS=0,
                    StalePolicy="exception", FailsafeCurrentA=6.0),
        P1=dict(Protocol="auto", Baud="auto", SmartyKey="", SmartyAad="3000112233445566778899AABBCCDDEEFF",
                Passthrough=False),
        Http=dict(Port=80, OpenData=True, RawPort=2000),
    )


def load(path):
    """config.load's work: read config.json, keep each good field (config_check's rules),
    default the rest."""
    from config_check import SCHEMA, merge

    cfg = defaults()
    try:
        with open(path) as f:
            data = json.load(f)
    except OSError:
        return cfg, "%s missing; using defaults" % path
    except ValueError:
        return cfg, "%s is not valid JSON; using defaults" % path
    errors = []
    try:
        merge(cfg, data, SCHEMA, "", errors, [])
    except ConfigError as e:  # the top level is not an object
        return defaults(), "%s: %s; using defaults" % (path, e)
    if errors:
        return cfg, "%s: %s; using the default for %s" % (
            path, "; ".join(str(e) for e in errors), "a bad field" if len(errors) == 1 else "bad fields")
    return cfg, None


def checked(values):
    """config.override's check: ``values`` (dotted field -> value) as they would be stored;
    raise ConfigError for a bad one."""
    from config_check import SCHEMA, check

    out = {}
    for field, value in values.items():
        spec = SCHEMA
        try:
            for k in field.split("."):
                spec = spec[k]
        except (KeyError, TypeError):
            raise ConfigError(field, "unknown field")
        try:
            out[field] = check(spec, value)
        except ValueError as e:
            raise ConfigError(field, e.args[0])
    return out
