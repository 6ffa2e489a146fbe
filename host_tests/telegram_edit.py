"""Reference telegrams for the integration tests, and variants with chosen values.

The CRC of an edited telegram comes from crcmod, the independent reference.
"""
import os
import re

import crcmod.predefined

TELEGRAMS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "telegrams")
_crc = crcmod.predefined.mkCrcFun("crc-16")   # CRC-16/ARC, as DSMR uses


def read(name):
    """Raw bytes of host_tests/telegrams/<name>."""
    with open(os.path.join(TELEGRAMS, name), "rb") as f:
        return f.read()


def with_crc(body):
    """A telegram from its text up to and including '!', with a fresh CRC."""
    return body + b"%04X\r\n" % _crc(body)


def v5_telegram(import_t1_kwh=4.426, power_l1_kw=0.070):
    """The v5.p1 telegram with a chosen tariff-1 import and L1 power."""
    body = read("v5.p1")
    body = body[:body.index(b"!") + 1]
    body = re.sub(rb"1-0:1\.8\.1\([0-9.]+\*kWh\)", b"1-0:1.8.1(%010.3f*kWh)" % import_t1_kwh, body)
    body = re.sub(rb"1-0:21\.7\.0\([0-9.]+\*kW\)", b"1-0:21.7.0(%06.3f*kW)" % power_l1_kw, body)
    return with_crc(body)
