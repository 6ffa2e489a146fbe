"""Helpers for the Modbus unit tests: decode registers the way a master does."""
import struct


def regs(img, addr, qty):
    """Registers addr..addr+qty-1 of the served image, as a list of ints."""
    i = img.locate(addr, qty)
    assert i >= 0, "0x%04X+%d not mapped" % (addr, qty)
    o = img.offsets[i] + 2 * (addr - img.starts[i])
    b = img.front
    return [b[o + 2 * k] << 8 | b[o + 2 * k + 1] for k in range(qty)]


def f32_cdab(r0, r1):
    """float32 from two registers, low word first (EMPro)."""
    return struct.unpack(">f", struct.pack(">HH", r1, r0))[0]


def f32_abcd(r0, r1):
    """float32 from two registers, high word first (SDM630)."""
    return struct.unpack(">f", struct.pack(">HH", r0, r1))[0]


def close(a, b):
    """Equal within float32 precision."""
    return abs(a - b) <= 1e-6 * max(1.0, abs(b))


def request(fc, addr, qty, tid=0x1234, unit=1):
    """A read request ADU (MBAP + PDU)."""
    return bytes([tid >> 8, tid & 0xFF, 0, 0, 0, 6, unit, fc, addr >> 8, addr & 0xFF, qty >> 8, qty & 0xFF])


def reading_3phase():
    """A plausible 3-phase reading, exporting on L2."""
    import reading
    r = reading.new_reading()
    r.update({
        "voltage_l1_v": 230.1, "voltage_l2_v": 228.4, "voltage_l3_v": 233.7,
        "current_l1_a": 5.0, "current_l2_a": 3.0, "current_l3_a": 12.0,
        "power_l1_w": 1100.0, "power_l2_w": -650.0, "power_l3_w": 2750.0,
        "power_import_w": 3200.0, "power_export_w": 0.0, "power_w": 3200.0,
        "energy_import": 12345678, "energy_export": 2345500,  # Wh: counter_decimals 3
    })
    return r
