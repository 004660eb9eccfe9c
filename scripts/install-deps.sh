#!/usr/bin/env bash
# Installs the Debian 12 packages pitboss needs to build, run and test. Idempotent: installs only
# what is missing, and runs 'apt-get update' only when something is.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config
  libgrpc-dev protobuf-compiler protobuf-compiler-grpc protobuf-c-compiler libprotobuf-c-dev
  libev-dev libjansson-dev libpython3-dev libsqlite3-dev libcriterion-dev
  python3 python3-grpcio python3-protobuf python3-grpc-tools python3-pytest python3-numpy python3-venv
  python3-setuptools python3-wheel
  clang libclang-rt-14-dev
)

missing=()
for p in "${PACKAGES[@]}"; do
  if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
  else
    echo "install-deps: missing packages: ${missing[*]}" >&2
    echo "install-deps: run this script as root (or install sudo) to install them" >&2
    exit 1
  fi
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
