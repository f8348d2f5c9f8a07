"""Navigation critics against hand-computed costs; the heuristic planner's traversability and behaviour."""

from __future__ import annotations

import math

import pytest
import torch

from dynamics_stack.config import ConfigError
from fdm_nav.critics import (
    GoalCfg,
    GoalCritic,
    LimitsCfg,
    LimitsCritic,
    NavRolloutBatch,
    RiskCfg,
    RiskCritic,
    RouteCfg,
    RouteCritic,
    SmoothnessCfg,
    SmoothnessCritic,
)
from fdm_nav.history import HistoryBuffer, to_base_frame
from fdm_nav.planner import HeuristicPlanner, PlannerCfg, TraversabilityCfg, lookup_scan, traversability

FLAT = 0.1  # scan reading of flat ground for a 0.6 m base (0.6 - 0.5)


def batch(actions, poses, prob=None, goal=(3.0, 4.0, float("nan")), current=(0.0, 0.0, 0.0)) -> NavRolloutBatch:
    actions = torch.tensor(actions, dtype=torch.float32)
    poses = torch.tensor(poses, dtype=torch.float32)
    prob = torch.zeros(poses.shape[:2]) if prob is None else torch.tensor(prob, dtype=torch.float32)
    return NavRolloutBatch(actions, poses, prob, torch.tensor(goal), torch.tensor(current))


def test_goal_critic_by_hand():
    # Two steps ending at the origin then at (0, 4): distances to (3, 4) are 5 and 3.
    b = batch([[[0, 0, 0], [0, 0, 0]]], [[[0.0, 0.0, 0.0], [0.0, 4.0, 0.0]]])
    cost = GoalCritic(GoalCfg(terminal=10.0, path=1.0)).score(b)
    assert cost.item() == pytest.approx(10 * 3 + (5 + 3) / 2)
    # Within heading_radius of a goal with a heading, the yaw error (rad) is added.
    near = batch([[[0, 0, 0]]], [[[3.0, 4.5, 0.5]]], goal=(3.0, 4.0, 0.0))
    assert GoalCritic(GoalCfg(terminal=1.0, path=0.0, heading=2.0)).score(near).item() == pytest.approx(0.5 + 2 * 0.5)


def test_risk_critic_by_hand():
    b = batch([[[0, 0, 0]] * 2] * 2, [[[0, 0, 0]] * 2] * 2, prob=[[0.1, 0.3], [0.2, 0.6]])
    cost = RiskCritic(RiskCfg(threshold=0.5, hard_penalty=1000.0, expected=10.0)).score(b)
    assert cost.tolist() == pytest.approx([3.0, 1000.0 + 6.0])


def test_smoothness_critic_by_hand():
    b = batch([[[1.0, 0.0, 0.5], [1.0, 0.2, 0.0]]], [[[0, 0, 0]] * 2], current=(0.5, 0.0, 0.5))
    # changes: (0.5, 0, 0) then (0, 0.2, -0.5); scale (1, 2, 0.5): 0.25 + 2 * 0.04 + 0.5 * 0.25 = 0.455
    assert SmoothnessCritic(SmoothnessCfg()).score(b).item() == pytest.approx(0.455)


def test_limits_critic_by_hand():
    b = batch([[[1.2, 0.5, -1.5], [-0.5, 0.0, 0.0]]], [[[0, 0, 0]] * 2])
    # (1.2 - 1.0)^2 + (0.5 - 0.3)^2 + (1.5 - 1.0)^2 + (-0.3 - -0.5)^2 = 0.04 + 0.04 + 0.25 + 0.04
    assert LimitsCritic(LimitsCfg()).score(b).item() == pytest.approx(0.37)


def test_route_critic_by_hand():
    # Route along y = 0; a rollout at (1, 0.5) then (2, 1.0): distances 0.5 and 1.0, less the 0.2 m deadband.
    b = batch([[[0, 0, 0]] * 2], [[[1.0, 0.5, 0.0], [2.0, 1.0, 0.0]]])
    b = NavRolloutBatch(
        b.actions,
        b.states,
        b.failure_prob,
        b.goal,
        b.current_command,
        torch.tensor([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]]),
    )
    assert RouteCritic(RouteCfg(deadband=0.2)).score(b).item() == pytest.approx((0.3 + 0.8) / 2)
    no_route = batch([[[0, 0, 0]]], [[[5.0, 5.0, 0.0]]])
    assert RouteCritic(RouteCfg()).score(no_route).tolist() == [0.0]


def test_unknown_critic_name_is_refused():
    from dataclasses import replace

    cfg = PlannerCfg()
    with pytest.raises(ConfigError, match=r"unknown critic\(s\) \['gaol'\]"):
        HeuristicPlanner(replace(cfg, mppi=replace(cfg.mppi, critics=("gaol",))))


def test_traversability_marks_steps_and_pits_and_inflates():
    scan = torch.full((60, 46), FLAT)
    scan[:, 30:] = FLAT - 0.4  # a 40 cm step up from x = 2.5 m on (above the 25 cm limit)
    trav = traversability(scan, TraversabilityCfg(max_step=0.25, inflation=0.2))
    assert trav[30, 29] == 1.0 and trav[30, 27] == 1.0  # the step edge, grown by 2 cells
    assert trav[30, 10] == 0.0
    low = torch.full((60, 46), FLAT)
    low[:, 30:] = FLAT - 0.1  # a 10 cm step is fine
    assert traversability(low, TraversabilityCfg()).sum() == 0.0
    pit = torch.full((60, 46), FLAT)
    pit[20:25, 20:25] = FLAT + 1.0  # 1 m below the ground
    assert traversability(pit, TraversabilityCfg(inflation=0.1))[22, 22] == 1.0


def test_lookup_scan_cells_and_outside():
    grid = torch.zeros(60, 46)
    grid[30, 15] = 1.0  # row 30 -> y = 2.95 - 3.0 = -0.05; col 15 -> x = -0.5 + 1.5 = 1.0
    xy = torch.tensor([[1.0, -0.05], [1.0, 0.5], [9.0, 0.0]])
    assert lookup_scan(grid, xy).tolist() == [1.0, 0.0, 0.0]


def test_history_buffer_matches_the_dataset_frame():
    h = HistoryBuffer(3, 2)
    h.push(torch.zeros(2), torch.tensor([1.0, 1.0, 0.0]), False, 0.0)
    h.push(torch.ones(2), torch.tensor([1.0, 2.0, math.pi / 2]), True, 5.0)
    proprio, state = h.inputs()
    assert proprio.tolist() == [[0, 0], [0, 0], [1, 1]]
    # Newest pose (1, 2, 90 deg) is the origin; (1, 1) lies 1 m behind it: x = -1, y = 0.
    assert state[0, :2].tolist() == pytest.approx([-1.0, 0.0], abs=1e-6)
    assert state[-1].tolist() == pytest.approx([0.0, 0.0, 0.0, 1.0, 1.0, 5.0], abs=1e-6)
    with pytest.raises(ValueError, match="non-finite"):
        h.push(torch.tensor([float("nan"), 0.0]), torch.zeros(3), False, 0.0)
    goal = to_base_frame(torch.tensor([3.0, 2.0, float("nan")]), torch.tensor([1.0, 2.0, math.pi / 2]))
    assert goal[:2].tolist() == pytest.approx([0.0, -2.0], abs=1e-6) and math.isnan(goal[2])


def _plan_once(planner, scan, goal):
    h = HistoryBuffer(10, 16)
    h.push(torch.zeros(16), torch.zeros(3), False, 0.0)
    proprio, state = h.inputs()
    return planner.plan(proprio, state, scan, torch.zeros(3), torch.tensor(goal))


def test_heuristic_planner_turns_toward_a_goal_on_flat_ground():
    planner = HeuristicPlanner()
    result = _plan_once(planner, torch.full((60, 46), FLAT), (0.0, 5.0, float("nan")))  # goal to the left
    assert result.status == "ok"
    assert result.command[2] > 0.2  # turns left (positive yaw rate)
    assert torch.isfinite(result.command).all()


def test_heuristic_planner_stops_at_the_goal_and_before_a_wall():
    planner = HeuristicPlanner()
    assert _plan_once(planner, torch.full((60, 46), FLAT), (0.2, 0.1, float("nan"))).status == "goal_reached"
    boxed = torch.full((60, 46), FLAT - 1.0)  # walls 1 m high everywhere around the robot...
    boxed[25:35, 3:8] = FLAT  # ...except the 1 m x 0.5 m patch it stands on
    result = _plan_once(HeuristicPlanner(), boxed, (8.0, 0.0, float("nan")))
    assert result.status == "blocked_by_risk" and torch.equal(result.command, torch.zeros(3))
