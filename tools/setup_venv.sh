#!/usr/bin/env bash
# Create or refresh .venv with the pinned packages of requirements.txt and install the
# project into it (editable). Installs the Debian packages it needs when run as root.
# Idempotent and quick when nothing changed: a stamp file records what was installed.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
STAMP="$VENV/.dynstack-installed"
WANT=$(cat requirements.txt setup.py | sha256sum | cut -d' ' -f1)

# System packages (grep without -q: with pipefail, -q closing the pipe early fails ldconfig): open3d needs libusb at import; python3 -m venv needs python3-venv on Debian;
# MuJoCo's offscreen rendering without a display or GPU needs OSMesa (sim/gl_backend.py).
need_apt=()
ldconfig -p 2>/dev/null | grep 'libusb-1.0.so.0' >/dev/null || need_apt+=(libusb-1.0-0)
ldconfig -p 2>/dev/null | grep 'libOSMesa.so' >/dev/null || need_apt+=(libosmesa6)
"$PYTHON" -c 'import ensurepip, venv' 2>/dev/null || need_apt+=(python3-venv)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "[setup] installing system packages: ${need_apt[*]}"
    (apt-get install -y -qq "${need_apt[@]}" >/dev/null 2>&1) || {
      apt-get update -qq >/dev/null && apt-get install -y -qq "${need_apt[@]}" >/dev/null; }
  else
    echo "[setup] WARNING: missing system packages ${need_apt[*]}; run as root or install them" >&2
  fi
fi

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] && [ -x "$VENV/bin/dynstack" ]; then
  exit 0
fi
echo "[setup] creating/refreshing $VENV with $("$PYTHON" --version) (pinned requirements.txt)"
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
# pip's "ignored location" warnings from machine-local mirrors are noise: keep errors only.
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -r requirements.txt 2>&1 \
  | grep -v "is ignored: it is neither a file nor a directory" || true
"$VENV/bin/python" -c 'import torch, rclpy, onnxruntime, safetensors' \
  || { echo "[setup] ERROR: pinned packages did not install; see pip output above" >&2; exit 1; }
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation --use-pep517 -e . 2>&1 \
  | grep -v "is ignored: it is neither a file nor a directory" || true
[ -x "$VENV/bin/dynstack" ] || { echo "[setup] ERROR: dynstack entry point missing" >&2; exit 1; }
echo "$WANT" > "$STAMP"
echo "[setup] ready: $VENV"
