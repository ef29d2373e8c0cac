# Enterprise Push — developer commands. `make run` starts everything locally; `make test` runs every tier.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: setup run test lint typecheck test-unit test-contract test-local test-integration test-function test-e2e \
	test-reliability reliability-full infra-check nh-emulator bench bench-quick clean

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

run: setup
	$(PY) -m local.run

nh-emulator: setup
	$(PY) -m local.nh_emulator

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: setup
	$(VENV)/bin/mypy

test-unit: setup
	$(PY) -m pytest tests/unit

test-contract: setup
	$(PY) -m pytest tests/contract

test-local: setup
	$(PY) -m pytest tests/local

test-integration: setup
	$(PY) -m pytest tests/integration

test-function: setup
	$(PY) -m pytest tests/function

test-e2e: setup
	$(PY) -m pytest tests/e2e

test-reliability: setup
	$(PY) -m pytest tests/reliability

# The full-size reliability run (5,000 events, 60 s load, thousands of generated requests); writes docs/reliability.md.
reliability-full: setup
	$(PY) -m tests.reliability --full

# Benchmarks: install the bench-only packages, then run (wrk comes from Debian via apt-get when running as root and
# missing; otherwise the run says so and skips the wrk rows); write docs/benchmarks.md and docs/bench-*.png.
bench: setup
	$(PY) -m pip install --quiet -r requirements-bench.txt
	$(PY) -m bench

bench-quick: setup
	$(PY) -m pip install --quiet -r requirements-bench.txt
	$(PY) -m bench --quick

CHECKOV := .venv-checkov/bin/checkov

# checkov lives in its own virtualenv: its dependencies clash with the app's pins. It runs offline.
$(CHECKOV):
	$(PYTHON) -m venv .venv-checkov
	.venv-checkov/bin/pip install --quiet checkov==3.3.30

infra-check: setup $(CHECKOV)
	BC_SKIP_MAPPING=TRUE CKV_SKIP_PACKAGE_UPDATE_CHECK=true $(CHECKOV) --directory infra --framework bicep --skip-download --compact --quiet
	$(PY) -m pytest -m infra tests/infra

# Every tier, lint, type and infra checks: what CI runs.
test: lint typecheck $(CHECKOV)
	BC_SKIP_MAPPING=TRUE CKV_SKIP_PACKAGE_UPDATE_CHECK=true $(CHECKOV) --directory infra --framework bicep --skip-download --compact --quiet
	$(PY) -m pytest

clean:
	rm -rf .local .pytest_cache .mypy_cache .ruff_cache .hypothesis
