# Quick start: `make run` (console bot on the embedded SQLite default) and `make test`.
# Both create .venv when it is missing or stale (pyproject.toml changed, or its Python is gone).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CONFIG ?= $(if $(wildcard config.toml),config.toml,config.example.toml)

.PHONY: run console test typecheck bench check-config clean

$(STAMP): pyproject.toml
	@if ! $(BIN)/python -c 'import sys' >/dev/null 2>&1; then \
		echo "Creating $(VENV)"; rm -rf $(VENV); $(PYTHON) -m venv $(VENV); fi
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/liaison-bot --config $(CONFIG) run

console: $(STAMP)
	$(BIN)/liaison-bot --config $(CONFIG) console

check-config: $(STAMP)
	$(BIN)/liaison-bot --config $(CONFIG) check-config

test: $(STAMP)
	$(BIN)/python -m mypy
	$(BIN)/python -m pytest

# Settings in pyproject.toml's [tool.mypy]: strict for alerts/ and handlers/.
typecheck: $(STAMP)
	$(BIN)/python -m mypy

# Every benchmark, then each one's goal lines again; several minutes. The Synapse-based ones print
# their goals as not measured with LIAISON_BENCH_NO_SYNAPSE=1 (or where Synapse is not installed).
BENCH_LOG := $(VENV)/bench.log

bench: $(STAMP)
	@: > $(BENCH_LOG); for b in bench/*_bench.py; do echo "== $$b" | tee -a $(BENCH_LOG); \
		$(BIN)/python $$b 2>&1 | grep -v -e 'Unclosed c' -e '^connections: ' -e '^connector: ' \
			-e '^client_session: ' | tee -a $(BENCH_LOG); done; \
	echo "== goals"; grep '^goal ' $(BENCH_LOG)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .hypothesis *.egg-info
