"""Closed-loop generalisation benchmark: planners over scenario families, many seeds each.

Draws ``--count`` seeds (from ``--first-seed``) of every family of
``sim.scenario_families`` (or ``--family ...``): terrain parameters, terrain
seed, start, start heading and goal vary per seed. Writes them as scenario
files (``--scenarios-out``, default beside the JSON), runs each planner once
per file closed-loop in the embedded simulator (``fdm_nav.benchmark``, with
the node's progress checker and recovery), prints success / failure / timeout /
aborted per family and overall, and writes the report (per family, per
scenario, every episode) to ``--json``.

Tune on some seeds, report on others: the reported runs use seeds 1000 and
up, which no setting was chosen on.

Run: ``.venv/bin/python benchmarks/bench_nav_families.py --first-seed 1000 --count 10 --planner fdm heuristic
--threads 1 [--jobs N]``.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import torch

from dynamics_stack.atomic import atomic_write_json
from dynamics_stack.paths import resolve_package_file
from fdm_nav.benchmark import run_benchmark
from sim.scenario_families import FAMILIES, write_family_scenarios

RESULTS = Path(__file__).with_name("results") / "nav_families.json"


def rate_cell(agg: dict) -> str:
    n = agg["episodes"]
    if not n:
        return "-"
    counts = [round(agg[k] * n) for k in ("success_rate", "failure_rate", "timeout_rate", "aborted_rate")]
    return "/".join(str(c) for c in counts) + f" of {n}"


def table(report: dict) -> str:
    planners = report["planners"]
    head = f"{'family':<12}" + "".join(f"{p + ' S/F/T/A':>24}" for p in planners)
    lines = [head, "-" * len(head)]
    for family, per in report["families"].items():
        lines.append(f"{family:<12}" + "".join(f"{rate_cell(per[p]):>24}" for p in planners))
    lines.append("-" * len(head))
    lines.append(f"{'all':<12}" + "".join(f"{rate_cell(report['overall'][p]):>24}" for p in planners))
    lines.append(f"{'success':<12}" + "".join(f"{report['overall'][p]['success_rate']:>24.1%}" for p in planners))
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--family", nargs="+", default=list(FAMILIES), choices=list(FAMILIES))
    ap.add_argument("--first-seed", type=int, default=1000, help="first seed of every family")
    ap.add_argument("--count", type=int, default=10, help="seeds per family")
    ap.add_argument("--planner", nargs="+", default=["fdm", "heuristic"], choices=("fdm", "heuristic", "oracle"))
    ap.add_argument("--model", type=Path, default=resolve_package_file("models/fdm_anymal_d.card.json"))
    ap.add_argument("--backend", choices=("torch", "onnx"), default="torch")
    ap.add_argument("--json", type=Path, default=RESULTS)
    ap.add_argument("--scenarios-out", type=Path, help="folder for the drawn scenario files (default: beside --json)")
    ap.add_argument("--plots", action="store_true", help="a PNG per scenario and overview.png beside the JSON")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (per job)")
    ap.add_argument("--jobs", type=int, default=1, help="scenarios run in this many processes at once")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    seeds = range(args.first_seed, args.first_seed + args.count)
    folder = args.scenarios_out or args.json.with_suffix("") / "scenarios"
    paths = write_family_scenarios(folder, args.family, seeds)
    t0 = time.perf_counter()
    report = run_benchmark(
        paths,
        args.planner,
        1,
        args.model if "fdm" in args.planner else None,
        backend=args.backend,
        plots=args.json.with_suffix("") / "plots" if args.plots else None,
        jobs=args.jobs,
    )
    report["setup"] = {
        "families": args.family,
        "seeds": [seeds.start, seeds.stop - 1],
        "model": str(args.model),
        "backend": args.backend,
        "wall_s": round(time.perf_counter() - t0, 1),
        "threads": args.threads,
        "jobs": args.jobs,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "scenario_files": str(folder),
    }
    atomic_write_json(args.json, report)
    print(table(report))
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
