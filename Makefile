# One command set for people, CI and docs.  `make serve` and `make test` are the README quick start.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8080
NPM_FLAGS := --no-audit --no-fund --loglevel=error

.PHONY: serve test install install-dev node-deps browser-deps lint typecheck unit bench clean profiles profiles-check

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

install: $(BIN)/python
	$(BIN)/python -m pip install -q -e .

install-dev: $(BIN)/python
	$(BIN)/python -m pip install -q -e ".[dev]"

# The real FHIR server used by the integration tests, the official example corpora, SUSHI with the FHIR
# packages it compiles against, and the offline profile validator.
node-deps:
	npm ci --prefix tests/fhir_server $(NPM_FLAGS)
	npm ci --prefix tests/corpus $(NPM_FLAGS)
	npm ci --prefix tools/sushi $(NPM_FLAGS)
	npm ci --prefix tools/validator $(NPM_FLAGS)

# Compile profiles/fsh offline with SUSHI into profiles/generated (docs/profiles.md).
profiles: node-deps
	$(PYTHON) profiles/fsh_build.py

# CI: SUSHI must compile with 0 errors and the committed profiles/generated must match the FHIR Shorthand.
profiles-check: node-deps
	$(PYTHON) profiles/fsh_build.py --check

# The browser tests drive the system Chromium (never a downloaded browser) and inject axe-core from npm.
# CI runs as root on Debian: Chromium is installed with apt-get where it is missing.
CHROMIUM ?= /usr/bin/chromium
browser-deps:
	@if [ ! -x "$(CHROMIUM)" ]; then \
		echo "installing chromium with apt-get"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	fi
	npm ci --prefix tests/browser $(NPM_FLAGS)

# Starts the service on its embedded default: SQLite in ./var, JWT verification off for a local demo.
serve: install
	$(BIN)/fhir-bonemet serve --host $(HOST) --port $(PORT) --no-auth

lint: install-dev
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/lint-imports  # the layer contracts in pyproject.toml

typecheck: install-dev
	$(BIN)/mypy

unit: install-dev
	$(BIN)/pytest -m "not integration and not corpus and not postgres and not browser and not conformance"

# Everything CI runs: lint (with the import contracts), types, the whole test suite (unit, integration,
# corpus, conformance, PostgreSQL, browser).  The profile build is in it: tests/conformance/
# test_profiles_build.py runs SUSHI and fails on an error or drift, as `make profiles-check` does.
test: install-dev node-deps browser-deps lint typecheck
	$(BIN)/pytest

bench: install-dev
	$(BIN)/python benchmarks/bench_read.py
	$(BIN)/python benchmarks/bench_reasoning.py
	$(BIN)/python benchmarks/bench_hook.py
	$(BIN)/python benchmarks/card_signal.py --quiet
	$(BIN)/python benchmarks/bench_service.py --compare-workers 2 --healthchain

clean:
	rm -rf $(VENV) var tests/fhir_server/node_modules tests/corpus/node_modules tests/browser/node_modules \
		tools/sushi/node_modules tools/sushi/.home tools/validator/node_modules
