# The stock MicroPython the sim's --stock layout runs: the unix port's own frozen
# modules (asyncio, ssl) plus umqtt.simple, which stock ESP32 firmware freezes.
# Nothing of p1gw: that comes from .mpy files (tools/mpbuild.py).
include("$(PORT_DIR)/variants/standard/manifest.py")
require("umqtt.simple")
