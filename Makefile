# cardpilot — every target bootstraps what it needs on a fresh machine.
#   make demo            generate a portfolio, load it into the embedded store, report on it
#   make demo DATA=../shared/data/uci_credit_card_default.csv   the same on the real data
#   make test            the whole test suite
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.synced-$(UV_VERSION)
DATA ?=

.PHONY: setup demo test lint typecheck format bench-import clean

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# The lock file is the source of truth: --frozen never re-resolves.
$(STAMP): $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --all-extras --quiet
	touch $@

setup: $(STAMP)

demo: setup
	$(BIN)/cardpilot demo $(if $(DATA),--data $(DATA))

test: setup
	$(BIN)/pytest -q

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench-import: setup
	$(BIN)/python bench/bench_import.py

clean:
	rm -rf $(VENV) $(TOOLS) .cardpilot .pytest_cache .mypy_cache .ruff_cache
