#!/usr/bin/env bash
# benchmarks/gpu_train.py on a lent GPU machine: torch is there, the project is not installed
# (pip would replace its torch), so the package runs from the tree on PYTHONPATH, with the
# wheels of benchmarks/gpu_wheels.sh (carried in .whl/) beside it. Results go to $OUT.
#   bash benchmarks/gpu_device.sh [gpu_train.py options]
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl
export PYTHONPATH="/tmp/site:$PWD" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
python3 -c 'import torch; print("torch", torch.__version__, torch.cuda.get_device_name())'
python3 benchmarks/gpu_train.py --out "${OUT:-/tmp/gpu}" "$@"
