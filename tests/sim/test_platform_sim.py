"""The platform surrogate: climbing, blocking, collisions, falls, tipping, stuck, freezing, batching."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dynamics_stack.config import ConfigError
from sim.height_map import height_map_from_array
from sim.platform import available_platforms, load_platform
from sim.terrain import TerrainCfg, build_terrain
from sim.terrain_sim import CAUSE_COLLISION, CAUSE_FALL, CAUSE_NONE, CAUSE_STUCK, CAUSE_TIPPING, TerrainSim

ANYMAL = load_platform("anymal_d")
WHEELED = load_platform("wheeled_small")


def step_map(height: float) -> torch.Tensor:
    """10 m x 5 m map, ground 0 for x < 0 and ``height`` for x >= 0."""
    a = np.zeros((200, 100), np.float32)
    a[100:, :] = height
    return height_map_from_array(a, 0.05, (-5.0 + 0.025, -2.5 + 0.025))


def drive(platform, hm, pose, cmd, seconds: float, n: int = 1, seed: int = 0) -> TerrainSim:
    sim = TerrainSim(platform, hm, n, seed=seed)
    sim.reset(torch.tensor([pose] * n))
    command = torch.tensor([cmd] * n)
    for _ in range(round(seconds / sim.dt)):
        sim.step(command)
    return sim


def test_shipped_platforms_load_and_differ():
    assert {"anymal_d", "wheeled_small"} <= set(available_platforms())
    assert WHEELED.max_step_up < 0.05 < ANYMAL.max_step_up
    assert WHEELED.vy_max == 0.0 and ANYMAL.vy_max > 0.0


def test_unknown_platform_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown platform"):
        load_platform("hovercraft")


@pytest.mark.parametrize("height", [0.05, 0.15, 0.2])
def test_legged_climbs_a_step_below_its_limit(height):
    sim = drive(ANYMAL, step_map(height), [-2.0, 0.0, 0.0], [0.8, 0.0, 0.0], seconds=8.0)
    assert not bool(sim.failed[0])
    assert float(sim.poses[0, 0]) > 2.0  # well past the edge
    assert float(sim.support[0]) == pytest.approx(height)


@pytest.mark.parametrize("height", [0.3, 0.6])
def test_legged_fails_or_is_blocked_above_its_limit(height):
    sim = drive(ANYMAL, step_map(height), [-2.0, 0.0, 0.0], [0.8, 0.0, 0.0], seconds=8.0)
    assert float(sim.poses[0, 0]) < 0.0  # never got onto the step
    assert bool(sim.failed[0])
    assert int(sim.failure_cause[0]) in (CAUSE_COLLISION, CAUSE_STUCK)


def test_step_between_limit_and_body_clearance_blocks_then_counts_as_stuck():
    hm = step_map(0.3)  # above max_step_up 0.25, below body_clearance 0.35
    sim = TerrainSim(ANYMAL, hm, 1)
    sim.reset(torch.tensor([[-2.0, 0.0, 0.0]]))
    blocked = False
    for _ in range(400):
        info = sim.step(torch.tensor([[0.8, 0.0, 0.0]]))
        blocked |= bool(info.blocked[0])
    assert blocked
    assert int(sim.failure_cause[0]) == CAUSE_STUCK


def test_driving_into_a_wall_labels_a_collision():
    walls = build_terrain(
        TerrainCfg(
            type="walls",
            size=(10.0, 10.0),
            params={"layout": "barrier", "barrier_x": 0.0, "gap_y": 4.0, "gap_width": 1.0},
        )
    )
    sim = TerrainSim(ANYMAL, walls, 1)
    sim.reset(torch.tensor([[-2.0, 0.0, 0.0]]))
    causes = []
    for _ in range(300):
        info = sim.step(torch.tensor([[1.0, 0.0, 0.0]]))
        causes.append(int(info.failure_cause[0]))
    assert int(sim.failure_cause[0]) == CAUSE_COLLISION
    front = float(sim.poses[0, 0]) + ANYMAL.length / 2
    assert -0.2 < front < 0.0  # stopped with the nose at the wall (thickness 0.2 m centred on 0)


def test_wheeled_cannot_climb_what_the_legged_robot_climbs():
    hm = step_map(0.12)
    legged = drive(ANYMAL, hm, [-2.0, 0.0, 0.0], [0.8, 0.0, 0.0], seconds=8.0)
    wheeled = drive(WHEELED, hm, [-2.0, 0.0, 0.0], [0.8, 0.0, 0.0], seconds=8.0)
    assert not bool(legged.failed[0]) and float(legged.poses[0, 0]) > 2.0
    assert float(wheeled.poses[0, 0]) < 0.0 and bool(wheeled.failed[0])


def test_walking_into_a_pit_is_a_fall_and_the_robot_stays_frozen():
    hm = step_map(-1.0)
    sim = drive(ANYMAL, hm, [-2.0, 0.0, 0.0], [0.8, 0.0, 0.0], seconds=6.0)
    assert int(sim.failure_cause[0]) == CAUSE_FALL
    frozen = sim.poses.clone()
    for _ in range(100):
        sim.step(torch.tensor([[1.0, 0.3, 0.5]]))
    assert torch.equal(sim.poses, frozen)
    assert float(sim.vel.abs().max()) == 0.0


def test_a_slope_beyond_the_tilt_limit_tips_the_robot_and_a_gentle_one_does_not():
    steep = build_terrain(
        TerrainCfg(type="slope", size=(16.0, 6.0), params={"angle_deg": 50.0, "x_start": 0.0, "x_end": 6.0})
    )
    gentle = build_terrain(
        TerrainCfg(type="slope", size=(16.0, 6.0), params={"angle_deg": 20.0, "x_start": 0.0, "x_end": 6.0})
    )
    a = drive(ANYMAL, steep, [-3.0, 0.0, 0.0], [0.8, 0.0, 0.0], seconds=8.0)
    b = drive(ANYMAL, gentle, [-3.0, 0.0, 0.0], [0.8, 0.0, 0.0], seconds=8.0)
    assert int(a.failure_cause[0]) == CAUSE_TIPPING
    assert int(b.failure_cause[0]) == CAUSE_NONE


def test_slopes_and_rough_ground_slow_the_robot_down():
    flat = build_terrain(TerrainCfg(type="flat", size=(16.0, 6.0)))
    rough = build_terrain(TerrainCfg(type="rough", size=(16.0, 6.0), seed=1, params={"max_height": 0.15, "block": 0.3}))
    a = drive(ANYMAL, flat, [-6.0, 0.0, 0.0], [0.8, 0.0, 0.0], seconds=5.0)
    b = drive(ANYMAL, rough, [-6.0, 0.0, 0.0], [0.8, 0.0, 0.0], seconds=5.0)
    assert float(b.poses[0, 0]) < float(a.poses[0, 0]) - 0.3


def test_command_tracking_has_lag_and_limits():
    flat = build_terrain(TerrainCfg(type="flat", size=(30.0, 10.0)))
    sim = TerrainSim(ANYMAL, flat, 1)
    sim.reset(torch.tensor([[-10.0, 0.0, 0.0]]))
    sim.step(torch.tensor([[3.0, 0.0, 0.0]]))  # above vx_max
    assert 0.0 < float(sim.vel[0, 0]) < 0.2  # lag: far from the command after one step
    for _ in range(200):
        sim.step(torch.tensor([[3.0, 0.0, 0.0]]))
    assert float(sim.cmd[0, 0]) == ANYMAL.vx_max
    assert abs(float(sim.vel[0, 0]) - ANYMAL.vx_max) < 0.25


def test_batch_rows_are_independent_of_each_other():
    hm = step_map(0.6)
    sim = TerrainSim(ANYMAL, hm, 3)
    sim.reset(torch.tensor([[-2.0, 0.0, 0.0], [-2.0, 1.0, math.pi], [-4.0, -1.0, 0.0]]))
    for _ in range(300):
        sim.step(torch.tensor([[0.8, 0.0, 0.0], [0.8, 0.0, 0.0], [0.0, 0.0, 0.5]]))
    assert sim.failure_cause.tolist() == [CAUSE_COLLISION, CAUSE_NONE, CAUSE_NONE]
    assert float(sim.poses[1, 0]) < -4.0  # drove away from the step


def test_nan_commands_do_not_move_the_robot_or_poison_state():
    flat = build_terrain(TerrainCfg(type="flat", size=(10.0, 10.0)))
    sim = TerrainSim(ANYMAL, flat, 2)
    sim.reset(torch.zeros(2, 3))
    for _ in range(20):
        sim.step(torch.tensor([[float("nan"), float("inf"), 0.0], [0.5, 0.0, 0.0]]))
    assert torch.isfinite(sim.poses).all() and torch.isfinite(sim.proprio()).all()
    assert float(sim.poses[0, :2].abs().max()) == 0.0


def test_advance_tick_runs_five_physics_steps():
    flat = build_terrain(TerrainCfg(type="flat", size=(10.0, 10.0)))
    sim = TerrainSim(ANYMAL, flat, 1)
    sim.reset(torch.zeros(1, 3))
    sim.advance_tick(torch.tensor([[0.5, 0.0, 0.0]]))
    assert sim.time == pytest.approx(0.1)


def test_sample_free_poses_are_safe():
    hm = build_terrain(TerrainCfg(type="pillars", size=(12.0, 12.0), seed=2, params={"num_pillars": 40}))
    sim = TerrainSim(ANYMAL, hm, 64)
    poses = sim.sample_free_poses(64)
    assert sim.pose_is_safe(poses).all()


def test_a_blocked_robot_can_still_turn_away():
    sim = TerrainSim(ANYMAL, step_map(0.3), 1)
    sim.reset(torch.tensor([[-0.5, 0.0, 0.0]]))  # front feet 0.14 m before a 0.3 m step
    blocked_once = False
    for _ in range(40):  # drive into the step until it blocks
        info = sim.step(torch.tensor([[0.8, 0.0, 0.0]]))
        blocked_once |= bool(info.blocked[0])
    for _ in range(25):
        info = sim.step(torch.tensor([[0.8, 0.0, 1.0]]))
        blocked_once |= bool(info.blocked[0])
    assert blocked_once and not bool(sim.failed[0])
    assert abs(float(sim.poses[0, 2])) > 0.1


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_runs_the_same_model_as_the_cpu():
    import dataclasses

    from fdm_nav.observation import height_scan

    quiet = dataclasses.replace(ANYMAL, vel_noise_std=0.0)  # the two devices draw different noise
    hm = step_map(0.6)
    poses = torch.tensor([[-2.0, 0.0, 0.0], [-2.0, 1.0, math.pi], [-4.0, -1.0, 0.0]])
    cmds = torch.tensor([[0.8, 0.0, 0.0], [0.8, 0.0, 0.0], [0.0, 0.0, 0.5]])
    sims = []
    for device in ("cpu", "cuda"):
        sim = TerrainSim(quiet, hm, 3, device)
        sim.reset(poses)
        for _ in range(300):
            sim.step(cmds)
        sims.append(sim)
    cpu, gpu = sims
    torch.testing.assert_close(gpu.poses.cpu(), cpu.poses, atol=1e-3, rtol=0)
    assert gpu.failure_cause.cpu().tolist() == cpu.failure_cause.tolist()
    torch.testing.assert_close(
        height_scan(gpu.height_map, gpu.poses, gpu.z_base).cpu(),
        height_scan(cpu.height_map, cpu.poses, cpu.z_base),
        atol=1e-3,
        rtol=0,
        equal_nan=True,
    )
