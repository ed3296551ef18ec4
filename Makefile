# One command set for people, CI and docs.  `make serve` and `make test` are the README quick start.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8080
NPM_FLAGS := --no-audit --no-fund --loglevel=error

.PHONY: serve test install install-dev node-deps lint typecheck unit bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

install: $(BIN)/python
	$(BIN)/python -m pip install -q -e .

install-dev: $(BIN)/python
	$(BIN)/python -m pip install -q -e ".[dev]"

# The real FHIR server used by the integration tests, and the official example corpora.
node-deps:
	npm ci --prefix tests/fhir_server $(NPM_FLAGS)
	npm ci --prefix tests/corpus $(NPM_FLAGS)

# Starts the service on its embedded default: SQLite in ./var, JWT verification off for a local demo.
serve: install
	$(BIN)/fhir-bonemet serve --host $(HOST) --port $(PORT) --no-auth

lint: install-dev
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: install-dev
	$(BIN)/mypy

unit: install-dev
	$(BIN)/pytest -m "not integration and not corpus and not postgres"

# Everything CI runs: lint, types, the whole test suite (unit, integration, corpus, PostgreSQL).
test: install-dev node-deps lint typecheck
	$(BIN)/pytest

bench: install-dev
	$(BIN)/python benchmarks/bench_read.py
	$(BIN)/python benchmarks/bench_reasoning.py
	$(BIN)/python benchmarks/bench_hook.py
	$(BIN)/python benchmarks/bench_service.py --compare-workers 2

clean:
	rm -rf $(VENV) var tests/fhir_server/node_modules tests/corpus/node_modules
