#!/usr/bin/env bash
# Installs everything edgekit needs on Debian 12 and leaves a ready virtualenv in .venv:
#   - Debian packages: the Arm cross compiler, newlib and QEMU (firmware build and emulation);
#   - the pinned Python packages of requirements.txt, and edgekit itself (editable).
# Safe to run again: it installs only what is missing. Needs root (or sudo) for apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm chromium gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user)
PYTHON=${PYTHON:-python3}

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "setup: installing Debian packages: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
    echo "setup: edgekit needs Python 3.11; $PYTHON is $("$PYTHON" --version 2>&1). Set PYTHON=python3.11." >&2
    exit 2
fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
echo "setup: installing Python packages into .venv"
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
.venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
# An editable install leaves edgekit uncompiled, and where PYTHONDONTWRITEBYTECODE is set (CI images
# often do) Python never caches it: the generated flatbuffer schema alone then costs about a second
# of every `edgekit check`. Compiling once here makes later runs read the bytecode.
.venv/bin/python -m compileall -q edgekit >/dev/null
echo "setup: done ($(.venv/bin/edgekit --version))"
