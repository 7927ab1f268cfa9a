#!/usr/bin/env bash
# Set up (see setup.sh) and run the main job on the embedded default soundbank (see `wlbench demo --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/wlbench demo "$@"
