#!/usr/bin/env bash
# Set up wlbench on a fresh machine: system packages scaper needs (sox, libsox-dev), a virtual environment
# in .venv with the exact versions of constraints.txt, and wlbench installed in editable mode with its
# test extras and the Dask extra (the tests render on a local Dask cluster). Idempotent: a second run only checks and returns.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3

need_apt=()
command -v sox >/dev/null 2>&1 || need_apt+=(sox)
[ -f /usr/include/sox.h ] || need_apt+=(libsox-dev)
if [ "${WLBENCH_BROWSER_TESTS:-1}" = 1 ]; then
  command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
  command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium-driver)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing system packages: ${need_apt[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
fi

stamp=.venv/.wlbench-setup
want=$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: installing Python packages (pinned by constraints.txt; torch takes about a minute)"
  .venv/bin/python -m pip install -q --upgrade "pip>=24" 2>&1 | grep -v -i "warning: location" || true
  .venv/bin/python -m pip install -q -c constraints.txt -e ".[dev,dask]" 2>&1 | grep -v -i "warning: location" || true
  .venv/bin/python -c "import wlbench, scaper, torch, torchaudio, h5py, distributed" 2>/dev/null || {
    echo "setup: the Python installation failed; rerun with: .venv/bin/python -m pip install -c constraints.txt -e '.[dev,dask]'" >&2
    exit 1
  }
  echo "$want" > "$stamp"
fi
echo "setup: ready (.venv/bin/wlbench)"
