#!/usr/bin/env bash
# Installs what is missing, builds, and starts pitboss in the foreground (Ctrl-C stops it).
# For now (until the supervisor lands) it serves a native worker on 127.0.0.1:50051, so that
# 'build/bin/pitboss call ping' answers.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh build
echo "run: starting a native worker on 127.0.0.1:50051 (try: build/bin/pitboss call ping)"
exec build/bin/pitboss-worker --port 50051
