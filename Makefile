# Two commands on a fresh machine: `make demo` and `make test`. Each sets up .venv first.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: venv demo test lint format bench clean

venv:
	@bash tools/setup_venv.sh

demo: venv
	$(VENV)/bin/dynstack demo
	$(VENV)/bin/dynstack demo --example manip

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: lint
	$(PY) -m pytest -q

format: venv
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Benchmarks are programs, not tests: they print a table and write benchmarks/results/*.json.
bench: venv
	$(VENV)/bin/pip install -q -r requirements-bench.txt 2>&1 | grep -v "is ignored" || true
	$(PY) benchmarks/bench_mppi.py
	$(PY) benchmarks/bench_terrain_sim.py --datagen
	$(PY) benchmarks/bench_fdm.py

clean:
	rm -rf $(VENV) demo_output .pytest_cache .ruff_cache
