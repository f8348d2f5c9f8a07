"""Manipulation planning: critics by hand, MPPI improving a toy task, limits applied last, a closed loop in MuJoCo."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from dynamics_stack.pointsets import chamfer
from pgnd.critics import (
    EffortCfg,
    EffortCritic,
    ManipRolloutBatch,
    ShapeCfg,
    ShapeCritic,
    TableCfg,
    TableCritic,
    WorkspaceCfg,
    WorkspaceCritic,
)
from pgnd.manip_safety import GripperLimitsCfg, UnsafeTarget, clamp_action
from pgnd.model import Pgnd, PgndCfg
from pgnd.planner import HeuristicPlanner, ManipPlanner, ManipPlannerCfg, heuristic_action, match_targets


def batch(particles, gripper, target) -> ManipRolloutBatch:
    p = torch.tensor(particles, dtype=torch.float64)
    g = torch.tensor(gripper, dtype=torch.float64)
    return ManipRolloutBatch(
        actions=torch.zeros(p.shape[0], 1, 5), states=p.flatten(2), particles=p, gripper=g,
        target=torch.tensor(target, dtype=torch.float64),
    )  # fmt: skip


def test_chamfer_by_hand():
    a = torch.tensor([[[0.0, 0, 0], [1.0, 0, 0]]])
    t = torch.tensor([[0.0, 0, 0]])
    # a -> t: (0 + 1) / 2; t -> a: 0
    assert float(chamfer(a, t)[0]) == pytest.approx(0.5)


def test_critics_by_hand_on_tiny_clouds():
    target = [[0.0, 0.0, 0.0], [0.02, 0.0, 0.0]]
    # sample 0 ends on the target, sample 1 ends 1 cm off along y; one drag step each
    parts = [[[[0.0, 0.01, 0.0], [0.02, 0.01, 0.0]], [[0.0, 0.0, 0.0], [0.02, 0.0, 0.0]]],
             [[[0.0, 0.01, 0.0], [0.02, 0.01, 0.0]], [[0.0, 0.01, 0.0], [0.02, 0.01, 0.0]]]]  # fmt: skip
    grip = [[[0.0, 0.0, 0.01], [0.0, 0.03, 0.01]], [[0.0, 0.0, 0.001], [0.5, 0.0, 0.3]]]
    b = batch(parts, grip, target)
    shape = ShapeCritic(ShapeCfg(path=0.5, path_stride=1)).score(b)
    # final: 0 and 0.02 (1 cm both ways); path mean over the 2 steps: (0.02 + 0) / 2 and 0.02
    assert shape.tolist() == pytest.approx([0.0 + 0.5 * 0.01, 0.02 + 0.5 * 0.02])
    ws = WorkspaceCritic(WorkspaceCfg(box=(-0.3, 0.3, -0.3, 0.3, 0.0, 0.25))).score(b)
    assert ws.tolist() == pytest.approx([0.0, 0.2 + 0.05])  # x 0.5 > 0.3 and z 0.3 > 0.25
    table = TableCritic(TableCfg(min_gripper_height=0.005)).score(b)
    assert table.tolist() == pytest.approx([0.0, 0.004])
    effort = EffortCritic(EffortCfg()).score(b)
    assert effort.tolist() == pytest.approx([0.03, float(np.linalg.norm([0.5, 0.0, 0.299]))])  # m of path


def test_heuristic_grasps_the_farthest_particle_and_drags_it_to_its_match():
    particles = np.array([[0.0, 0.0, 0.005], [0.01, 0.0, 0.005], [0.02, 0.0, 0.005]])
    target = particles + np.array([[0, 0, 0], [0, 0, 0], [0.0, 0.05, 0.0]])
    assert np.allclose(match_targets(particles, target), target)
    cfg = ManipPlannerCfg(horizon=5)
    i, steps = heuristic_action(particles, target, cfg)
    assert i == 2 and steps.shape == (5, 3) and np.allclose(steps.sum(axis=0), [0.0, 0.05, 0.0])
    far = particles + np.array([[0, 0, 0], [0, 0, 0], [0.0, 0.5, 0.0]])  # too far for one action: clipped per step
    _, steps = heuristic_action(particles, far, cfg)
    assert np.allclose(steps[:, 1], cfg.max_step)


def untrained_model(n: int) -> Pgnd:
    """An untrained PGND moves nothing but what a closed gripper holds (rigidly): a known toy world."""
    torch.manual_seed(0)
    return Pgnd(PgndCfg(num_particles=n, grid_size=20, encoder=(16,), global_dim=8, grid_channels=4, velocity_mlp=(8,)))


def test_the_model_picks_the_grasp_the_heuristic_misses():
    # three particles 1 cm apart; the gripper holds those closer than 2 cm to its centre, so only a
    # grasp on the middle one carries all three; the target is the rod moved 6 cm sideways
    particles = np.array([[0.0, 0.0, 0.006], [0.01, 0.0, 0.006], [0.02, 0.0, 0.006]])
    target = particles + np.array([0.0, 0.06, 0.0])
    hist = np.repeat(particles[None], 3, axis=0)
    cfg = ManipPlannerCfg(samples=8, iterations=2, seed=1, release_steps=1)
    i, _ = heuristic_action(particles, target, cfg)
    assert i == 0  # every particle is equally far from its match: the heuristic takes the first, an end
    plan = ManipPlanner(untrained_model(3), cfg).plan(hist, target)
    assert plan.grasp_index == 1 and plan.predicted_chamfer < 0.003
    assert np.isfinite(plan.predicted).all() and plan.predicted.shape == (cfg.horizon + 1, 3, 3)


def test_more_mppi_iterations_never_give_a_worse_plan():
    # a bent 12-particle chain to be straightened: the straight drags of the candidates are not optimal
    s = np.linspace(-0.06, 0.06, 12)
    particles = np.stack((s, 0.03 * np.cos(s / 0.06 * np.pi / 2), np.full(12, 0.006)), axis=-1)
    target = np.stack((s, np.zeros(12), np.full(12, 0.006)), axis=-1)
    hist = np.repeat(particles[None], 3, axis=0)
    costs = []
    for iterations in (0, 1, 4):
        cfg = ManipPlannerCfg(samples=16, iterations=iterations, seed=3, release_steps=1)
        costs.append(ManipPlanner(untrained_model(12), cfg).plan(hist, target).cost)
    assert costs[2] <= costs[1] <= costs[0]
    assert costs[2] < costs[0]  # and here they help


def test_planner_refuses_bad_inputs():
    planner = ManipPlanner(untrained_model(3), ManipPlannerCfg(samples=4, iterations=1))
    good = np.zeros((3, 3, 3))
    with pytest.raises(ValueError, match="history"):
        planner.plan(np.zeros((1, 3, 3)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="finite"):
        bad = good.copy()
        bad[0, 0, 0] = np.nan
        planner.plan(bad, np.zeros((3, 3)))
    with pytest.raises(ValueError, match="target"):
        planner.plan(good, np.zeros((0, 3)))
    with pytest.raises(ValueError, match="unknown critic"):
        ManipPlannerCfg(critics=("shape", "vibes"))


def test_limits_are_applied_last_and_non_finite_targets_refused():
    limits = GripperLimitsCfg()
    grasp, path, moved = clamp_action(
        np.array([0.0, 0.0, -0.01]), np.array([[0.5, 0.0, 0.05], [0.1, 0.1, 0.1]]), limits
    )
    assert moved == 2 and grasp[2] == pytest.approx(limits.min_height) and path[0, 0] == pytest.approx(0.3)
    assert np.allclose(path[1], [0.1, 0.1, 0.1])
    with pytest.raises(UnsafeTarget):
        clamp_action(np.array([0.0, np.nan, 0.0]), np.zeros((2, 3)), limits)
    with pytest.raises(UnsafeTarget):
        clamp_action(np.zeros(3), np.array([[0.0, 0.0, np.inf]]), limits)
    with pytest.raises(ValueError, match="min_height"):
        dataclasses.replace(limits, min_height=0.3)


def test_a_closed_loop_rope_task_succeeds_in_mujoco():
    from dynamics_stack.runtime import TorchRuntime, load_card
    from pgnd.manip_benchmark import run_task
    from sim.manip_scenario import load_manip_scenario, shipped_manip_scenarios

    path = next(p for p in shipped_manip_scenarios() if p.stem == "rope_straighten_01")
    scenario = load_manip_scenario(path)
    model = TorchRuntime(load_card("models/pgnd_rope.card.json")).model
    result = run_task(scenario, ManipPlanner(model, ManipPlannerCfg(iterations=2)))
    assert result["success"], result["chamfer_per_action"]
    assert result["final_chamfer"] < result["start_chamfer"] and result["clamped_points"] == 0
    heuristic = run_task(scenario, HeuristicPlanner())
    assert heuristic["actions"] >= 1 and np.isfinite(heuristic["final_chamfer"])
