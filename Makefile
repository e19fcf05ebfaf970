# Two entry points for a fresh machine with python3 (3.10+): `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DAGSTER_HOME_DIR := $(CURDIR)/.dagster_home
CURATION_STORE_URL ?= $(CURDIR)/.curation
export CURATION_STORE_URL

.PHONY: install run test demo-stream bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $(STAMP)

install: $(STAMP)

demo-stream: $(STAMP)
	$(BIN)/curation stream demo --application demo --days 7 --rows-per-day 100000

run: demo-stream
	mkdir -p $(DAGSTER_HOME_DIR)
	cp dagster.yaml $(DAGSTER_HOME_DIR)/dagster.yaml
	DAGSTER_HOME=$(DAGSTER_HOME_DIR) $(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

# --dist loadfile: a module's tests run on one worker, in order (the deployment tests build on each
# other's runs); pytest-xdist's loadgroup does not group under pytest 9.
test: $(STAMP)
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest -n 2 --dist loadfile $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python benchmarks/selection_bench.py

clean:
	rm -rf $(VENV) .dagster_home .pytest_cache
