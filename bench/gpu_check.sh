#!/usr/bin/env bash
# aelat's CUDA path against the CPU on MNIST, one command, about 5-8 min on one GPU: the pipeline
# with device=cuda and device=cpu, numbers compared within bench/gpu_check.py's stated tolerances,
# timings appended to bench/RESULTS.md. Exit code 1 when a number is out of tolerance.
#   bash bench/gpu_check.sh [--data PATH/TO/mnist.npz] [--epochs 10]
# Uses .venv (make venv) when present, else the python3 on PATH with aelat installed (pip install -e .).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
[[ -x $PY ]] || PY=python3
"$PY" -c "import aelat, torch; assert torch.cuda.is_available(), 'torch sees no CUDA device'" \
    || { echo "gpu_check: needs aelat installed and a CUDA device (see the lines above)" >&2; exit 2; }
exec "$PY" bench/gpu_check.py "$@"
