# The two commands a fresh machine needs (see README): `make run` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint chromium

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test]"
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m web serve $(ARGS)

chromium:
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium; }

# Style and types: ruff (lint and format) over everything, mypy --strict over core/ and web/.
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# Two workers (the machines have two cores), a test file's tests on one worker; each worker has
# its own SQLite files and its own PostgreSQL database (tests/support/databases.py).
test: lint chromium
	$(PY) -m pytest -q -n 2 --dist loadfile $(ARGS)
