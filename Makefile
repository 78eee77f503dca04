# spo-hotfolder: the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
CONFIG ?= config/spo-hotfolder.yaml

.PHONY: run test test-slow lint bench bench-quick init clean install

# The venv is rebuilt when pyproject.toml changes.
$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# Runs the daemon in the foreground on the example config; everything lives under ./var/.
run: $(BIN)/.installed
	$(BIN)/spo-hotfolder -c $(CONFIG) init
	mkdir -p var/hot/indigo var/hot/large-format
	$(BIN)/spo-hotfolder -c $(CONFIG) run

init: $(BIN)/.installed
	$(BIN)/spo-hotfolder -c $(CONFIG) init

test: $(BIN)/.installed
	$(BIN)/python -m pytest -m "not slow" -q

test-slow: $(BIN)/.installed
	$(BIN)/python -m pytest -m slow -q

lint: $(BIN)/.installed
	$(BIN)/ruff check spo_hotfolder tests bench
	$(BIN)/mypy spo_hotfolder

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
