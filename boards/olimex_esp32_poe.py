"""Olimex ESP32-POE: LAN8720 Ethernet (ESP32 drives the clock on GPIO17), P1 on the UEXT connector.

UEXT pin 4 (GPIO36, input-only, no internal pull-up) is P1 data, UEXT pin 3
(GPIO4) the passthrough; the on-board BUT1 (GPIO34, pulled up on the board)
is the button. Power over Ethernet needs no meter supply.
"""
NAME = "Olimex ESP32-POE"
CHIP = "esp32"
P1_RX = 36
P1_TX = 4
P1_DATA_REQUEST = None   # tie RJ12 pin 2 to +5 V
LED_KIND = "neopixel"
LED_PINS = (13,)         # UEXT pin 6
BUTTON_PIN = 34
BUTTON_ACTIVE_LOW = True
ETH = {"phy": "LAN8720", "mdc": 23, "mdio": 18, "power": 12, "phy_addr": 0, "ref_clk": 17}
