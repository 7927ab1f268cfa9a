# Sourced by scripts/gpu-grid.sh and scripts/gpu-check.sh: sets PY to the Python that runs wlbench and, where
# wlbench is not installed in it (a lent GPU machine's own torch: scripts/setup.sh cannot run without a
# package registry), points PYTHONPATH at this checkout and at the entry points scripts/gpu_env.py writes.
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=$(command -v python3)
if ! "$PY" -c 'import wlbench_baselines' 2>/dev/null; then
    WLBENCH_ENV=$("$PY" scripts/gpu_env.py "${TMPDIR:-/tmp}/wlbench-env")
    export PYTHONPATH=$WLBENCH_ENV:$PWD${PYTHONPATH:+:$PYTHONPATH}
else
    export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
fi
export CUBLAS_WORKSPACE_CONFIG=${CUBLAS_WORKSPACE_CONFIG:-:4096:8}
