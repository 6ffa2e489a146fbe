"""The gateway's settings: defaults, JSON merge-patch, redaction and atomic save.

``config.json`` has the Xemex Smart Connect shape (docs/ARCHITECTURE.md). Every
field is checked on its own, so an error names the field ("MQTT.Broker") and a
bad PATCH changes nothing. The checks live in ``config_check``, the defaults and
the reading of the file at boot in ``config_defaults``, each loaded only for the
call that needs it (``ondemand``). Pure logic apart from
``load``/``save``; runs under CPython, the unix port and the ESP32.
"""
import json
import os

import ondemand

MASK = "********"


def defaults():
    """A fresh config with every field at its default (built by config_defaults: see there)."""
    return ondemand.call("config_defaults", "defaults")


# Never sent back by the API: redact() shows them as MASK when set, and a PATCH
# that sends MASK back (a form round-trip) leaves the stored value alone.
SECRETS = ("WiFi.Password", "MQTT.Password", "MQTT.ClientKey", "P1.SmartyKey")


class ConfigError(ValueError):
    """A rejected value: ``field`` is its dotted name, ``message`` says why."""

    def __init__(self, field, message):
        super().__init__("%s: %s" % (field, message))
        self.field = field
        self.message = message


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


def patch(cfg, changes):
    """Validate and apply a JSON merge-patch; return (new_cfg, restart_needed).

    Raises ConfigError naming the first bad field; ``cfg`` is never changed.
    ``null`` resets a field (or a whole section) to its default.
    The checks (and what they import: broker_url, pem) are ~5 KB of heap that a
    running gateway needs only at boot and for a PATCH: loaded for the call
    (config_check) and dropped after.
    """
    return ondemand.call("config_check", "patch", cfg, changes)


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
    ``--modbus-port`` and friends never end up in config.json, unless a PATCH
    has changed the field since. Values are
    checked like a PATCH's; a bad one raises ConfigError.
    """
    for field, value in ondemand.call("config_defaults", "checked", values).items():
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
    says what happened so the log shows it. (Boot only: the work is config_defaults'.)
    """
    return ondemand.call("config_defaults", "load", path)


def save(path, cfg):
    """Write ``cfg`` atomically: a temp file, then rename over config.json.

    A power cut (or kill -9) leaves either the old file or the new one, never
    half of one: rename is atomic on POSIX and on LittleFS.
    """
    if _overrides:
        cfg = copy(cfg)
        for field in list(_overrides):
            if get(cfg, field) == _overrides[field]:
                _set(cfg, field, _stored[field])
            else:  # changed since (a PATCH): the user's value now, saved like any other
                del _overrides[field]
                del _stored[field]
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(cfg, f)
    os.rename(tmp, path)
