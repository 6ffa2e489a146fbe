# p1gw on the ESP32-C3 (esp32c3_supermini): MicroPython's ESP32_GENERIC_C3 board,
# included as it is, with the OTA settings of ESP32_GENERIC's OTA variant
# (boards/ESP32_GENERIC/sdkconfig.ota: partitions-4MiB-ota.csv, two 1.5 MiB app
# slots, -Os), plus the p1gw version record (../sdkconfig.p1gw). MicroPython
# has no OTA variant for the C3; this is that variant. tools/esp32_image.py
# builds the esp32 port with BOARD_DIR=<this folder>; paths are relative to
# ports/esp32, as in the port's own board definitions.
include(${CMAKE_CURRENT_SOURCE_DIR}/boards/ESP32_GENERIC_C3/mpconfigboard.cmake)
list(APPEND SDKCONFIG_DEFAULTS
    boards/ESP32_GENERIC/sdkconfig.ota
    ${CMAKE_CURRENT_LIST_DIR}/../sdkconfig.p1gw
)
