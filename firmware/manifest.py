# The p1gw firmware image: what MicroPython freezes into flash, where code and
# constant data cost no heap. MicroPython's tools/makemanifest.py runs this file
# with the firmware/ folder as its working directory.
#
# P1GW_BOARD (environment) picks the image:
# - the path of a staged board.py (tools/firmware.py): the ESP32 image, with the
#   esp32 port's own modules (umqtt.simple, neopixel, ntptime...) and that board
#   file frozen as `board`;
# - unset: the host image tools/mpbuild.py builds for the sim and the tests, on
#   the unix port, with the host stand-ins (hw_host, main_host) instead of a board.
import os

_HOST_ONLY = ("hw_host.py", "hw_host_flash.py", "hw_host_sim.py", "main_host.py")
_DEVICE_ONLY = ("hw_esp32.py", "main.py")
_board = os.environ.get("P1GW_BOARD")

if _board:
    include("$(PORT_DIR)/boards/manifest.py")
    if os.path.basename(_board) != "board.py":
        raise ValueError("P1GW_BOARD must name a file called board.py, not " + _board)
    module("board.py", base_path=os.path.dirname(_board))
    _skip = _HOST_ONLY
else:
    include("$(PORT_DIR)/variants/standard/manifest.py")
    _skip = _DEVICE_ONLY

# Stock ESP32 firmware freezes it; the unix port does not.
require("umqtt.simple")

for _name in sorted(os.listdir(".")):
    if _name.endswith(".py") and _name != "manifest.py" and _name not in _skip:
        module(_name)
