# Everything a newcomer needs: `make demo` and `make test`. Each target creates the
# virtual environment and installs the project first, so a fresh clone needs nothing
# but Python 3.11, make and git.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
NODE_INSTALLED := node_modules/.installed
BENCH_INSTALLED := $(VENV)/.bench-installed
# dbt's manifest, which the Dagster definitions are read from.
MANIFEST := target/manifest.json
DBT_SOURCES := dbt_project.yml profiles.yml $(shell find models macros seeds tests/dbt -type f)
DAGSTER_HOME_DIR := .dagster_home
# The browser the UI test drives (Debian's package; Playwright never downloads one).
CHROMIUM := /usr/bin/chromium

.PHONY: install prepare browser demo test lint ui dbt-docs bench-identity bench-sync bench-recommendations clean

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,spark]'
	touch $(INSTALLED)

install: $(INSTALLED)

# dagster-dbt's project preparation (`dbt parse` into target/manifest.json), run here
# when a model, macro, seed or setting changed, so that loading the Dagster definitions
# never parses the project.
$(MANIFEST): $(INSTALLED) $(DBT_SOURCES)
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/dagster-dbt project prepare-and-package --file orchestration/project.py
	touch $(MANIFEST)

prepare: $(MANIFEST)

# Headless Chromium for the Dagster UI test, from Debian (about 25 s, once).
$(CHROMIUM):
	apt-get update
	apt-get install -y chromium

browser: $(CHROMIUM)

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

## The whole test suite (pytest; it also runs dbt build on fixtures), after the linters. The tests run in
## TEST_WORKERS processes (pytest-xdist; default one per core), a test file's tests in one of them, so that
## a file's shared warehouse is built once.
TEST_WORKERS ?= auto
test: lint $(NODE_INSTALLED) $(MANIFEST) $(CHROMIUM)
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile

## Linters: ruff (lint and format) on the Python code; import-linter for layering and cycles (pyproject.toml);
## SQLFluff on the SQL (compiled against a throw-away warehouse).
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	mkdir -p target/sqlfluff && export CDP_WAREHOUSE=target/sqlfluff/lint.duckdb && $(BIN)/dbt seed --quiet --select identity_junk_identifiers && $(BIN)/sqlfluff lint --processes 2 models tests/dbt

## The Dagster UI on http://127.0.0.1:3000: the whole product as assets, jobs, schedules and sensors.
ui: $(MANIFEST)
	mkdir -p $(DAGSTER_HOME_DIR)
	cp orchestration/dagster.yaml $(DAGSTER_HOME_DIR)/dagster.yaml
	PATH=$(CURDIR)/$(BIN):$$PATH DAGSTER_HOME=$(CURDIR)/$(DAGSTER_HOME_DIR) $(BIN)/dagster dev -h 127.0.0.1 -p 3000 -m orchestration.definitions

## dbt's documentation site on http://127.0.0.1:8080
dbt-docs: install
	$(BIN)/dbt docs generate && $(BIN)/dbt docs serve --host 127.0.0.1 --port 8080

## Identity benchmark (prints figures): probabilistic matching against the truth (generated CRM, FEBRL 1-4),
## then SQL connected components beside scipy.
bench-identity: $(BENCH_INSTALLED)
	$(BIN)/python benchmarks/bench_matching.py
	$(BIN)/python benchmarks/bench_identity.py

## Activation vs drt-core: a 1M-member audience synced under a provider's documented rate limit.
bench-sync: $(BENCH_INSTALLED)
	$(BIN)/python benchmarks/sync_bench.py

## Recommendations offline (prints figures): hit rate at 10 on a time split of purchase history, the co-purchase
## model's own SQL beside a popularity baseline, on the demo and on generated data.
bench-recommendations: $(INSTALLED)
	$(BIN)/python benchmarks/bench_recommendations.py

clean:
	rm -rf target logs warehouse/*.duckdb $(DAGSTER_HOME_DIR)
