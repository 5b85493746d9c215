# Two commands do all the set-up: `make demo` (the offline demo) and `make test` (the test suite).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo serve test test-core test-browser lint bench

# The tool alone for the demo; the test extra (pytest, Playwright, ruff, mypy) only when testing.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	$(PY) -m pip install -q -e '.[test]'
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/oversight demo

# Explore an archive in the browser (the demo's by default): make serve DB=runs/archive.db
DB ?= runs/demo.db
serve: $(VENV)/.installed
	$(VENV)/bin/oversight serve --db $(DB)

test: test-core test-browser

test-core: $(VENV)/.installed-test
	$(PY) -m pytest -q -p no:cacheprovider

# Browser tests drive Debian's Chromium (/usr/bin/chromium) and run in their own pytest process,
# apart from the async Datasette-client tests. They skip, saying why, when Chromium is absent.
test-browser: $(VENV)/.installed-test
	$(PY) -m pytest -q -p no:cacheprovider -m browser

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check crawler extract tests datasette_config
	$(VENV)/bin/ruff format --check crawler extract tests datasette_config
	$(VENV)/bin/mypy

bench: $(VENV)/.installed
	$(PY) tests/benchmarks/bench_crawl.py
	$(PY) tests/benchmarks/bench_extraction.py
	$(PY) tests/benchmarks/eval_figures.py
