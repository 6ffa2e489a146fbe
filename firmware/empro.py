"""Phoenix Contact EMPro (EEM-MA370) register image, built from a reading.

Map and encoding as PRODUCT.md section 3 states them: float32 and uint32 low
word first ("CD AB": 123.456 = 0x42F6E979 is sent as 0xE979, 0x42F6). Values a
P1 meter does not measure (reactive/apparent power, power factor, neutral
current) read 0; a value this meter does not send (phases.py) is missing:
exception 04. See README.md, "EMPro register map", for the full table.
"""
from micropython import const

import phases
from reading import counter
from regmap import RegImage

NAME = "EEM-MA370"
LOW_WORD_FIRST = True

# Identification
_R_FIRMWARE = const(0x0100)   # uint32
_R_NAME = const(0x012C)       # 8 registers, ASCII
_R_SERIAL = const(0x013C)     # 9 registers, ASCII
# Measurements
_R_V_LL = const(0x8000)       # L1-L2, L2-L3, L3-L1
_R_V_LN = const(0x8006)       # L1, L2, L3
_R_FREQ = const(0x800C)
_R_I = const(0x800E)          # L1, L2, L3
_R_P = const(0x8016)
_R_P_PHASE = const(0x801E)    # L1, L2, L3
_R_LOAD_TYPE = const(0x8036)  # sint16 L1, L2, L3
_R_I_SYS = const(0x8039)      # odd-aligned float32
_R_V_LL_SYS = const(0x803B)
_R_V_LN_SYS = const(0x803D)
_R_E_IMPORT = const(0x8100)   # Wh
_R_E_EXPORT = const(0x8106)   # Wh

# (start, count, live): identification is served even without P1 data;
# live blocks fall under the stale-data policy. A read must fit in one block.
BLOCKS = (
    (_R_FIRMWARE, 2, False),
    (_R_NAME, _R_SERIAL + 9 - _R_NAME, False),
    (_R_V_LL, _R_V_LN_SYS + 2 - _R_V_LL, True),
    (_R_E_IMPORT, 8, True),
)



def new_image():
    return RegImage(BLOCKS, LOW_WORD_FIRST)


def build(img, reading, serial, firmware):
    """Write every register of ``reading`` into ``img`` and swap it in.

    Every mapped value is written every time, so nothing of an older telegram
    survives. Registers never written read 0: neutral current 0x8014,
    reactive/apparent power and power factor 0x8018-0x801D and 0x8024-0x8035
    (a P1 meter measures none of them) and the gaps 0x8102-0x8105.
    """
    value = phases.value
    img.put(_R_FIRMWARE, firmware, ">I")
    img.text(_R_NAME, 8, NAME)
    img.text(_R_SERIAL, 9, serial)

    ll = phases.ll_voltages(reading)
    for i in range(3):
        img.put(_R_V_LL + 2 * i, ll[i])
        img.put(_R_V_LN + 2 * i, value(reading, phases.VOLTAGE[i]))
        img.put(_R_I + 2 * i, value(reading, phases.CURRENT[i]))
        p = value(reading, phases.POWER[i])
        img.put(_R_P_PHASE + 2 * i, p)
        # The load type: 1 importing (load), -1 exporting, 0 none; missing when unknown.
        img.put(_R_LOAD_TYPE + i, None if p is None else 1 if p > 0 else -1 if p < 0 else 0, ">h")
    img.put(_R_FREQ, phases.frequency(reading))
    img.put(_R_P, phases.total_power(reading))
    img.put(_R_I_SYS, phases.phase_sum(reading, phases.CURRENT))
    img.put(_R_V_LL_SYS, ll[3])
    img.put(_R_V_LN_SYS, phases.mean_ln_voltage(reading))
    img.put(_R_E_IMPORT, counter(reading, "energy_import", 3))  # Wh: the exact count, rounded once to float32
    img.put(_R_E_EXPORT, counter(reading, "energy_export", 3))
    img.commit()
