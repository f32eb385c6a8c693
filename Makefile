# Set-up and everyday commands. `make demo` and `make test` run `setup` themselves when needed.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: setup demo test bench lint labelstudio browser serve clean

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

demo: setup
	$(PY) scripts/demo.py --host $(HOST) --port $(PORT)

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

bench: setup
	$(PY) -m bench.run_all

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	$(VENV)/bin/lint-imports

serve: setup
	$(PY) manage.py runserver $(HOST):$(PORT)

clean:
	rm -rf $(VENV) db.sqlite3 var staticfiles .pytest_cache .mypy_cache .ruff_cache

# Label Studio for the review loop, from its own virtualenv (var/labelstudio-venv); waits for /health.
labelstudio:
	scripts/labelstudio.sh start

# Headless Chromium and its driver for the browser tests (tests/browser/), from Debian's packages (needs root).
browser:
	scripts/install_browser.sh
