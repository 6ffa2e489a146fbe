#!/usr/bin/env bash
# Prepare this machine for `make sim` / `make test`: a virtualenv with the pinned
# host packages, umqtt.simple for the MicroPython unix port, and (when root on
# Debian) the real peers the integration tests talk to. Idempotent.
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

# umqtt.simple is frozen into stock ESP32 firmware. For the unix port take the
# PyPI sdist: it has no setup.py, so pip only unpacks it and we copy the module.
MPLIB="$VENV/mplib"
if [ ! -f "$MPLIB/umqtt/simple.py" ]; then
  tmp=$(mktemp -d)
  TMPDIR="$tmp" "$VENV/bin/pip" download -q --no-deps --no-clean -d "$tmp/dl" \
    micropython-umqtt.simple==1.3.4 >/dev/null 2>&1 || true
  src=$(find "$tmp" -path '*umqtt/simple.py' | head -1)
  [ -n "$src" ] || { echo "could not unpack micropython-umqtt.simple" >&2; exit 1; }
  mkdir -p "$MPLIB/umqtt"
  cp "$src" "$MPLIB/umqtt/simple.py"
  touch "$MPLIB/umqtt/__init__.py"
  rm -rf "$tmp"
fi

# Debian peers: mosquitto (MQTT broker), mbpoll (Modbus master), chromium (config page),
# node + npm (the 32-bit MicroPython that measures an ESP32's heap, tools/heap32.py).
need=()
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
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

# The MicroPython WebAssembly port (package.json, pinned by package-lock.json).
if ! cmp -s package-lock.json node_modules/.p1gw-lock 2>/dev/null; then
  npm ci --silent --no-audit --no-fund >/dev/null
  cp package-lock.json node_modules/.p1gw-lock
fi
