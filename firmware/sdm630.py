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
    (_R_V_LN, _R_E_EXPORT + 2 - _R_V_LN, True),
    (_R_V_LL, _R_I_N + 2 - _R_V_LL, True),
    (_R_E_TOTAL, 2, True),
)



def new_image():
    return RegImage(BLOCKS, LOW_WORD_FIRST)


def build(img, reading, serial, firmware):
    """Write every register of ``reading`` into ``img`` and swap it in.

    ``serial`` and ``firmware`` are unused: the SDM630 has no such input
    registers; the signature matches empro.build so the server treats both alike.
    """
    value = phases.value
    ll = phases.ll_voltages(reading)
    for i in range(3):
        img.f32(_R_V_LN + 2 * i, value(reading, phases.VOLTAGE[i]))
        img.f32(_R_I + 2 * i, value(reading, phases.CURRENT[i]))
        img.f32(_R_P_PHASE + 2 * i, value(reading, phases.POWER[i]))
        img.f32(_R_V_LL + 2 * i, ll[i] if ll else 0.0)
    i_sum = phases.sum_current(reading)
    img.f32(_R_V_LN_MEAN, phases.mean_ln_voltage(reading))
    img.f32(_R_I_MEAN, None if i_sum is None else i_sum / phases.phase_count(reading))
    img.f32(_R_I_SUM, i_sum)
    img.f32(_R_P, phases.total_power(reading))
    img.f32(_R_FREQ, phases.frequency(reading))
    img.f32(_R_E_IMPORT, counter(reading, "energy_import", 0))  # kWh
    img.f32(_R_E_EXPORT, counter(reading, "energy_export", 0))
    img.f32(_R_V_LL_MEAN, phases.mean_ll_voltage(ll))
    img.f32(_R_E_TOTAL, _total(reading))
    img.commit()


def _total(reading):
    """Import + export in kWh, added as exact counts before the one conversion to float."""
    imp = reading["energy_import"]
    exp = reading["energy_export"]
    if imp is None or exp is None:
        return None
    return scaled(imp + exp, reading["counter_decimals"])
