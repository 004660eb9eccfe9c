#!/usr/bin/env bash
# Builds pitboss. Usage: scripts/build.sh [BUILD_DIR] [extra cmake arguments...]
#   scripts/build.sh                                   -> build/ (release with debug info)
#   scripts/build.sh build-asan -DPITBOSS_SANITIZE=ON  -> AddressSanitizer + UBSan build
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-build}"
shift || true
cmake -S . -B "$dir" -DPITBOSS_PYTHON=/usr/bin/python3 -DPITBOSS_WERROR=ON "$@" >/dev/null
cmake --build "$dir" -j"$(nproc)"
