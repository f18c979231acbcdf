# helpdesk-sentinel: every target creates .venv and installs what it needs by itself.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CONFIG ?= config.yaml

.PHONY: run test lint bench clean install screenshots

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/helpdesk-sentinel run --config $(CONFIG)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check daemon connectors rules vocab tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python bench/pipeline.py
	$(BIN)/python bench/scoring.py
	$(BIN)/python bench/api_calls.py
	$(BIN)/python bench/latency.py
	$(BIN)/python bench/replicas.py
	$(BIN)/python bench/memory.py
	$(BIN)/python bench/dashboard.py

# The dashboard's overview as a person sees it (headless Chromium on a daemon over the
# sandboxes), saved into docs/ for the README.
screenshots: $(STAMP)
	$(BIN)/python -m tests.e2e.dashboard_support docs/dashboard.png

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
