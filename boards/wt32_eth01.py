"""WT32-ETH01: LAN8720 Ethernet (clock from the PHY's oscillator into GPIO0), P1 on the RXD pin.

GPIO0 carries the 50 MHz RMII clock and GPIO16 enables that oscillator, so
neither is free; the button goes on GPIO14 (to GND) and a WS2812 on GPIO4.
"""
NAME = "WT32-ETH01"
CHIP = "esp32"
P1_RX = 5                # header pin "RXD" (GPIO5)
P1_TX = 17               # header pin "TXD" (GPIO17), P1 passthrough
P1_DATA_REQUEST = None   # tie RJ12 pin 2 to +5 V
LED_KIND = "neopixel"
LED_PINS = (4,)
BUTTON_PIN = 14
BUTTON_ACTIVE_LOW = True
ETH = {"phy": "LAN8720", "mdc": 23, "mdio": 18, "power": 16, "phy_addr": 1, "ref_clk": 0}
