"""Read a gateway with Home Assistant's HomeWizard library; print what it understood as JSON.

Runs in the clients' virtualenv (.venv-clients):
    python homewizard_probe.py HOST:PORT
Each call runs on a fresh client, as Home Assistant's coordinator starts:
combined() first, before the library knows the device type.
"""
import asyncio
import dataclasses
import datetime
import json
import sys

from homewizard_energy import HomeWizardEnergyV1


def plain(obj):
    if dataclasses.is_dataclass(obj):
        return {f.name: plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    if isinstance(obj, datetime.datetime):
        return obj.isoformat()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    return str(obj)


async def call(host, name):
    async with HomeWizardEnergyV1(host) as api:
        try:
            return {"ok": plain(await getattr(api, name)())}
        except Exception as e:  # the test asserts on the type and message
            return {"error": "%s: %s" % (type(e).__name__, e)}


async def main(host):
    out = {}
    for name in ("combined", "device", "measurement", "system", "telegram", "identify", "identify"):
        key = name if name not in out else name + "_again"
        out[key] = await call(host, name)
    print(json.dumps(out))


asyncio.run(main(sys.argv[1]))
