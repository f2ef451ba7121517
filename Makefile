# druginfo — the two commands: `make run` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8000
export PORT
# Test processes (pytest-xdist): one more than the cores this process may use, since a good part of
# a test's time is spent waiting (servers starting, PostgreSQL); TEST_WORKERS=0 runs everything in one.
TEST_WORKERS ?= $(shell $(PYTHON) -c "import os; print(len(os.sched_getaffinity(0)) + 1 if hasattr(os, 'sched_getaffinity') else (os.cpu_count() or 1) + 1)")

.PHONY: run test lint format bench migrate seed clean

# Every package from the lock, hashes checked; then the project itself, built by the locked setuptools
# (no build isolation: nothing unpinned is fetched). setuptools' notice that an editable install reads
# the working tree tells nothing new, so it is silenced.
$(STAMP): requirements-dev.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-dev.lock
	PYTHONWARNINGS="ignore:Editable installation" \
		$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

## run: create the environment, migrate, seed an empty database, serve on http://127.0.0.1:$(PORT)
run: $(STAMP)
	$(BIN)/druginfo migrate
	$(BIN)/druginfo seed --if-empty
	$(BIN)/druginfo serve

## test: create the environment and run the whole suite (PostgreSQL tests skip if no server)
test: $(STAMP)
	$(BIN)/pytest -n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check app tests migrations bench
	$(BIN)/ruff format --check app tests migrations bench
	$(BIN)/mypy app

format: $(STAMP)
	$(BIN)/ruff format app tests migrations bench
	$(BIN)/ruff check --fix app tests migrations bench

bench: $(STAMP)
	$(BIN)/python -m bench.run --drugs 1000 --drugs 10000 $(BENCH_ARGS)

migrate: $(STAMP)
	$(BIN)/druginfo migrate

seed: $(STAMP)
	$(BIN)/druginfo seed

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
