"""Read a gateway's SDM630 map with sdm_modbus, as its users do; print the values as JSON.

Runs in the clients' virtualenv (.venv-clients):
    python sdm630_probe.py HOST PORT
read_all() fetches the input registers in sdm_modbus's four batches and the
holding registers (settings) in three; a batch that fails is missing from the result.
"""
import json
import sys

import sdm_modbus
from sdm_modbus.meter import registerType

meter = sdm_modbus.SDM630(host=sys.argv[1], port=int(sys.argv[2]), unit=1, timeout=5)
out = {"input": meter.read_all(registerType.INPUT), "holding": meter.read_all(registerType.HOLDING),
       "batches": {}}
for rtype in (registerType.INPUT, registerType.HOLDING):
    regs = [v for v in meter.registers.values() if v[2] == rtype]
    for batch in sorted(set(v[7] for v in regs)):
        inb = [v for v in regs if v[7] == batch]
        start = min(v[0] for v in inb)
        out["batches"]["%s %d" % (rtype.name, batch)] = [start, max(v[0] + v[1] for v in inb) - start]
meter.disconnect()
print(json.dumps(out))
