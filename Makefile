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

.PHONY: setup messages demo test lint typecheck format browser bench-import bench-models bench-aging bench-events bench-simulate bench-api clean

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# The lock file is the source of truth: --frozen never re-resolves. Installed packages are
# byte-compiled, as pip does by default: where PYTHONDONTWRITEBYTECODE is set (CI images often
# set it) every process would otherwise compile polars, pyarrow, SQLAlchemy and the rest from
# source on every start, several CPU-seconds a command.
$(STAMP): $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --all-extras --quiet --compile-bytecode
	touch $@

# The project's own modules too (an editable install is not compiled by the sync); compileall
# skips what is up to date, so this costs a moment. The command line's zh-CN catalogue is
# compiled from its .po (the .mo is not committed; without it the .po is read, more slowly).
LOCALES := src/cardpilot/cli/locale
setup: $(STAMP)
	@PYTHONDONTWRITEBYTECODE= $(BIN)/python -m compileall -q -j 0 src
	@$(BIN)/pybabel -q compile -D cardpilot -d $(LOCALES)

# Gather the command line's texts (help, table headings) into the zh-CN catalogue: new texts
# arrive untranslated (translate them in the .po), unused ones are dropped.
messages: $(STAMP)
	$(BIN)/python -m cardpilot.cli.messages

demo: setup
	$(BIN)/cardpilot demo $(if $(DATA),--data $(DATA))

# Two pytest-xdist workers (CI has two cores; the suite in one process keeps about one busy);
# --dist loadgroup keeps a file, and the tests of a costly session fixture, on one worker
# (tests/conftest.py). TEST_WORKERS=0 runs in one process. --durations: the slowest tests named
# at the end of every run (CI's log included), so the suite's time stays visible.
TEST_WORKERS ?= 2
test: setup browser
	$(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadgroup --durations=25

# Headless Chromium and the Noto CJK fonts, for the test that opens every HTML report and keeps
# its screenshot (.cardpilot/screenshots/). Debian's packages, installed once as root; skipped
# when present. Elsewhere it says what to install and the test skips (unless
# CARDPILOT_REQUIRE_BROWSER=1).
BROWSER_PACKAGES := chromium fonts-noto-cjk
browser:
	@if ! dpkg -s $(BROWSER_PACKAGES) >/dev/null 2>&1; then \
		if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
			echo "installing $(BROWSER_PACKAGES) for the report screenshots"; \
			(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
				--no-install-recommends $(BROWSER_PACKAGES)) >/dev/null; \
		else \
			echo "make browser: install $(BROWSER_PACKAGES) (Debian) to screenshot the reports"; \
		fi; \
	fi

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# 1M accounts / 6M statements into SQLite and PostgreSQL, three imports each (the stores taking
# turns); the targets are judged on the median (the import-median lines).
bench-import: setup
	$(BIN)/python bench/bench_import.py

# Aging + treatment of 1,000,000 synthetic accounts (6 cycles) on 2 threads; prints JSON and
# writes bench/results/aging.json. The portfolio is generated once into bench/.cache/.
bench-aging: setup
	$(BIN)/python bench/bench_aging.py

# The limit review on 1M synthetic accounts (cached under bench/.cache/), local and Spark, three
# runs each judged on the median (review-median lines);
# more: make bench-review BENCH_ARGS="--accounts 10000000 --engines local --runs 1"
BENCH_ARGS ?=
bench-review: setup
	$(BIN)/python bench/bench_review.py $(BENCH_ARGS)

# Two limit policies priced on the same 1M synthetic accounts as bench-review (its cached store):
# prints JSON and writes bench/results/simulate.json.
bench-simulate: setup
	$(BIN)/python bench/bench_simulate.py $(BENCH_ARGS)

# The SMPP test peer (the npm `smpp` package) for the notify tests and benchmark; the tests'
# fixture also runs `npm ci` itself when node_modules is missing.
NOTIFY_PEERS := tests/notify/peers
$(NOTIFY_PEERS)/node_modules/.package-lock.json: $(NOTIFY_PEERS)/package.json $(NOTIFY_PEERS)/package-lock.json
	cd $(NOTIFY_PEERS) && npm ci --no-audit --no-fund --loglevel=error

notify-peers: $(NOTIFY_PEERS)/node_modules/.package-lock.json

bench-notify: setup notify-peers
	$(BIN)/python bench/bench_notify.py

# The HTTP service on a 1M-account store (the review benchmark's cached one): decide one account
# at 300 requests/s and read one account at 500 requests/s from an open-loop generator on
# loopback; prints JSON and writes bench/results/api.json.
API_BENCH_ARGS ?=
bench-api: setup
	$(BIN)/python bench/bench_api.py $(API_BENCH_ARGS)

# The event intake end to end on the NATS JetStream server on loopback (127.0.0.1:4222):
# 200,000 events published and consumed into SQLite and PostgreSQL, then 5,000 events/s steady
# for the p99 latency; prints JSON and writes bench/results/events.json.
bench-events: setup
	$(BIN)/python bench/bench_events.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(TOOLS) .cardpilot .pytest_cache .mypy_cache .ruff_cache

# Model benchmark: ours next to optbinning, toad and scorecardpy on the reference split.
# scorecardpy needs pandas < 3 (and setuptools' pkg_resources), so it runs in its own venv.
BENCH_VENV := .venv-bench
$(BENCH_VENV)/.ready: $(UV) pyproject.toml
	$(UV) venv --quiet --python 3.11 $(BENCH_VENV)
	VIRTUAL_ENV=$(BENCH_VENV) $(UV) pip install --quiet -e . "toad==0.1.7" "scorecardpy==0.1.9.7" "pandas>=2.2,<3" "setuptools<81"
	touch $@

bench-models: $(BENCH_VENV)/.ready
	$(BENCH_VENV)/bin/python bench/bench_models.py
