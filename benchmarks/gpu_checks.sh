#!/usr/bin/env bash
# Everything that needs (or profits from) a GPU machine, in one run: the CUDA tests, the CUDA rows of the
# planner, FDM, PGND and reward benchmarks, and the closed-loop navigation benchmark spread over many cores
# (FDM + heuristic, 3 episodes per scenario; the oracle planner, 1 episode).
#
# Usage (repository root, a Python with torch + CUDA; pytorch_mppi and its two small dependencies on the path):
#   OUT=/some/folder bash benchmarks/gpu_checks.sh [JOBS]
# Results land in $OUT (JSON, logs, the benchmark overview PNGs). Nothing here is part of `make test`.
# On the lent GPU machine (which returns at most 8 files) run it with OUT in /tmp and tar that folder.
set -uo pipefail
OUT=${OUT:?set OUT to a folder for the results}
export JOBS=${1:-14}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
mkdir -p "$OUT"

nvidia-smi -L | tee "$OUT/device.txt"
python3 -c "import sys, torch; print(sys.version.split()[0], 'torch', torch.__version__, torch.cuda.get_device_name(0))" \
  | tee -a "$OUT/device.txt"

python3 -m pytest -q -p no:cacheprovider \
  tests/dynamics_stack/test_mppi.py::test_same_code_on_cuda \
  tests/sim/test_platform_sim.py::test_cuda_runs_the_same_model_as_the_cpu 2>&1 | tail -5 | tee "$OUT/cuda_tests.log"

python3 benchmarks/bench_planner.py --cycles 10 --out "$OUT/planner_cuda.json" 2>&1 | tee "$OUT/bench_planner.log"
python3 benchmarks/bench_fdm.py --out "$OUT/fdm_cuda.json" 2>&1 | tee "$OUT/bench_fdm.log"
python3 benchmarks/bench_pgnd.py --device cuda --sim-episodes 0 --reps 5 --out "$OUT/pgnd_cuda.json" 2>&1 | tee "$OUT/bench_pgnd.log"

nav() { python3 -c "import sys; from dynamics_stack.cli import main; sys.exit(main(sys.argv[1:]))" nav benchmark \
  --scenarios sim/scenarios/nav/*.yaml --jobs "$JOBS" --no-progress "$@"; }
timeout 230 bash -c "$(declare -f nav); nav --planner fdm heuristic --episodes-per-scenario 3 \
  --json '$OUT/nav_benchmark_3ep.json' --plots /tmp/plots_3ep" 2>&1 | tail -40 | tee "$OUT/nav_3ep.log"
cp /tmp/plots_3ep/overview.png "$OUT/nav_overview_3ep.png" 2>/dev/null
timeout 200 bash -c "$(declare -f nav); nav --planner oracle --json '$OUT/nav_oracle.json' --plots /tmp/plots_oracle" \
  2>&1 | tail -40 | tee "$OUT/nav_oracle.log"
cp /tmp/plots_oracle/overview.png "$OUT/nav_overview_oracle.png" 2>/dev/null
ls -la "$OUT"
