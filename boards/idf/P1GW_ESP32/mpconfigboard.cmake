# p1gw on the ESP32 (esp32_devkitc, wt32_eth01, olimex_esp32_poe): MicroPython's
# ESP32_GENERIC board with its OTA variant, included as they are, plus the p1gw
# version record (../sdkconfig.p1gw). tools/esp32_image.py builds the esp32 port
# with BOARD_DIR=<this folder>; the port's CMakeLists.txt includes this file
# from ports/esp32, which is CMAKE_CURRENT_SOURCE_DIR here.
#
# The OTA variant: partitions-4MiB-ota.csv (otadata, ota_0 and ota_1 of 1.5 MiB
# each; MicroPython puts the filesystem in the rest of the flash), -Os so
# MicroPython fits a slot; the bootloader's rollback is on in sdkconfig.base.
include(${CMAKE_CURRENT_SOURCE_DIR}/boards/ESP32_GENERIC/mpconfigboard.cmake)
include(${CMAKE_CURRENT_SOURCE_DIR}/boards/ESP32_GENERIC/mpconfigvariant_OTA.cmake)
list(APPEND SDKCONFIG_DEFAULTS ${CMAKE_CURRENT_LIST_DIR}/../sdkconfig.p1gw)
