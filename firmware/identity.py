"""The device's identity: serial, AP network name, WPA2 key and API password.

Created once on first boot and kept in ``identity.json``, apart from the config,
so a factory reset never changes it: it plays the part of the sticker on the box.
"""
import json
import os

# No 0/O, 1/l/I: the key is read off a sticker or a screen and typed on a phone.
_ALPHABET = "23456789abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ"
KEY_LEN = 12


def path(state_dir):
    """Where identity.json lives in the device's state directory."""
    return state_dir.rstrip("/") + "/identity.json"


def serial_of(unique_id):
    """The serial number: the MAC address as 12 upper-case hex digits."""
    return "".join("%02X" % b for b in unique_id)


def random_key(n=KEY_LEN, urandom=os.urandom):
    """``n`` random characters of an unambiguous alphabet (about 5.8 bits each)."""
    # 224 = 4 * 56: dropping bytes >= 224 keeps every character equally likely.
    out = []
    while len(out) < n:
        for b in urandom(n):
            if b < 224 and len(out) < n:
                out.append(_ALPHABET[b % len(_ALPHABET)])
    return "".join(out)


def create(unique_id, urandom=os.urandom):
    """A new identity for the device with this MAC."""
    serial = serial_of(unique_id)
    return {"serial": serial, "ssid": "P1GW-" + serial[-6:],
            "wpa_key": random_key(KEY_LEN, urandom), "api_password": random_key(KEY_LEN, urandom)}


def _valid(ident, serial):
    if not isinstance(ident, dict) or ident.get("serial") != serial:
        return False
    for k in ("ssid", "wpa_key", "api_password"):
        v = ident.get(k)
        if not isinstance(v, str) or len(v) < 8:
            return False
    return True


def load_or_create(state_dir, unique_id, urandom=os.urandom):
    """The stored identity, or a new one written to identity.json on first boot."""
    p = path(state_dir)
    serial = serial_of(unique_id)
    try:
        with open(p) as f:
            ident = json.load(f)
        if _valid(ident, serial):
            return ident
        # Another board's file, or damaged: keep it aside rather than lose it.
        print("identity: %s does not fit this device; kept as %s.bad, creating a new one" % (p, p))
        os.rename(p, p + ".bad")
    except OSError:
        pass
    except ValueError:
        print("identity: %s is not valid JSON; kept as %s.bad, creating a new one" % (p, p))
        os.rename(p, p + ".bad")
    ident = create(unique_id, urandom)
    tmp = p + ".tmp"
    with open(tmp, "w") as f:
        json.dump(ident, f)
    os.rename(tmp, p)
    print("identity: created %s (serial %s, AP %s)" % (p, serial, ident["ssid"]))
    return ident
