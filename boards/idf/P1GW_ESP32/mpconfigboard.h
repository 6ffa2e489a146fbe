// p1gw on the ESP32: ESP32_GENERIC's settings as they are (its OTA variant
// names the board "Generic ESP32 module with OTA"). ports/esp32 is on the
// include path.
#include "boards/ESP32_GENERIC/mpconfigboard.h"
