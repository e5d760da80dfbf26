#!/usr/bin/env bash
# Create (or refresh) .venv-bench: our package plus the peers the extract benchmark compares.
# Kept apart from .venv so that a peer's requirements can never change our own environment.
# Idempotent: a stamp file skips the installs until pyproject.toml or this script changes.
set -euo pipefail

cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
VENV=.venv-bench
STAMP="$VENV/.installed"
DATATROVE_VERSION=0.10.1

if [[ -f "$STAMP" && "$STAMP" -nt pyproject.toml && "$STAMP" -nt benchmarks/setup_env.sh ]]; then
    echo "$VENV is up to date"
    exit 0
fi

test -x "$VENV/bin/python" || "$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip install --quiet)
"${PIP[@]}" --upgrade pip
# torch first and pinned: the CPU build lies on disk; any other torch spec pulls CUDA builds.
"${PIP[@]}" torch==2.13.0
"${PIP[@]}" -e .
# Not datatrove[processing]: it pins trafilatura<1.12, which conflicts with our trafilatura>=2.
# Its Trafilatura extractor only imports `trafilatura` (ours, 2.x, is compatible), and its
# WarcReader needs warcio, cchardet and python-magic (libmagic); JsonlWriter needs orjson.
# Not datatrove[io] either: it would add `datasets` and its tree, which these steps never use.
"${PIP[@]}" "datatrove==$DATATROVE_VERSION" faust-cchardet python-magic orjson
"$VENV/bin/python" -m pip check
touch "$STAMP"
echo "$VENV ready"
