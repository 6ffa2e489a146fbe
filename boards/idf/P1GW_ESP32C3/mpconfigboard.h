// p1gw on the ESP32-C3: ESP32_GENERIC_C3's settings as they are (UART REPL on,
// for boards with a USB-serial chip; USB serial/JTAG too). ports/esp32 is on
// the include path.
#include "boards/ESP32_GENERIC_C3/mpconfigboard.h"
