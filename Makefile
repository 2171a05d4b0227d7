# Tremplin — the two commands a newcomer needs: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
TEST_WORKERS ?= auto
export PYTHONUNBUFFERED := 1

.PHONY: demo test bench lint run worker install install-dev messages migrate test-postgres e2e clean totp vendor \
	lock check-locks translations

# Installs come from the hashed lock files in requirements/ (see scripts/lock.py and `make lock`):
# a fresh clone gets exactly the versions that were tested. The project itself is installed on top,
# editable, without touching the pinned dependencies.
$(VENV)/.installed: pyproject.toml requirements/build.txt requirements/runtime.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes -r requirements/build.txt
	$(PY) -m pip install --quiet --require-hashes -r requirements/runtime.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements/dev.txt
	$(PY) -m pip install --quiet --require-hashes -r requirements/dev.txt
	@touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

messages: $(VENV)/.installed
	cd src/tremplin/web && DEBUG=1 ../../../$(PY) ../../../manage.py compilemessages -v 0

## translations: refresh the English catalogue from the French sources (then fill in every new msgstr)
translations: $(VENV)/.installed
	cd src/tremplin/web && DEBUG=1 ../../../$(PY) ../../../manage.py makemessages -l en --ignore=migrations \
		--no-location -v 0

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

## lock: regenerate the hashed lock files from pyproject.toml (UPGRADE=1: newest allowed versions), then `make test`
lock: $(VENV)/.installed-dev
	$(PY) scripts/lock.py $(if $(UPGRADE),--upgrade,)
	$(PY) -m pip install --quiet --require-hashes -r requirements/dev.txt

## check-locks: fail when pyproject.toml's dependencies changed but the locks did not
check-locks:
	@$(PYTHON) scripts/lock.py --check

## lint: lock check, ruff + import-linter architecture contracts
lint: check-locks $(VENV)/.installed-dev
	$(VENV)/bin/ruff check src tests benchmarks scripts manage.py
	$(VENV)/bin/lint-imports --config pyproject.toml

## test: lint, contracts, the whole suite on SQLite, then the web suite on a real PostgreSQL.
## Both halves always run; the exit status is non-zero when either failed, and both results are printed.
test: lint messages
	@sqlite=0; postgres=0; \
	$(VENV)/bin/pytest -n $(TEST_WORKERS) $(PYTEST_ARGS) || sqlite=$$?; \
	$(PY) tests/run_on_postgres.py -n $(TEST_WORKERS) $(PYTEST_ARGS) || postgres=$$?; \
	echo; echo "== make test: SQLite suite $$( [ $$sqlite = 0 ] && echo passed || echo "FAILED (exit $$sqlite)" );" \
	     "PostgreSQL web suite $$( [ $$postgres = 0 ] && echo passed || echo "FAILED (exit $$postgres)" )"; \
	[ $$sqlite = 0 ] && [ $$postgres = 0 ]

## bench: speed and memory against peers, measured in the same run
bench: $(VENV)/.installed-dev
	$(PY) benchmarks/run.py

vendor:
	$(PY) scripts/vendor_static.py

clean:
	rm -rf var/tremplin.sqlite3* var/static .pytest_cache
