#!/usr/bin/env bash
# Install lewm-zoo and run the main job offline: `zoo demo` on the built-in local store.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/venv.sh
exec .venv/bin/zoo demo "$@"
