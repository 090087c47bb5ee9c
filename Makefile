# chotdon: `make demo` runs the demo, `make test` runs every check. Both create the virtualenv;
# `make test` also starts a local Kafka and Redis when they are not running (deploy/).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint services stop-services bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

demo: $(BIN)/.installed
	$(BIN)/chotdon demo

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache  # the import layers: [tool.importlinter] in pyproject.toml

services:
	deploy/redis/server start
	deploy/kafka/broker start

stop-services:
	-deploy/kafka/broker stop
	-deploy/redis/server stop

test: lint services
	$(BIN)/pytest

bench: $(BIN)/.installed
	$(BIN)/python benchmarks/parser_throughput.py
	$(BIN)/python benchmarks/replay_speed.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
