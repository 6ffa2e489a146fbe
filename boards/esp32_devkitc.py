"""ESP32-DevKitC (ESP32-WROOM-32): Wi-Fi only; P1 on GPIO16, WS2812 on GPIO18, BOOT button.

Board files hold plain constants, read by hw_esp32.py; `make deploy BOARD=...`
copies one to the device as board.py. Wiring: README.md, "The P1 port".
"""
NAME = "ESP32-DevKitC"
CHIP = "esp32"
P1_RX = 16               # RJ12 pin 5 (data), 4.7 k pull-up to 3.3 V; inverted in the UART
P1_TX = 17               # P1 passthrough out (through an NPN stage); a free pin if unused
P1_DATA_REQUEST = 4      # RJ12 pin 2 held high; None when pin 2 is tied to +5 V
LED_KIND = "neopixel"    # "neopixel" | "rgb_pwm" | "none"
LED_PINS = (18,)
BUTTON_PIN = 0           # the on-board BOOT button, to GND
BUTTON_ACTIVE_LOW = True
ETH = None
