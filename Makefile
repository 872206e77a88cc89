# newsetl — everything a fresh clone needs, from Python >= 3.11 and make.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.newsetl-installed
DB     ?= warehouse/news.duckdb
SRC    ?= examples
export PIP_CONSTRAINT := $(CURDIR)/constraints.txt
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false

.PHONY: install ingest test test-fast lint fmt typecheck check bench-quality constraints clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

## make ingest SRC=<file-or-dir> [DB=warehouse/news.duckdb]
ingest: $(STAMP)
	$(BIN)/newsetl ingest $(SRC) --db $(DB)

## The whole test suite (end-to-end tests included).
test: $(STAMP)
	$(BIN)/python -m pytest

## Library tests only: skips tests that start servers and subprocesses.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not e2e"

lint: $(STAMP)
	$(BIN)/ruff check src flows tests bench
	$(BIN)/ruff format --check src flows tests bench

fmt: $(STAMP)
	$(BIN)/ruff format src flows tests bench
	$(BIN)/ruff check --fix src flows tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test

## Extraction quality vs plain trafilatura on ../shared/corpus (see bench/quality.py).
bench-quality: $(STAMP)
	$(BIN)/python bench/quality.py

constraints: $(STAMP)
	@{ echo "# Exact versions newsetl is tested with (name==version only; no index URLs)."; \
	   echo "# Regenerate: make constraints   (after changing dependencies in pyproject.toml)"; \
	   PIP_CONSTRAINT= $(BIN)/python -m pip freeze --exclude-editable | grep -v -i '^newsetl'; } > constraints.txt

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build dist
