# chotdon: `make demo` runs the demo, `make test` runs every check. Both set up what they need:
# system packages (deploy/setup: apt as root, else the command to run), then `.venv` exactly as
# uv.lock pins it; `make test` also starts a local Kafka and Redis when they are not running.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
# uv reads the lock; the one version of it installed outside the lock is the one the lock pins
UV_VERSION := $(shell sed -n '/^name = "uv"$$/{n;s/^version = "\(.*\)"$$/\1/p;q}' uv.lock)
export UV_PROJECT_ENVIRONMENT := $(VENV)
export UV_PYTHON_DOWNLOADS := never

.PHONY: demo test test-pure lint lock-check lock upgrade setup-demo setup-test services stop-services \
	bench parsers clean

$(UV):
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(BIN)/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --quiet --locked --all-extras --python $(BIN)/python
	touch $@

# The parser compiled by mypyc, in place (deploy/build_parsers.py): rebuilt whenever one of the
# modules it compiles (its MODULES, listed by --sources), the build's code or the locked packages
# (mypy is the compiler) is newer than the record of the last build. The modules left as Python
# (cli, catalog_check) rebuild nothing. `parsers` refuses to load a compiled module older than its
# source.
PARSERS_BUILT := parsers/compiled.json
PARSERS_COMPILED := $(shell $(PYTHON) deploy/build_parsers.py --sources)
$(PARSERS_BUILT): $(PARSERS_COMPILED) deploy/build_parsers.py parsers/build.py $(BIN)/.installed
	$(BIN)/python deploy/build_parsers.py

parsers: $(PARSERS_BUILT)

setup-demo:
	deploy/setup demo

setup-test:
	deploy/setup test

demo: setup-demo $(BIN)/.installed parsers
	$(BIN)/chotdon demo

lock-check: $(UV)
	@$(UV) lock --check --quiet 2>/dev/null \
	  || { echo "uv.lock does not match pyproject.toml: run 'make lock' (or 'make upgrade')"; exit 1; }

lint: lock-check $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache  # the import layers: [tool.importlinter] in pyproject.toml

# Re-resolve uv.lock after editing pyproject.toml, keeping every other pin.
lock: $(UV)
	$(UV) lock

# Move every pin to today's releases, then run every check on them.
upgrade: $(UV)
	$(UV) lock --upgrade
	$(MAKE) test

services: setup-test
	deploy/redis/server start
	deploy/kafka/broker start

stop-services:
	-deploy/kafka/broker stop
	-deploy/redis/server stop

# The suite on the compiled parser (what ships), then the parser's tests on its Python sources
test: setup-test lint parsers services
	$(BIN)/pytest
	$(MAKE) --no-print-directory test-pure

# The parser's own tests on its Python sources (no build, or CHOTDON_PURE=1)
test-pure: $(BIN)/.installed
	CHOTDON_PURE=1 $(BIN)/pytest -q tests/test_parser_*.py

bench: $(BIN)/.installed parsers
	$(BIN)/python benchmarks/parser_throughput.py
	$(BIN)/python benchmarks/replay_speed.py
	$(BIN)/python benchmarks/cli_startup.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis build/mypyc
	rm -f parsers/*.so $(PARSERS_BUILT)
