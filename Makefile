# The two commands a newcomer needs: `make run` (the whole app, embedded defaults, demo data) and
# `make test` (the whole suite; PostgreSQL/Redis when DATABASE_URL / CELERY_BROKER_URL are set).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=
# `make test` runs the suite in two pytest-xdist worker processes (the machines have two cores), whole files
# per worker (--dist loadfile: a module's fixtures are set up once, its tests run in order). Each worker has
# its own test database and Redis database (tests/conftest.py). TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= 2

.PHONY: run test lint install install-dev check-deploy clean messages

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.runtime $@

install: $(VENV)/.runtime
install-dev: $(VENV)/.dev

run: $(VENV)/.runtime
	$(BIN)/python manage.py migrate --noinput -v0
	$(BIN)/python manage.py seed_demo
	HOST=$(HOST) PORT=$(PORT) BIN=$(BIN) deploy/dev-run.sh

test: $(VENV)/.dev
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/python manage.py makemigrations --check --dry-run -v1

# Translations (docs/i18n.md): extract every marked string into locale/ja/LC_MESSAGES/django.po, keeping
# existing translations, then compile django.mo (committed: Django reads it at run time). Translate the
# new and fuzzy entries, run it again; tests/oligami_site/test_translations.py checks the result.
# The test reads MAKEMESSAGES_IGNORE from here, so the check extracts exactly what this target does.
MAKEMESSAGES_IGNORE := --ignore=.venv --ignore=bench --ignore=tests --ignore=var --ignore=staticfiles --ignore=test-results
messages: $(VENV)/.runtime
	$(BIN)/python manage.py makemessages -l ja --no-obsolete $(MAKEMESSAGES_IGNORE)
	$(BIN)/python manage.py compilemessages -l ja --ignore=.venv

clean:
	rm -rf var staticfiles

# Benchmarks at trial scale and beyond (docs/performance.md): creates and drops the PostgreSQL database
# oligami_bench (BENCH_DB), generates 1,000 / 10,000 / 100,000 patients, measures pages under gunicorn,
# randomize under 50 concurrent requests, the reminder scan, the engine and the simulation; prints the
# table and writes bench/results.json. BENCH_ARGS=--quick checks the scripts in a few minutes.
BENCH_ARGS ?=
.PHONY: bench
bench: $(VENV)/.runtime
	$(BIN)/python bench/run.py $(BENCH_ARGS)

# Screenshots of every page in English and Japanese at 1366x768 and 768x1024 into var/screenshots/ (not
# committed): a throw-away SQLite with the demo data, runserver on a free loopback port, Debian's Chromium
# via Playwright. screenshots-after also copies issue 20's curated pages into docs/screenshots/after/.
.PHONY: screenshots screenshots-after
screenshots: $(VENV)/.dev
	$(BIN)/python -m tests.browser.screenshots

screenshots-after: $(VENV)/.dev
	$(BIN)/python -m tests.browser.screenshots --after docs/screenshots/after
