# Grid governance platform. `make help` lists the targets.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)
HOST ?= 127.0.0.1:8000
N ?= 100000
# Issues in the benchmark city (make bench-city).
CITY_ISSUES ?= 1000000
BENCH_ARGS ?=
# Test processes (pytest-xdist): one per core; WORKERS=0 runs the tests in this process.
WORKERS ?= auto
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help install run migrate messages seed test e2e test-cluster lint fmt bench-city bench-sweep bench-queue bench-dashboard bench-map bench-open311 bench-load clean

help: ## List the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}' \
		| sed 's|$$(HOST)|$(HOST)|'

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP) ## Make the virtualenv and install the pinned requirements

migrate: install ## Apply database migrations
	$(BIN)/python manage.py migrate --noinput

messages: install ## Rebuild the translation catalogues after changing strings (needs gettext)
	$(BIN)/python manage.py makemessages -l zh_Hans -l en --no-obsolete --ignore '.venv/*' --ignore 'static/vendor/*'
	$(BIN)/python manage.py compilemessages --ignore '.venv/*'

seed: migrate ## Load the demo subdistrict and accounts (idempotent)
	$(BIN)/python manage.py seed_demo

run: seed ## Fresh machine to a running demo on http://$(HOST), with the task worker
	@# The task worker (emails, webhooks) runs beside the server; Ctrl-C stops both.
	@DEBUG=1 $(BIN)/python manage.py db_worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	DEBUG=1 $(BIN)/python manage.py runserver $(HOST)

test: install ## Run the whole test suite in parallel (browser tests need /usr/bin/chromium)
	$(BIN)/pytest -n $(WORKERS) $(PYTEST_ARGS)

e2e: install ## Run only the browser tests (headless Chromium)
	$(BIN)/pytest -n $(WORKERS) -m browser $(PYTEST_ARGS)

test-cluster: install ## Two gunicorn hosts on one PostgreSQL, media folder and task worker, tested together
	tests/cluster/run.sh $(PYTEST_ARGS)

lint: install ## ruff check and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: install ## Format and autofix with ruff
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench-city: migrate ## Build the benchmark city (CITY_ISSUES=1000000) on DATABASE_URL, a dedicated database: …/grid_city
	$(BIN)/python manage.py build_city --issues $(CITY_ISSUES) $(BENCH_ARGS)

bench-sweep: migrate ## Time the sweep over N overdue issues (N=100000) beside bare SQL, on the city if built
	$(BIN)/python manage.py bench_sweep --issues $(N) $(BENCH_ARGS)

bench-queue: migrate ## Time the staff queue page beside a bare page, in-process and under gunicorn, on the city if built
	$(BIN)/python manage.py bench_queue --issues $(N) $(BENCH_ARGS)

bench-open311: migrate ## Time the Open311 request list beside a bare view, on the city if built (else N issues)
	$(BIN)/python manage.py bench_open311 --issues $(N) $(BENCH_ARGS)

bench-load: install ## 50 residents browse and file for 60 s (locust) beside a bare INSERT; own database …/grid_load
	bench/load/run.sh

bench-dashboard: migrate ## Time the dashboard beside a bare aggregate, on the city if built (else N issues)
	$(BIN)/python manage.py bench_dashboard --issues $(N) $(BENCH_ARGS)

bench-map: migrate ## Time the staff map's markers beside a bare view, on the city if built (else N issues)
	$(BIN)/python manage.py bench_map --issues $(N) $(BENCH_ARGS)

clean: ## Remove the virtualenv, the SQLite demo database and test artefacts
	rm -rf $(VENV) db.sqlite3 db.sqlite3-wal db.sqlite3-shm test-artifacts .pytest_cache
