# `make run` and `make test` set everything up on a fresh machine (see README.md).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.trustbot-installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install index run bot test lint unit bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch first and pinned: 2.13.0 is the CPU build available offline here; an unpinned torch
# would pull a multi-GB CUDA build.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check torch==2.13.0
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Builds the index when it is missing or stale; embeds only new or changed articles.
index: install
	$(BIN)/trustbot index update

run: index
	$(BIN)/trustbot chat

bot: index
	$(BIN)/trustbot bot

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/hadolint Dockerfile

unit: install
	$(BIN)/pytest -q -m "not slow"

test: lint
	$(BIN)/pytest -q

bench: index
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) index build dist src/*.egg-info .mypy_cache .ruff_cache .pytest_cache
