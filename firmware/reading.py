"""The canonical reading: one dict per valid telegram, the only thing consumers see.

Every output (Modbus image, MQTT payload, HTTP JSON) is built from a reading,
never from telegram text. SI units: W (not kW), V, A, kWh, m3, GJ; timestamps in
UTC epoch seconds. A field the telegram does not carry is None (JSON null),
never 0 and never missing. A published reading is treated as immutable.
"""

FIELDS = (
    "timestamp", "meter_id", "meter_model", "protocol_version", "tariff",
    "power_w", "power_import_w", "power_export_w",
    "power_l1_w", "power_l2_w", "power_l3_w",
    "voltage_l1_v", "voltage_l2_v", "voltage_l3_v",
    "current_l1_a", "current_l2_a", "current_l3_a",
    "frequency_hz",
    "energy_import_kwh", "energy_export_kwh",
    "energy_import_t1_kwh", "energy_import_t2_kwh",
    "energy_export_t1_kwh", "energy_export_t2_kwh",
    "average_power_15m_w", "monthly_power_peak_w", "monthly_power_peak_timestamp",
    "power_failures", "long_power_failures",
    "voltage_sags_l1", "voltage_sags_l2", "voltage_sags_l3",
    "voltage_swells_l1", "voltage_swells_l2", "voltage_swells_l3",
    "text_message",
    "gas_m3", "gas_timestamp", "water_m3", "water_timestamp", "heat_gj", "heat_timestamp",
)

# Instantaneous values: what changes from one telegram to the next and says
# nothing cumulative (the Xemex MQTT payload carries only these by default).
INSTANT_FIELDS = (
    "power_w", "power_import_w", "power_export_w",
    "power_l1_w", "power_l2_w", "power_l3_w",
    "voltage_l1_v", "voltage_l2_v", "voltage_l3_v",
    "current_l1_a", "current_l2_a", "current_l3_a",
    "frequency_hz", "tariff", "average_power_15m_w",
)

# Cumulative counters: meter registers that only grow.
TOTAL_FIELDS = (
    "energy_import_kwh", "energy_export_kwh",
    "energy_import_t1_kwh", "energy_import_t2_kwh",
    "energy_export_t1_kwh", "energy_export_t2_kwh",
    "gas_m3", "water_m3", "heat_gj",
)


def new_reading() -> dict:
    """Return a reading with every field present and None."""
    return dict.fromkeys(FIELDS)
