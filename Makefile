# Two commands for a newcomer: `make demo` (the example use case end to end) and `make test`.
# Both create .venv with the pinned stack and the patched Horovod build when missing.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
ATELIER := $(VENV)/bin/atelier
USE_CASE ?= flights_delay
START ?= 2013-01-01
END ?= 2013-12-31
PYTEST_ARGS ?=

.PHONY: venv setup demo test check test-fast coverage bench clean help cluster-up cluster-down objectstore-up objectstore-down airflow-venv airflow browser postgres

help:
	@echo "make demo   - set up, then build the example use case's Delta tables ($(START)..$(END))"
	@echo "make test   - set up, then run the test suite: the fast tier, then the end-to-end tier (docs/testing.md)"
	@echo "make test-fast - the unit tests only (no Spark); make coverage - make test with line coverage of src/atelier"
	@echo "make check - ruff (lint, format check) and mypy, what make test runs first"
	@echo "make bench  - benchmarks (prints ratios)"
	@echo "make clean  - remove var/ (tables, catalog, caches); keeps .venv"
	@echo "make cluster-up / cluster-down - a Spark standalone master and 2 workers on 127.0.0.1 (jobs: --env standalone)"
	@echo "make objectstore-up / objectstore-down - S3-compatible storage (S3Proxy) on 127.0.0.1:9000 for the lake (jobs: --env objectstore)"
	@echo "make airflow - the Airflow UI on http://127.0.0.1:8080 with the DAGs of dags/ (scheduler, DAG processor)"
	@echo "make airflow-venv - Airflow 3.3.2, the Spark provider and Playwright in .venv-airflow"

venv:
	@scripts/setup_venv.sh

demo: venv
	@scripts/demo.sh $(USE_CASE) $(START) $(END)

test: setup
	@$(MAKE) --no-print-directory check
	$(PY) -m pytest $(PYTEST_ARGS)

# Static checks (pyproject.toml): lint and format of every Python file, types of src/atelier. Seconds.
check: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# What the tests need, side by side (downloads overlap the Horovod build; the Debian packages take
# turns on apt's lock: scripts/lib/apt.sh).
setup:
	@$(MAKE) --no-print-directory -j4 venv airflow-venv browser postgres

test-fast: venv
	$(PY) -m pytest -m "not integration and not e2e" $(PYTEST_ARGS)

coverage: setup
	$(PY) -m pytest --cov=atelier --cov-report=term --cov-report=html:var/reports/coverage $(PYTEST_ARGS)

bench: venv airflow-venv
	$(VENV)/bin/pip install --quiet duckdb
	$(PY) bench/features.py
	$(PY) bench/validation.py
	$(PY) bench/training.py
	$(PY) bench/python_tasks.py
	$(PY) bench/scoring.py
	$(PY) bench/monitoring.py
	$(PY) bench/bootstrap.py
	$(PY) bench/java_scoring.py
	$(PY) bench/airflow_daily.py

cluster-up: venv
	@scripts/cluster.sh up

cluster-down:
	@scripts/cluster.sh down

objectstore-up:
	@scripts/objectstore.sh up

objectstore-down:
	@scripts/objectstore.sh down

airflow-venv:
	@scripts/setup_airflow_venv.sh .venv-airflow "playwright==1.65.2"

airflow: venv airflow-venv
	@scripts/airflow.sh start

browser:
	@scripts/setup_browser.sh

postgres:
	@scripts/postgres.sh install

clean: cluster-down objectstore-down
	rm -rf var/ derby.log metastore_db/ spark-warehouse/
