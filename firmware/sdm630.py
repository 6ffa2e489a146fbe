"""Eastron SDM630 input-register image, built from a reading.

For chargers and inverters that only know the SDM630. float32 IEEE 754, high
word first ("AB CD"), at Eastron's standard input-register addresses (30001
= 0x0000). Addresses taken from the Eastron "SDM630 Modbus Protocol" list as
transcribed in reaper7/SDM_Energy_Meter (SDM.h) and merlokk/SmartHome
(lib/eastron.h): 0x0000 V L1, 0x0006 I L1, 0x000C P L1, 0x002A mean V L-N,
0x002E mean I, 0x0030 sum I, 0x0034 total P, 0x0046 frequency, 0x0048 import
kWh, 0x004A export kWh, 0x00C8 V L1-L2, 0x00CE mean V L-L, 0x00E0 neutral I,
0x0156 total kWh. Energy is in kWh here (EMPro: Wh). Values a P1 meter does not
measure (VA, VAr, power factor, phase angle, neutral current) read 0; a value
this meter does not send (phases.py) is missing: exception 04.

Every address a real SDM630 answers is answered: its three input-register
ranges 30001-30108 (0x0000-0x006B), 30201-30270 (0x00C8-0x010D) and
30335-30382 (0x014E-0x017D), so readers that fetch them in batches (sdm_modbus
reads 0x0000x80, 0x0050x28, 0x00C8x70, 0x014Ex48) get every batch; unmapped
registers inside read 0. FC03 reads the SDM630's holding registers, its
settings, not the measurements: a 3P4W meter at Modbus id 1, 9600 baud N-1,
60-minute demand period (``_settings``); anything else there is exception 02.
"""
from micropython import const

import phases
from reading import counter, scaled
from regmap import RegImage

LOW_WORD_FIRST = False

_R_V_LN = const(0x0000)       # L1, L2, L3
_R_I = const(0x0006)          # L1, L2, L3
_R_P_PHASE = const(0x000C)    # L1, L2, L3
_R_V_LN_MEAN = const(0x002A)
_R_I_MEAN = const(0x002E)
_R_I_SUM = const(0x0030)
_R_P = const(0x0034)
_R_FREQ = const(0x0046)
_R_E_IMPORT = const(0x0048)   # kWh
_R_E_EXPORT = const(0x004A)   # kWh
_R_V_LL = const(0x00C8)       # L1-L2, L2-L3, L3-L1
_R_V_LL_MEAN = const(0x00CE)
_R_I_N = const(0x00E0)
_R_E_TOTAL = const(0x0156)    # kWh, import + export

# (start, count, live); all measured data, so all under the stale policy.
BLOCKS = (
    (0x0000, 0x006C, True),
    (0x00C8, 0x010E - 0x00C8, True),
    (0x014E, 0x017E - 0x014E, True),
)

# Holding registers (FC03): settings, never stale. float32 unless noted.
_H_DEMAND_PERIOD = const(0x0002)   # minutes
_H_SYSTEM_VOLTAGE = const(0x0006)  # V, read-only: the rated voltage
_H_SYSTEM_CURRENT = const(0x0008)  # A, read-only: the rated current
_H_SYSTEM_TYPE = const(0x000A)     # 1 = 1P2W, 2 = 3P3W, 3 = 3P4W
_H_PULSE_WIDTH = const(0x000C)     # ms
_H_PARITY_STOP = const(0x0012)     # 0 = no parity, one stop bit
_H_METER_ID = const(0x0014)        # Modbus address
_H_BAUD = const(0x001C)            # 2 = 9600
_H_SYSTEM_POWER = const(0x0024)    # W, read-only: rated voltage x current x 3
_H_P1_DIVISOR = const(0xF910)      # 0 = 0.001 kWh per pulse
_H_SERIAL = const(0xFC00)          # uint32
HOLDING = (
    (0x0000, 0x0026, False),
    (_H_P1_DIVISOR, 2, False),
    (_H_SERIAL, 2, False),
)


def new_image():
    img = RegImage(BLOCKS, LOW_WORD_FIRST)
    img.holding = RegImage(HOLDING, LOW_WORD_FIRST)
    return img


def _settings(h, serial):
    """The SDM630's documented settings, as a 3P4W meter 10(100) A at its defaults.

    Its serial number: the last 7 hex digits of the gateway's (an int below 2**30,
    which costs an ESP32 no heap).
    """
    h.put(_H_DEMAND_PERIOD, 60.0)
    h.put(_H_SYSTEM_VOLTAGE, 230.0)
    h.put(_H_SYSTEM_CURRENT, 100.0)
    h.put(_H_SYSTEM_TYPE, 3.0)
    h.put(_H_PULSE_WIDTH, 100.0)
    h.put(_H_PARITY_STOP, 0.0)
    h.put(_H_METER_ID, 1.0)
    h.put(_H_BAUD, 2.0)
    h.put(_H_SYSTEM_POWER, 69000.0)
    h.put(_H_P1_DIVISOR, 0.0)
    try:
        n = int(serial[-7:], 16)
    except ValueError:
        n = 0
    h.put(_H_SERIAL, n, ">I")
    h.commit()


def build(img, reading, serial, firmware):
    """Write every register of ``reading`` into ``img`` and swap it in.

    ``serial`` goes into the holding registers (written once); ``firmware`` is
    unused: the SDM630 has no such register. The signature matches empro.build
    so the server treats both alike.
    """
    if img.holding_serial != serial:
        _settings(img.holding, serial)
        img.holding_serial = serial
    value = phases.value
    ll = phases.ll_voltages(reading)
    for i in range(3):
        img.put(_R_V_LN + 2 * i, value(reading, phases.VOLTAGE[i]))
        img.put(_R_I + 2 * i, value(reading, phases.CURRENT[i]))
        img.put(_R_P_PHASE + 2 * i, value(reading, phases.POWER[i]))
        img.put(_R_V_LL + 2 * i, ll[i])
    i_sum = phases.phase_sum(reading, phases.CURRENT)
    img.put(_R_V_LN_MEAN, phases.mean_ln_voltage(reading))
    img.put(_R_I_MEAN, None if i_sum is None else i_sum / phases.phase_count(reading))
    img.put(_R_I_SUM, i_sum)
    img.put(_R_P, phases.total_power(reading))
    img.put(_R_FREQ, phases.frequency(reading))
    img.put(_R_E_IMPORT, counter(reading, "energy_import", 0))  # kWh
    img.put(_R_E_EXPORT, counter(reading, "energy_export", 0))
    img.put(_R_V_LL_MEAN, ll[3])
    img.put(_R_E_TOTAL, _total(reading))
    img.commit()


def _total(reading):
    """Import + export in kWh, added as exact counts before the one conversion to float."""
    imp = reading["energy_import"]
    exp = reading["energy_export"]
    if imp is None or exp is None:
        return None
    return scaled(imp + exp, reading["counter_decimals"])
