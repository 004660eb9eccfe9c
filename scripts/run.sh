#!/usr/bin/env bash
# Installs what is missing, builds, and starts the pitboss supervisor in the foreground on the
# default config (config/pitboss.json): clients call 127.0.0.1:50051. Ctrl-C stops it gracefully.
# Another config: scripts/run.sh path/to/config.json
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh build
config="${1:-config/pitboss.json}"
echo "run: starting pitboss on $config (try: build/bin/pitboss call ping; build/bin/pitboss status)"
exec build/bin/pitboss serve -c "$config"
