"""Closed-loop benchmark on scenario files the test writes itself; the FDM planner with the shipped model."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from dynamics_stack.cli import main as dynstack
from dynamics_stack.runtime import load_runtime
from fdm_nav.carrot import Carrot
from fdm_nav.hazard_guard import HazardGuardCfg
from fdm_nav.history import HistoryBuffer
from fdm_nav.observation import fill_nan_nearest
from fdm_nav.planner import FdmPlanner, PlannerCfg
from sim.platform import load_platform
from sim.route import plan_route
from sim.scenario import load_scenario, make_sim
from sim.terrain import build_terrain

MODEL = Path(__file__).resolve().parents[2] / "models" / "fdm_anymal_d.card.json"

FLAT = """
name: test_flat_short
platform: anymal_d
terrain: {type: flat, size: [12.0, 12.0], resolution: 0.05, seed: 1, params: {}}
start: {x: -3.0, y: 0.0, yaw: 0.0}
goal: {x: 1.0, y: 1.0, tolerance: 0.5}
time_limit: 12.0
"""

WALL = """
name: test_wall_ahead
platform: anymal_d
terrain:
  type: walls
  size: [12.0, 12.0]
  resolution: 0.05
  seed: 0
  params: {layout: barrier, barrier_x: -0.8, thickness: 0.3, height: 1.0, gap_y: 4.5, gap_width: 1.2}
start: {x: -2.0, y: 0.0, yaw: 0.0}
goal: {x: 3.0, y: 0.0, tolerance: 0.5}
time_limit: 20.0
"""


def _write(tmp_path: Path, text: str, name: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return path


def test_benchmark_json_has_the_documented_fields(tmp_path):
    scenario = _write(tmp_path, FLAT, "test_flat_short")
    out = tmp_path / "bench.json"
    assert (
        dynstack(
            [
                "nav",
                "benchmark",
                "--scenarios",
                str(scenario),
                "--planner",
                "heuristic",
                "--json",
                str(out),
                "--no-progress",
            ]
        )
        == 0
    )
    report = json.loads(out.read_text())
    overall = report["overall"]["heuristic"]
    for key in (
        "success_rate",
        "failure_rate",
        "timeout_rate",
        "failure_causes",
        "time_to_goal_s",
        "path_length_m",
        "plan_ms_median",
    ):
        assert key in overall
    assert overall["success_rate"] == 1.0  # 4.1 m on flat ground in 12 s
    entry = report["scenarios"]["test_flat_short"]
    assert Path(entry["plot"]).is_file()
    assert Path(report["overview"]).is_file() and Path(report["overview"]).stat().st_size > 10_000
    episode = entry["planners"]["heuristic"]["episodes_detail"][0]
    assert episode["outcome"] == "success" and episode["path_length_m"] > 4.12 - 0.5  # distance - tolerance


def test_bad_scenario_file_is_named(tmp_path, capsys):
    bad = _write(tmp_path, FLAT.replace("time_limit: 12.0", "time_limit: -1"), "bad")
    assert (
        dynstack(
            ["nav", "benchmark", "--scenarios", str(bad), "--planner", "heuristic", "--json", str(tmp_path / "b.json")]
        )
        == 2
    )
    assert "bad.yaml" in capsys.readouterr().err


def test_global_route_goes_through_the_gap():
    scenario = load_scenario_text(WALL)
    hm = build_terrain(scenario.terrain)
    route = plan_route(hm, load_platform("anymal_d"), (-2.0, 0.0), (3.0, 0.0))
    assert route is not None
    crossing = route[np.argmin(np.abs(route[:, 0] - (-0.8)))]
    assert abs(crossing[1] - 4.5) < 0.6  # the route crosses the wall inside the 1.2 m gap
    carrot = Carrot(route, lookahead=2.0)
    first = carrot.goal(torch.tensor([-2.0, 0.0]))
    assert float(torch.linalg.vector_norm(first - torch.tensor([-2.0, 0.0]))) == pytest.approx(2.0, abs=0.2)


def load_scenario_text(text: str):
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "s.yaml"
        path.write_text(text)
        return load_scenario(path)


def _observe(scenario):
    sim = make_sim(scenario, seed=0)
    history = HistoryBuffer(10, sim.proprio().shape[-1])
    history.push(sim.proprio()[0], sim.poses[0], False, float(sim.energy[0]))
    proprio, state = history.inputs()
    return proprio, state, fill_nan_nearest(sim.height_scan()[0]), sim.poses[0].clone()


def test_fdm_planner_turns_toward_a_goal_on_flat_ground():
    planner = FdmPlanner(load_runtime(MODEL, "onnx"))
    proprio, state, scan, pose = _observe(load_scenario_text(FLAT))
    result = planner.plan(proprio, state, scan, pose, torch.tensor([-3.0, 4.0, float("nan")]))  # 4 m to the left
    assert result.status == "ok" and result.risk < 0.5
    assert result.command[2] > 0.1  # turns left
    assert torch.isfinite(result.command).all()


def test_fdm_planner_refuses_a_plan_through_a_wall():
    # Facing a 1 m wall ~1.2 m ahead, with a sampler that only proposes small variations of
    # "walk straight at 1 m/s" (no stand-still sample): every candidate crosses the wall, the
    # model's risk is high, and the planner must answer zero instead of the best bad plan.
    # The geometric guard is off first, so the refusal is the learned model's alone; then on.
    cfg = PlannerCfg(guard=HazardGuardCfg(enabled=False))
    cfg = replace(cfg, mppi=replace(cfg.mppi, noise_sigma=(0.05, 0.02, 0.05), include_zero=False))
    proprio, state, scan, pose = _observe(load_scenario_text(WALL))
    for guarded in (False, True):
        planner = FdmPlanner(load_runtime(MODEL, "torch"), replace(cfg, guard=HazardGuardCfg(enabled=guarded)))
        planner.mppi.reset(torch.tensor([[1.0, 0.0, 0.0]] * cfg.mppi.horizon))
        result = planner.plan(proprio, state, scan, pose, torch.tensor([3.0, 0.0, float("nan")]))
        assert result.status == "blocked_by_risk"
        assert torch.equal(result.command, torch.zeros(3))
        assert result.risk > cfg.risk.threshold


def test_fdm_planner_is_not_run_on_a_platform_it_was_not_trained_for(tmp_path):
    wheeled = _write(tmp_path, FLAT.replace("platform: anymal_d", "platform: wheeled_small"), "test_wheeled")
    out = tmp_path / "bench.json"
    args = ["nav", "benchmark", "--scenarios", str(wheeled), "--planner", "fdm", "--json", str(out), "--no-progress"]
    assert dynstack([*args, "--model", str(MODEL)]) == 0
    report = json.loads(out.read_text())
    entry = report["scenarios"]["test_flat_short"]["planners"]["fdm"]
    assert entry == {"skipped": "model trained for platform 'anymal_d'; scenario uses 'wheeled_small'"}
    assert report["skipped_scenarios"]["fdm"] == ["test_flat_short"]
    assert report["overall"]["fdm"]["episodes"] == 0


def test_parallel_jobs_give_the_serial_report(tmp_path):
    from fdm_nav.benchmark import run_benchmark

    paths = [
        _write(tmp_path, FLAT, "test_flat_short"),
        _write(tmp_path, FLAT.replace("test_flat_short", "test_flat_other").replace("y: 1.0", "y: -1.0"), "other"),
    ]
    serial = run_benchmark(paths, ["heuristic"], 1, None, progress=False)
    parallel = run_benchmark(paths, ["heuristic"], 1, None, progress=False, jobs=2)
    assert list(parallel["scenarios"]) == ["test_flat_short", "test_flat_other"]  # the order of the files
    for name, entry in serial["scenarios"].items():
        ours, theirs = entry["planners"]["heuristic"], parallel["scenarios"][name]["planners"]["heuristic"]
        assert ours["success_rate"] == theirs["success_rate"] == 1.0
        assert ours["path_length_m"] == pytest.approx(theirs["path_length_m"], abs=0.05)
    assert parallel["overall"]["heuristic"]["episodes"] == 2


def test_closed_loop_gives_a_blocked_goal_up_through_the_nodes_recovery_code():
    # A wall with no opening between start and goal: no route, the FDM planner stops at the wall. The closed
    # loop runs fdm_nav.recovery (the ROS node's code): each behaviour in turn, then the goal is aborted.
    from fdm_nav.closed_loop import run_episode
    from fdm_nav.recovery import RecoveryCfg

    closed = load_scenario_text(WALL.replace("gap_width: 1.2", "gap_width: 0.0").replace("20.0\n", "40.0\n"))
    cfg = RecoveryCfg(window=3.0, wait_time=0.5, backup_distance=0.15, rotate_angle=0.5)
    result = run_episode(closed, FdmPlanner(load_runtime(MODEL, "onnx")), "fdm", recovery=cfg)
    summary = {k: v for k, v in result.summary().items() if k != "trajectory"}
    assert result.outcome == "aborted" and result.recoveries >= 3, summary  # 3 in a row without progress
    assert result.abort_reason.endswith("after 3 recoveries (wait, backup, rotate): goal given up")
    assert result.time_s < closed.time_limit
    end = result.trajectory[-1]
    assert end[0] < -0.8 - 0.3  # still on the start's side of the wall, and it never touched it
    summary = result.summary()
    assert summary["recovery_ticks"] > 0
