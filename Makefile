# Everything a newcomer needs: `make demo` and `make test`. Each target creates the
# virtual environment and installs the project first, so a fresh clone needs nothing
# but Python 3.11, make and git.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
NODE_INSTALLED := node_modules/.installed
BENCH_INSTALLED := $(VENV)/.bench-installed

.PHONY: install demo test ui dbt-docs bench-identity bench-sync clean

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,spark]'
	touch $(INSTALLED)

install: $(INSTALLED)

# Node tools the tests use (Stoplight Prism serves the provider contracts), pinned by package-lock.json.
$(NODE_INSTALLED): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $(NODE_INSTALLED)

$(BENCH_INSTALLED): $(INSTALLED)
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $(BENCH_INSTALLED)

## Build the bundled demo data, plan the messages, sync them to local provider stand-ins, print what happened.
demo: install
	$(BIN)/cdp demo

## The whole test suite (pytest; it also runs dbt build on fixtures).
test: install $(NODE_INSTALLED)
	$(BIN)/pytest

## The Dagster UI on http://127.0.0.1:3000
ui: install
	mkdir -p .dagster_home
	PATH=$(CURDIR)/$(BIN):$$PATH DAGSTER_HOME=$(CURDIR)/.dagster_home $(BIN)/dagster dev -h 127.0.0.1 -p 3000 -m orchestration.definitions

## dbt's documentation site on http://127.0.0.1:8080
dbt-docs: install
	$(BIN)/dbt docs generate && $(BIN)/dbt docs serve --host 127.0.0.1 --port 8080

## Identity graph benchmark: SQL connected components beside scipy (prints figures).
bench-identity: install
	$(BIN)/python benchmarks/bench_identity.py

## Activation vs drt-core: a 1M-member audience synced under a provider's documented rate limit.
bench-sync: $(BENCH_INSTALLED)
	$(BIN)/python benchmarks/sync_bench.py

clean:
	rm -rf target logs warehouse/*.duckdb .dagster_home
