#!/usr/bin/env bash
# Prepare this machine for `make sim` / `make test`: a virtualenv with the pinned
# host packages, (when root on Debian) the compiler and the real peers the
# integration tests talk to, and the 32-bit MicroPython built from source. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}

if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
if ! cmp -s requirements.txt "$VENV/.requirements"; then
  "$VENV/bin/pip" install -q --disable-pip-version-check -r requirements.txt >"$VENV/pip.log" 2>&1 \
    || { grep -v "^WARNING: Location" "$VENV/pip.log" >&2; exit 1; }
  cp requirements.txt "$VENV/.requirements"
fi

# The client libraries the integration tests run (host_tests/clients/requirements.txt)
# pin what the project's venv cannot share (an older pymodbus for sdm_modbus), so
# they get a venv of their own. python-homewizard-energy declares Python >= 3.12
# but runs on 3.11: installed without that check, as a test fixture only.
CLIENTS="$VENV-clients"
if ! cmp -s host_tests/clients/requirements.txt "$CLIENTS/.requirements"; then
  [ -x "$CLIENTS/bin/python" ] || python3 -m venv "$CLIENTS"
  "$CLIENTS/bin/pip" install -q --disable-pip-version-check --ignore-requires-python \
      -r host_tests/clients/requirements.txt >"$CLIENTS/pip.log" 2>&1 \
    || { grep -v "^WARNING: Location" "$CLIENTS/pip.log" >&2; exit 1; }
  cp host_tests/clients/requirements.txt "$CLIENTS/.requirements"
fi

# Debian packages: gcc-multilib (the 32-bit MicroPython), mosquitto (MQTT broker),
# mbpoll (Modbus master), chromium (config page).
need=()
dpkg -s gcc-multilib >/dev/null 2>&1 || need+=(gcc-multilib)
command -v make >/dev/null || need+=(make)
command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto mosquitto-clients)
command -v mbpoll >/dev/null || need+=(mbpoll)
command -v chromium >/dev/null || need+=(chromium chromium-driver)
command -v chromedriver >/dev/null || need+=(chromium-driver)
command -v openssl >/dev/null || need+=(openssl)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing Debian packages: ${need[*]}"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "missing Debian packages (install them as root): ${need[*]}" >&2
  fi
fi

# MicroPython v1.28.0 from source, 32-bit with single floats as on an ESP32:
# mpy-cross and the stock binary, built once (about a minute); the image binary
# is rebuilt by `make image` whenever firmware/ changes.
"$VENV/bin/python" tools/mpbuild.py stock
