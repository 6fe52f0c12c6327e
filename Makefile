# Dossier Vault: `make run` serves the embedded default, `make test` installs and runs every check.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOME_DIR ?= var
HOST ?= 127.0.0.1
PORT ?= 8080

.PHONY: run test lint typecheck pytest sysdeps sysdeps-test venv bench clean

$(BIN)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

venv: $(BIN)/.installed

sysdeps:
	scripts/install-system-deps.sh run

sysdeps-test:
	scripts/install-system-deps.sh test

run: sysdeps venv
	DOSSIER_HOME=$(HOME_DIR) $(BIN)/dossier init
	DOSSIER_HOME=$(HOME_DIR) $(BIN)/dossier serve --host $(HOST) --port $(PORT)

lint: venv
	$(BIN)/ruff check vault web indexer config tests bench

typecheck: venv
	$(BIN)/mypy vault indexer config

pytest: venv sysdeps-test
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

test: sysdeps-test venv lint typecheck pytest

bench: venv sysdeps
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
