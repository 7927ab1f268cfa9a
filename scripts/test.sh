#!/usr/bin/env bash
# Set up (see setup.sh) and run the whole test suite on all cores. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest -n auto -q "$@"
