# Enterprise Push — developer commands. `make run` starts everything locally; `make test` runs every tier.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: setup run test lint typecheck test-unit test-contract test-integration test-function test-e2e infra-check nh-emulator clean

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

test-integration: setup
	$(PY) -m pytest tests/integration

test-function: setup
	$(PY) -m pytest tests/function

test-e2e: setup
	$(PY) -m pytest tests/e2e

# Every tier, lint and type checks: what CI runs.
test: lint typecheck
	$(PY) -m pytest

clean:
	rm -rf .local .pytest_cache .mypy_cache .ruff_cache .hypothesis
