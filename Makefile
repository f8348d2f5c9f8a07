# Two commands on a fresh machine: `make demo` and `make test`. Each sets up .venv first.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: venv detector demo test lint format bench clean

venv:
	@bash tools/setup_venv.sh

# Optional extra: MediaPipe Pose for the keypoint_detector node (requirements-detector.txt says why --no-deps).
detector: venv
	$(VENV)/bin/python -m pip install -q --disable-pip-version-check --no-deps -r requirements-detector.txt 2>&1 | grep -v "is ignored" || true
	$(PY) -c "from visual_irl.pose_detectors import MediaPipePoseDetector as D; D(); print('[detector] MediaPipe Pose ready')"

demo: venv
	$(VENV)/bin/dynstack demo
	$(VENV)/bin/dynstack demo --example manip

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# The optional MediaPipe extra is installed for the tests, so that the detector's tests on photographs run.
test: lint detector
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
