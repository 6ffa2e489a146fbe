"""The reading Modbus serves while the meter's data is stale under the "failsafe" policy.

modbus_tcp imports this module when it builds the fail-safe image (the data
went stale with ``Modbus.StalePolicy`` "failsafe") and drops it again: a
gateway whose meter keeps talking never holds it in its heap.
"""
import reading as _reading

NOMINAL_V = 230.0


def failsafe_reading(last, amps):
    """``amps`` on every phase the meter reported (all three if unknown), at
    230 V nominal, drawn from the grid; energy counters keep their last value.
    """
    r = _reading.new_reading()
    if last is not None:
        for k in _reading.TOTAL_FIELDS:
            r[k] = last[k]
        r["counter_decimals"] = last["counter_decimals"]  # the step the counts are in
    total = 0.0
    for n in ("1", "2", "3"):
        i_key = "current_l%s_a" % n
        if last is not None and last[i_key] is None and last["current_l1_a"] is not None:
            continue  # a phase this meter does not have
        r[i_key] = amps
        r["voltage_l%s_v" % n] = NOMINAL_V
        r["power_l%s_w" % n] = NOMINAL_V * amps
        total += NOMINAL_V * amps
    r["power_w"] = r["power_import_w"] = total
    r["power_export_w"] = 0.0
    return r
