#!/usr/bin/env bash
# The wheels benchmarks/gpu_device.sh installs on a lent GPU machine, which has Python 3.12 and
# torch (CUDA) but not these; downloaded here into .whl/ (ignored by git), for its `carry`.
# The versions are this project's environment's.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .whl
for package in pydantic==2.14.4 pydantic-core==2.50.5 annotated-types==0.8.0 typing-extensions==4.16.0 \
    typing-inspection==0.4.5 pebble==5.2.3 torchao==0.18.0; do
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 -d .whl "$package"
done
du -sh .whl
