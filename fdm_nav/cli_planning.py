"""``dynstack nav benchmark``: closed-loop planner comparison on scenario files."""

from __future__ import annotations

import argparse
from pathlib import Path

from dynamics_stack import cli_args
from dynamics_stack.config import ConfigError
from dynamics_stack.paths import resolve_package_file

DEFAULT_MODEL = resolve_package_file("models/fdm_anymal_d.card.json")


def register_planning_commands(sub: argparse._SubParsersAction) -> None:
    bench = sub.add_parser(
        "benchmark",
        help="run planners closed-loop on scenario files (success, failures, timeouts, time, path, planning ms)",
    )
    bench.add_argument("--scenarios", type=Path, nargs="+", required=True, help="scenario YAML files")
    bench.add_argument(
        "--planner",
        nargs="+",
        choices=("fdm", "heuristic", "oracle"),
        default=["fdm"],
        help="planner(s); oracle: MPPI through the simulator itself (a slow upper bound)",
    )
    bench.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="FDM model card for the fdm planner")
    bench.add_argument("--backend", choices=("torch", "onnx"), default="torch", help="FDM runtime backend")
    bench.add_argument("--episodes-per-scenario", type=int, default=1, help="episodes per scenario and planner")
    bench.add_argument("--json", type=Path, required=True, help="report to write")
    bench.add_argument("--plots", type=Path, help="folder for one PNG per scenario (default: beside the JSON)")
    cli_args.add_threads(bench)
    bench.add_argument(
        "--jobs", type=int, default=1, help="scenarios run in this many processes at once (1 torch thread each)"
    )
    cli_args.add_progress(bench)
    bench.set_defaults(func=_benchmark)


def _benchmark(args: argparse.Namespace) -> int:
    from fdm_nav.benchmark import run_benchmark, write_benchmark

    if args.episodes_per_scenario < 1:
        raise ConfigError("--episodes-per-scenario must be >= 1")
    if args.jobs < 1:
        raise ConfigError("--jobs must be >= 1")
    cli_args.apply_threads(args)
    report = run_benchmark(
        args.scenarios,
        args.planner,
        args.episodes_per_scenario,
        args.model if "fdm" in args.planner else None,
        backend=args.backend,
        plots=args.plots or args.json.parent / "plots",
        progress=cli_args.show_progress(args),
        jobs=args.jobs,
    )
    write_benchmark(args.json, report)
    print(format_table(report))
    print(f"wrote {args.json}")
    return 0


def format_table(report: dict) -> str:
    """Per-scenario and overall success/failure/timeout/aborted table, one column group per planner."""
    planners = report["planners"]
    head = f"{'scenario':<28}" + "".join(f"{p + ' S/F/T/A':>24}" for p in planners)
    lines = [head, "-" * len(head)]

    def cell(agg: dict) -> str:
        if "skipped" in agg:
            return "skipped"
        rates = ("success_rate", "failure_rate", "timeout_rate", "aborted_rate")
        return "/".join(f"{agg.get(k, 0.0):.0%}" for k in rates)

    for name, entry in report["scenarios"].items():
        lines.append(f"{name:<28}" + "".join(f"{cell(entry['planners'][p]):>24}" for p in planners))
    lines.append("-" * len(head))
    lines.append(f"{'overall':<28}" + "".join(f"{cell(report['overall'][p]):>24}" for p in planners))
    lines.append(
        f"{'rough (stairs/rough/pits/mixed)':<28}"
        + "".join(f"{cell(report['rough_terrain'][p]):>24}" for p in planners)
    )
    ms = "".join(f"{(report['overall'][p]['plan_ms_median'] or 0):>22.1f}ms" for p in planners)
    lines.append(f"{'planning time (median)':<28}" + ms)
    return "\n".join(lines)
