# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint install install-test system-packages

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e .

install-test: $(BIN)/python system-packages
	$(BIN)/pip install --quiet -e '.[test]'

# Browser tests drive Debian's Chromium; install it when it is missing and we may.
system-packages:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "Browser tests need Debian's chromium: sudo apt-get install chromium" >&2; exit 1; fi; \
	fi

## Install and start the service on SQLite with the shipped assessments loaded
## (`make run PORT=8080`; links follow the port unless REDLINE_BASE_URL says otherwise).
run: install
	$(BIN)/redline serve --host $(HOST) --port $(PORT)

## Install what the tests need and run them (REDLINE_TEST_DATABASE_URL selects PostgreSQL).
# pytest exits 5 when it collects no test: nothing failed, so that is a pass.
test: install-test
	$(BIN)/python -m pytest $(PYTEST_ARGS) || [ $$? -eq 5 ]

lint: install-test
	$(BIN)/ruff check app grading tests
	$(BIN)/ruff format --check app grading tests
	$(BIN)/mypy app grading
