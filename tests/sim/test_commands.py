"""Command generator: ranges, time correlation, goal-directed mode."""

from __future__ import annotations

import math

import pytest
import torch

from sim.commands import CommandCfg, CommandGenerator


def test_random_commands_stay_in_range_and_are_time_correlated():
    cfg = CommandCfg(goal_fraction=0.0, p_stand=0.0)
    gen = CommandGenerator(cfg, 512, (-5, 5, -5, 5), seed=0)
    poses = torch.zeros(512, 3)
    cmds = torch.stack([gen.next(poses) for _ in range(20)])  # [20, 512, 3]
    lo = torch.tensor([cfg.vx_range[0], cfg.vy_range[0], cfg.wz_range[0]])
    hi = torch.tensor([cfg.vx_range[1], cfg.vy_range[1], cfg.wz_range[1]])
    assert (cmds >= lo).all() and (cmds <= hi).all()
    x = cmds[:, :, 0]
    step = (x[1:] - x[:-1]).abs().mean()
    shuffled = (x[1:] - x[:-1][:, torch.randperm(512)]).abs().mean()
    assert step < 0.7 * shuffled  # consecutive commands are closer than independent ones


def test_commands_are_deterministic_in_the_seed():
    a = CommandGenerator(CommandCfg(), 16, (-5, 5, -5, 5), seed=3)
    b = CommandGenerator(CommandCfg(), 16, (-5, 5, -5, 5), seed=3)
    poses = torch.zeros(16, 3)
    assert torch.equal(a.next(poses), b.next(poses))


def test_goal_mode_steers_towards_the_goal():
    gen = CommandGenerator(CommandCfg(goal_fraction=1.0, goal_noise=0.0), 2, (-5, 5, -5, 5), seed=0)
    gen.goals = torch.tensor([[4.0, 0.0], [0.0, 4.0]])
    cmd = gen.next(torch.zeros(2, 3))
    assert float(cmd[0, 0]) > 0.5 and abs(float(cmd[0, 2])) < 1e-6  # straight ahead
    assert float(cmd[1, 2]) > 0.5  # turn left towards +y


def test_passage_mode_sends_robots_through_an_opening_and_back_along_its_line():
    # Two openings: approach (-2, 0) -> exit (2, 0), and approach (0, 3) -> exit (0, 6).
    openings = torch.tensor([[-2.0, 0.0, 2.0, 0.0], [0.0, 3.0, 0.0, 6.0]])
    cfg = CommandCfg(passage_fraction=1.0, goal_noise=0.0, passage_switch=0.0)
    gen = CommandGenerator(cfg, 64, (-8, 8, -8, 8), seed=1, openings=openings)
    assert gen.goal_mode.all()
    starts = gen.spawn_at_openings(torch.zeros(64, 3), torch.arange(64))
    pair = openings[gen.pair]
    assert ((starts[:, :2] - pair[:, :2]).abs() <= 0.3 + 1e-6).all()  # near the approach point
    assert torch.equal(gen.goals, pair[:, 2:]) and torch.equal(gen.leg_start, pair[:, :2])  # through, to the exit
    facing = torch.atan2(pair[:, 3] - starts[:, 1], pair[:, 2] - starts[:, 0])
    assert (torch.remainder(starts[:, 2] - facing + torch.pi, 2 * torch.pi) - torch.pi).abs().max() <= 0.4 + 1e-6
    speed_lo, speed_hi = cfg.passage_speed
    assert ((gen.speed >= speed_lo) & (gen.speed <= speed_hi)).all()
    cmd = gen.next(torch.cat([pair[:, :2], facing[:, None]], dim=1))  # at the approach point, facing the exit
    assert (cmd[:, 0] > 0).all() and (cmd[:, 0] <= speed_hi).all()
    gen.next(torch.cat([pair[:, 2:], facing[:, None]], dim=1))  # exit reached: back through the same opening
    assert torch.equal(gen.goals, pair[:, :2]) and torch.equal(gen.leg_start, pair[:, 2:])
    # Off the line, it steers back onto it (pure pursuit 1 m ahead), not straight at the far end.
    one = CommandGenerator(cfg, 1, (-8, 8, -8, 8), seed=1, openings=openings[:1])
    one.spawn_at_openings(torch.zeros(1, 3), torch.arange(1))
    cmd = one.next(torch.tensor([[-1.0, 0.5, 0.0]]))  # 0.5 m left of the line, heading along it
    assert cmd[0, 2] == pytest.approx(cfg.goal_gain * math.atan2(-0.5, 1.0), abs=1e-5)


def test_without_openings_the_commands_are_those_of_before():
    a = CommandGenerator(CommandCfg(), 16, (-5, 5, -5, 5), seed=3)
    b = CommandGenerator(CommandCfg(), 16, (-5, 5, -5, 5), seed=3, openings=torch.zeros(0, 4))
    poses = torch.zeros(16, 3)
    for _ in range(10):
        assert torch.equal(a.next(poses), b.next(poses))
    assert b.spawn_at_openings(poses, torch.arange(16)) is poses
