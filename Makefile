# Dossier Vault: `make run` serves the embedded default, `make test` installs and runs every check.
# `make run PORT=8081` (and HOST=, HOME_DIR=) picks another address or home.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOME_DIR ?= var
HOST ?= 127.0.0.1
PORT ?= 8080
# pytest processes (pytest-xdist); each test file stays in one process, so module-scoped scenes are built once
PYTEST_WORKERS ?= 2

.PHONY: run test lint typecheck pytest sysdeps sysdeps-test venv venv-test bench clean

# serving needs the project only; the checks add the test extras (pytest, mypy, Playwright, ...)
$(BIN)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e .
	touch $@

$(BIN)/.installed-test: $(BIN)/.installed
	$(BIN)/pip install -q -e '.[test]'
	touch $@

venv: $(BIN)/.installed

venv-test: $(BIN)/.installed-test

sysdeps:
	scripts/install-system-deps.sh run

sysdeps-test:
	scripts/install-system-deps.sh test

run: sysdeps venv
	DOSSIER_HOME=$(HOME_DIR) $(BIN)/dossier init
	@# exec: make's child is the server itself, which stops on Ctrl+C or SIGTERM with status 0
	DOSSIER_HOME=$(HOME_DIR) exec $(BIN)/dossier serve --host $(HOST) --port $(PORT)

lint: venv-test
	$(BIN)/ruff check vault web indexer config tests bench

typecheck: venv-test
	$(BIN)/mypy vault indexer config web

pytest: venv-test sysdeps-test
	$(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

test: sysdeps-test venv-test lint typecheck pytest

bench: venv-test sysdeps-test  # load and scale run PostgreSQL, fuzz atheris
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
