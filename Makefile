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

# Scheduled runs: a Prefect server on 127.0.0.1 with project-local state, a process work pool.
PREFECT_PORT ?= 4200
PREFECT_STATE ?= $(CURDIR)/.prefect
NEWSETL_POOL ?= newsetl-pool
NEWSETL_FETCH_SLOTS ?= 8
PREFECT_LOCAL := PREFECT_HOME=$(PREFECT_STATE) PREFECT_API_URL=http://127.0.0.1:$(PREFECT_PORT)/api

.PHONY: install ingest test test-fast lint fmt typecheck check bench-quality constraints clean \
	server deploy worker

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

## Prefect server for scheduled runs (UI at http://127.0.0.1:$(PREFECT_PORT)); keep it running.
## The host and port are given as settings too, so the UI talks to this server's API (the
## --port flag alone leaves the UI pointing at :4200) and the links deploy/run print open.
server: $(STAMP)
	PREFECT_HOME=$(PREFECT_STATE) PREFECT_SERVER_API_HOST=127.0.0.1 PREFECT_SERVER_API_PORT=$(PREFECT_PORT) \
	  PREFECT_UI_API_URL=http://127.0.0.1:$(PREFECT_PORT)/api \
	  $(BIN)/prefect server start --host 127.0.0.1 --port $(PREFECT_PORT)

## Work pool + every deployment of prefect.yaml on that server (run `make server` first).
## The same as `prefect work-pool create`, `prefect global-concurrency-limit create` and
## `prefect deploy --all` by hand: the deployments hold no path of this clone.
deploy: $(STAMP)
	@$(PREFECT_LOCAL) $(BIN)/prefect work-pool inspect $(NEWSETL_POOL) >/dev/null 2>&1 || \
	  $(PREFECT_LOCAL) $(BIN)/prefect work-pool create $(NEWSETL_POOL) --type process
	@$(PREFECT_LOCAL) $(BIN)/prefect global-concurrency-limit inspect newsetl-fetch >/dev/null 2>&1 || \
	  $(PREFECT_LOCAL) $(BIN)/prefect global-concurrency-limit create newsetl-fetch --limit $(NEWSETL_FETCH_SLOTS)
	$(PREFECT_LOCAL) $(BIN)/prefect --no-prompt deploy --all

## A worker that runs the scheduled and triggered flow runs from this clone: the same as
## `prefect worker start --pool newsetl-pool` here. newsetl.worker_shell runs it in its own
## session and forwards one SIGTERM per stop request: make forwards SIGTERM to its children,
## so a signal to make's process group reached the worker twice, and Prefect's worker takes a
## second signal as "kill now". It also puts SIGINT back to its default (a shell that starts
## make in the background ignores it, and Prefect's worker turns SIGTERM into SIGINT).
worker: $(STAMP)
	exec env $(PREFECT_LOCAL) $(BIN)/python -m newsetl.worker_shell $(BIN)/prefect worker start --pool $(NEWSETL_POOL) --type process

constraints: $(STAMP)
	@{ echo "# Exact versions newsetl is tested with (name==version only; no index URLs)."; \
	   echo "# Regenerate: make constraints   (after changing dependencies in pyproject.toml)"; \
	   PIP_CONSTRAINT= $(BIN)/python -m pip freeze --exclude-editable | grep -v -i '^newsetl'; } > constraints.txt

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build dist
