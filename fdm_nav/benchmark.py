"""Closed-loop navigation benchmark: ``dynstack nav benchmark --scenarios ... --planner fdm|heuristic|oracle``.

Runs every scenario file given (any file in the documented format, not only
the shipped ones) for ``episodes`` episodes per planner in the embedded
simulator at 10 Hz, and reports per scenario and overall: success, failure
(by cause), timeout and aborted (the progress checker gave the goal up) rates, time to goal and path length of the successes,
and planning time per cycle. Scenarios drawn from a family
(``sim.scenario_families``) are also aggregated per family. Writes the JSON and
one PNG per scenario with the executed trajectories of every planner over the height map.
"""

from __future__ import annotations

import statistics
from collections import Counter
from pathlib import Path
from typing import Any

from tqdm import tqdm

from dynamics_stack.atomic import atomic_write_json
from fdm_nav.closed_loop import EpisodeResult, run_episode
from fdm_nav.planner import FdmPlanner, HeuristicPlanner, NavPlanner, PlannerCfg, TraversabilityCfg
from sim.platform import load_platform
from sim.route import route_or_line
from sim.scenario import Scenario, load_scenario
from sim.scenario_families import family_of
from sim.terrain import build_terrain

PLANNERS = ("fdm", "heuristic", "oracle")
ROUGH_TYPES = ("stairs", "rough", "pits", "mixed")  # the rough-terrain group


def make_planner(name: str, scenario: Scenario, model: Path | None, backend: str, cfg: PlannerCfg | None = None):
    """A planner for ``scenario``'s platform: the FDM (needs ``model``), the geometric heuristic or the oracle."""
    if name == "fdm":
        from dynamics_stack.runtime import load_runtime

        if model is None:
            raise FileNotFoundError("the fdm planner needs --model CARD")
        return FdmPlanner(load_runtime(model, backend=backend), cfg)
    if name == "heuristic":
        p = load_platform(scenario.platform)
        trav = TraversabilityCfg(
            max_step=p.max_step_up,
            max_drop=p.max_step_down,
            max_slope_deg=p.max_tilt_deg,
            base_height=p.base_height,
            inflation=p.width / 2 + 0.1,
        )
        return HeuristicPlanner(cfg, trav)
    if name == "oracle":
        from fdm_nav.oracle import OraclePlanner

        return OraclePlanner()
    raise ValueError(f"unknown planner {name!r}; choose from {PLANNERS}")


def platform_mismatch(planner: NavPlanner, scenario: Scenario) -> str | None:
    """Why ``planner`` must not drive ``scenario``'s platform (an FDM trained for another one), else None."""
    trained = getattr(planner, "platform", None)
    if trained is not None and trained != scenario.platform:
        return f"model trained for platform {trained!r}; scenario uses {scenario.platform!r}"
    return None


def aggregate(results: list[EpisodeResult]) -> dict[str, Any]:
    """Rates and means over episodes."""
    n = len(results)
    outcomes = Counter(r.outcome for r in results)
    causes = Counter(r.failure_cause for r in results if r.outcome == "failure")
    wins = [r for r in results if r.outcome == "success"]
    ms = [m for r in results for m in r.plan_ms]
    return {
        "episodes": n,
        "success_rate": outcomes["success"] / n if n else 0.0,
        "failure_rate": outcomes["failure"] / n if n else 0.0,
        "timeout_rate": outcomes["timeout"] / n if n else 0.0,
        "aborted_rate": outcomes["aborted"] / n if n else 0.0,
        "recoveries": sum(r.recoveries for r in results),
        "failure_causes": dict(causes),
        "time_to_goal_s": statistics.mean(r.time_s for r in wins) if wins else None,
        "path_length_m": statistics.mean(r.path_length_m for r in wins) if wins else None,
        "plan_ms_median": statistics.median(ms) if ms else None,
    }


def run_scenario(
    path: Path,
    planners: list[str],
    episodes: int,
    model: Path | None,
    backend: str = "torch",
    plots: Path | None = None,
    on_episode=None,
) -> tuple[str, dict[str, Any], dict[str, list[EpisodeResult]]]:
    """Every planner on one scenario file: (name, report entry, episode results per planner)."""
    scenario = load_scenario(path)
    height_map = build_terrain(scenario.terrain)
    route = route_or_line(
        height_map,
        load_platform(scenario.platform),
        (scenario.start.x, scenario.start.y),
        (scenario.goal.x, scenario.goal.y),
    )
    entry: dict[str, Any] = {
        "file": scenario.source,
        "terrain": scenario.terrain.type,
        "family": family_of(scenario),
        "planners": {},
    }
    by_planner: dict[str, list[EpisodeResult]] = {}
    trajectories, labels = [], []
    for name in planners:
        planner: NavPlanner = make_planner(name, scenario, model, backend)
        mismatch = platform_mismatch(planner, scenario)
        if mismatch:  # a model of another robot would be a wrong answer, not a weak one
            entry["planners"][name] = {"skipped": mismatch}
            continue
        results = []
        for e in range(episodes):
            results.append(run_episode(scenario, planner, name, seed=e, height_map=height_map, route=route))
            if on_episode:
                on_episode()
        by_planner[name] = results
        entry["planners"][name] = {**aggregate(results), "episodes_detail": [r.summary() for r in results]}
        for i, r in enumerate(results):
            trajectories.append([p[:2] for p in r.trajectory])
            labels.append(f"{name} ep{i} ({r.outcome})")
    if plots is not None:
        entry["plot"] = str(_plot(scenario, height_map, trajectories, labels, plots))
    return scenario.name, entry, by_planner


def _collect(done, per_scenario: dict[str, Any], by_planner: dict[str, list[EpisodeResult]]) -> None:
    name, entry, results = done
    per_scenario[name] = entry
    for planner, rs in results.items():
        by_planner[planner] += rs


def _worker_init(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def run_benchmark(
    scenario_paths: list[Path],
    planners: list[str],
    episodes: int,
    model: Path | None,
    backend: str = "torch",
    plots: Path | None = None,
    progress: bool = True,
    jobs: int = 1,
) -> dict[str, Any]:
    """Every planner on every scenario; returns the report (also used by the demo).

    ``jobs`` > 1 runs scenarios in that many worker processes (one torch thread
    each); the report is the same as a serial run's, in the same order.
    """
    for path in scenario_paths:  # refuse a bad file before any work starts
        load_scenario(path)
    per_scenario: dict[str, Any] = {}
    by_planner: dict[str, list[EpisodeResult]] = {p: [] for p in planners}
    bar = tqdm(total=len(scenario_paths) * len(planners) * episodes, desc="episodes", disable=not progress, unit="ep")
    args = (planners, episodes, model, backend, plots)
    if jobs > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        context = multiprocessing.get_context("spawn")  # no fork of a process that already runs torch threads
        with ProcessPoolExecutor(jobs, mp_context=context, initializer=_worker_init, initargs=(1,)) as pool:
            futures = [pool.submit(run_scenario, path, *args) for path in scenario_paths]
            for future in futures:
                done = future.result()
                bar.update(len(planners) * episodes)
                _collect(done, per_scenario, by_planner)
    else:
        for path in scenario_paths:
            before = bar.n
            done = run_scenario(path, *args, on_episode=lambda: bar.update(1))
            bar.update(len(planners) * episodes - (bar.n - before))  # skipped planners
            _collect(done, per_scenario, by_planner)
    bar.close()
    overall = {name: aggregate(rs) for name, rs in by_planner.items()}
    rough = {
        name: aggregate([r for r in rs if _terrain_of(per_scenario, r.scenario) in ROUGH_TYPES])
        for name, rs in by_planner.items()
    }
    families = sorted({e["family"] for e in per_scenario.values() if e["family"]})
    by_family = {
        family: {
            name: aggregate([r for r in rs if per_scenario[r.scenario]["family"] == family])
            for name, rs in by_planner.items()
        }
        for family in families
    }
    skipped = {n: [s for s, e in per_scenario.items() if "skipped" in e["planners"].get(n, {})] for n in planners}
    report = {
        "planners": planners,
        "episodes_per_scenario": episodes,
        "skipped_scenarios": skipped,
        "overall": overall,
        "rough_terrain": rough,
        "families": by_family,  # scenarios of sim.scenario_families (tag family:NAME), per family
        "scenarios": per_scenario,
    }
    if plots is not None:
        from fdm_nav.benchmark_overview import write_overview

        report["overview"] = str(write_overview(report, plots / "overview.png"))
    return report


def trajectory_of(report: dict[str, Any], scenario: str, planner: str, episode: int = 0) -> list[list[float]]:
    """The executed (x, y, yaw) trajectory of one episode in a benchmark report."""
    return report["scenarios"][scenario]["planners"][planner]["episodes_detail"][episode]["trajectory"]


def _terrain_of(per_scenario: dict[str, Any], name: str) -> str:
    return per_scenario[name]["terrain"]


def _plot(scenario: Scenario, height_map, trajectories, labels, folder: Path) -> Path:
    import numpy as np

    from sim.render import render_scenario

    folder.mkdir(parents=True, exist_ok=True)
    arrays = [np.asarray(t, dtype=np.float32) for t in trajectories if len(t)]
    return render_scenario(scenario, folder / f"{scenario.name}.png", arrays, labels, height_map=height_map)


def write_benchmark(path: Path, report: dict[str, Any]) -> None:
    atomic_write_json(path, report)
