"""Device entry point: the ESP32 runs this file at boot."""
import app
import board  # pyright: ignore[reportMissingImports]  (boards/<name>.py, copied at deploy)
import hw_esp32

app.main(hw_esp32, board)
