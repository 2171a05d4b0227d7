# Tremplin — the two commands a newcomer needs: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
export PYTHONUNBUFFERED := 1

.PHONY: demo test bench lint run worker install install-dev messages migrate test-postgres e2e clean totp vendor

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[postgres]"
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PY) -m pip install --quiet -e ".[dev,postgres,spark]"
	@touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

messages: $(VENV)/.installed
	cd src/tremplin/web && DEBUG=1 ../../../$(PY) ../../../manage.py compilemessages -v 0

migrate: messages
	DEBUG=1 $(PY) manage.py migrate --no-input -v 0

## demo: set everything up (venv, deps, database, demo data) and run the web platform + background worker
demo: migrate
	DEBUG=1 $(PY) manage.py demo_setup
	DEBUG=1 $(PY) scripts/demo.py --host $(HOST) --port $(PORT)

## run: the web server only (DEBUG=1, embedded SQLite)
run: migrate
	DEBUG=1 $(PY) manage.py runserver $(HOST):$(PORT)

## worker: the background job worker (django-q2, database broker)
worker: migrate
	DEBUG=1 $(PY) manage.py qcluster

## totp: current second-factor code of the demo admin and evaluator
totp: $(VENV)/.installed
	@DEBUG=1 $(PY) manage.py demo_totp

## lint: ruff + import-linter architecture contracts
lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check src tests benchmarks scripts manage.py
	$(VENV)/bin/lint-imports --config pyproject.toml

## test: lint, contracts, the whole suite on SQLite, then the web suite on a real PostgreSQL
test: lint messages
	$(VENV)/bin/pytest
	$(PY) tests/run_on_postgres.py

## bench: speed and memory against peers, measured in the same run
bench: $(VENV)/.installed-dev
	$(PY) benchmarks/run.py

vendor:
	$(PY) scripts/vendor_static.py

clean:
	rm -rf var/tremplin.sqlite3* var/static .pytest_cache
