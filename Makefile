# p1gw — host commands. Every target installs what it needs (tools/setup_host.sh).
VENV   ?= .venv
PY     := $(VENV)/bin/python
# MicroPython v1.28.0's unix port built as an ESP32 is: 32-bit, single-precision
# floats (tools/mpbuild.py). The stock binary; build/micropython-image/ has the firmware frozen in.
MPY    := $(VENV)/bin/micropython
# Unit tests build big test streams, so they get a roomy heap. The sim's heap
# is the device's budget (tools/sim.py, P1GW_HEAP).
HEAP_UNIT ?= 1m
export MICROPYPATH := $(CURDIR)/firmware:.frozen

ARGS   ?=
PORT   ?= /dev/ttyUSB0
BOARD  ?= esp32_devkitc

.PHONY: screenshots web setup image sim sim-image ota test test-unit test-mp test-mpy typecheck test-integration bench firmware flash deploy repl clean

setup:
	@bash tools/setup_host.sh

# The 32-bit MicroPython with the firmware frozen in, rebuilt where firmware/ changed.
image: setup
	@$(PY) tools/mpbuild.py image

sim: setup
	@$(PY) tools/sim.py $(ARGS)

# A firmware image for the simulator with another version string, to update a running sim
# with (make ota HOST=127.0.0.1:8080 IMAGE=...): same container as a device's .app.bin.
VERSION ?=
OUT ?= build/sim-$(VERSION).bin
sim-image: setup
	@test -n "$(VERSION)" || { echo "make sim-image VERSION=9.9.9 [OUT=FILE]"; exit 2; }
	@$(PY) tools/sim.py sim-image --version "$(VERSION)" --out "$(OUT)"

test: setup image test-mpy typecheck test-mp test-unit

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
	P1GW_SCREENSHOTS=$(CURDIR)/docs $(PY) -m pytest -q host_tests/test_page_chromium.py \
		host_tests/test_ota_sim.py::test_page_update_form_shows_progress_restart_and_the_new_version

# Rebuild firmware/www/index.html.gz from web/ after editing the page.
web: setup
	$(PY) tools/build_web.py

# The p1gw image (the recommended install): MicroPython v1.28.0 for the board's chip with
# the firmware frozen in, OTA layout, into build/firmware/p1gw-<board>-<version>.bin. Needs
# ESP-IDF v5.5.1 from IDF_PATH, or docker for the espressif/idf:v5.5.1 image. No setup:
# CI runs it inside that image, with its python (tools/esp32_image.py is stdlib only).
FWPY := $(if $(wildcard $(PY)),$(PY),python3)
firmware:
	@$(FWPY) tools/esp32_image.py build --board $(BOARD)

# Hardware: the p1gw image built by `make firmware`; FIRMWARE= a stock MicroPython .bin for
# the board's chip (micropython.org) instead, for the stock layout and `make deploy`. Both
# erase the flash first; ERASE=0 keeps the filesystem (identity, config) when a p1gw image
# goes over a p1gw image.
FIRMWARE ?=
ERASE ?= 1
flash: setup
ifeq ($(FIRMWARE),)
	@$(PY) tools/esp32_image.py flash --port $(PORT) --board $(BOARD) $(if $(filter 0,$(ERASE)),--keep-fs)
else
	@$(PY) tools/deploy.py flash --port $(PORT) --board $(BOARD) --firmware "$(FIRMWARE)"
endif

# Update a gateway over the network: builds the image for BOARD (or sends IMAGE=file.app.bin),
# then follows it through restart and probation. PASSWORD= or $$P1GW_PASSWORD, else asked.
HOST ?=
IMAGE ?=
ota:
	@test -n "$(HOST)" || { echo "make ota HOST=192.168.1.50 BOARD=wt32_eth01 [IMAGE=file.app.bin]"; exit 2; }
	@$(FWPY) tools/ota_update.py --host "$(HOST)" $(if $(IMAGE),--image "$(IMAGE)",--board "$(BOARD)") \
		$(if $(PASSWORD),--password "$(PASSWORD)")

deploy: setup
	$(PY) tools/deploy.py deploy --port $(PORT) --board $(BOARD)

repl: setup
	$(PY) tools/deploy.py repl --port $(PORT)

bench: setup
	$(PY) tools/bench.py

clean:
	rm -rf build .pytest_cache
