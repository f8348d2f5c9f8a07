"""Command generator: ranges, time correlation, goal-directed mode."""

from __future__ import annotations

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
