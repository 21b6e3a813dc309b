#!/usr/bin/env bash
# Create .venv (if missing) and install lewm-zoo into it, editable, with the given extras.
# Usage: scripts/venv.sh [EXTRAS]   e.g. scripts/venv.sh test
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
spec="."
if [ -n "$extras" ]; then spec=".[${extras}]"; fi
# pip (not uv): the pinned CPU torch of the test extra is found by pip on these machines.
.venv/bin/python -m pip install -q --disable-pip-version-check -e "$spec"
