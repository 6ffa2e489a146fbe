"""Board files: every pin has one job, outputs are on pins that can drive."""
import os
import runpy

import pytest

BOARDS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "boards")
NAMES = sorted(n[:-3] for n in os.listdir(BOARDS) if n.endswith(".py"))


def _board(name):
    return runpy.run_path(os.path.join(BOARDS, name + ".py"))


def _eth_pins(b):
    eth = b["ETH"] or {}
    return [eth[k] for k in ("mdc", "mdio", "power", "ref_clk") if eth.get(k) is not None]


@pytest.mark.parametrize("name", NAMES)
def test_every_pin_has_one_job(name):
    b = _board(name)
    pins = [b["P1_RX"], b["P1_TX"], b["P1_DATA_REQUEST"], b["BUTTON_PIN"], *b["LED_PINS"], *_eth_pins(b)]
    pins = [p for p in pins if p is not None]
    assert len(pins) == len(set(pins)), pins


@pytest.mark.parametrize("name", NAMES)
def test_uart_tx_is_named_and_outputs_can_drive(name):
    # Without a TX pin, UART1 keeps its default TX (GPIO10) and may drive the P1 RX pin.
    b = _board(name)
    assert isinstance(b["P1_TX"], int)
    outputs = [b["P1_TX"], b["P1_DATA_REQUEST"], *b["LED_PINS"]]
    if b["CHIP"] == "esp32":  # GPIO34-39 are input-only there
        assert not [p for p in outputs if p is not None and 34 <= p <= 39], outputs
