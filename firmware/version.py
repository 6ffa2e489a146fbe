"""The firmware version, in one place: the API, Modbus and MQTT discovery report it."""
VERSION = "0.1.0"


def revision():
    """VERSION as the EMPro firmware-revision uint32: 0xMMmmpp (1.2.3 -> 0x010203)."""
    major, minor, patch = (int(x) for x in VERSION.split("."))
    return major << 16 | minor << 8 | patch
