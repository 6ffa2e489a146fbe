"""ESP32-C3 SuperMini: Wi-Fi only, RISC-V; P1 on GPIO10, RGB LED on GPIO3/4/5, BOOT button.

The C3 has GPIO0-10 and 20/21 on its pins; 2, 8 and 9 are boot straps (9 is
the BOOT button, fine to read after boot). The REPL is on USB, so both
hardware UARTs stay free.
"""
NAME = "ESP32-C3 SuperMini"
CHIP = "esp32c3"
P1_RX = 10
P1_TX = 7                # passthrough out; must not stay UART1's default, GPIO10
P1_DATA_REQUEST = None   # tie RJ12 pin 2 to +5 V
LED_KIND = "rgb_pwm"     # common-cathode RGB LED, 220 ohm per colour
LED_PINS = (3, 4, 5)     # red, green, blue
BUTTON_PIN = 9
BUTTON_ACTIVE_LOW = True
ETH = None
