"""The FDM planner's geometric guard (faces in the scan, body outline along rollouts) and the oracle planner."""

from __future__ import annotations

import math

import pytest
import torch

from fdm_nav.closed_loop import run_episode
from fdm_nav.hazard_guard import (
    HazardGuard,
    HazardGuardCfg,
    LocalMap,
    face_map,
    footprint_counts,
    footprint_kernels,
    interpolate_poses,
)
from fdm_nav.oracle import OraclePlanner, oracle_cfg
from sim.scenario import load_scenario

FLAT = 0.1  # scan reading of flat ground for a 0.6 m base


def straight(vx: float, T: int = 10, dt: float = 0.5, y: float = 0.0) -> torch.Tensor:
    """Poses [1, T, 3] of driving straight along x at ``vx`` from (0, y)."""
    x = vx * dt * torch.arange(1, T + 1, dtype=torch.float32)
    return torch.stack([x, torch.full_like(x, y), torch.zeros_like(x)], -1)[None]


def test_faces_mark_wall_edges_and_pit_rims_but_not_stair_risers():
    scan = torch.full((60, 46), FLAT)  # scan readings: higher terrain reads less, holes read more
    scan[:, 20:23] = FLAT - 1.0  # a 1 m wall, x = 1.5..1.7 m
    scan[:, 35:] = FLAT + 1.0  # a pit from x = 3.0 m on
    cfg = HazardGuardCfg(inflation=0.0)
    faces = face_map(scan, cfg, ground=FLAT)
    assert faces[30, 19:24].tolist() == [0.0, 1.0, 0.0, 1.0, 0.0]  # the wall's two edges, not the ground beside
    assert faces[30, 34:36].tolist() == [0.0, 1.0] and faces[30, 40] == 0.0  # the pit's rim cell, not its floor
    stairs = FLAT - 0.2 * torch.div(torch.arange(46), 4, rounding_mode="floor").float().expand(60, 46)
    assert face_map(stairs, cfg, ground=FLAT).sum() == 0.0  # 20 cm risers are the model's call, not the guard's
    assert face_map(scan, HazardGuardCfg(inflation=0.2), ground=FLAT)[30, 18] == 1.0  # inflation grows faces


def test_footprint_kernels_are_the_rotated_body_and_interpolation_goes_the_short_way():
    cfg = HazardGuardCfg(body_length=0.9, body_width=0.5, heading_bins=4)
    k = footprint_kernels(cfg, 0.1)
    assert k.shape == (4, 15, 15)  # radius ceil(0.51 m / 0.1 m) + 1 = 7 cells
    rows, cols = torch.nonzero(k[0], as_tuple=True)
    # Cell centres within half a cell of the body: |x| <= 0.5 (11 columns), |y| <= 0.3 (7 rows).
    assert (cols.min(), cols.max(), rows.min(), rows.max()) == (2, 12, 4, 10) and len(rows) == 77
    assert k[0, 7, 7] == pytest.approx(4.0, abs=1e-4) and k[0, 4, 7] == pytest.approx(
        1.0, abs=1e-4
    )  # 1 + depth in cells
    assert torch.allclose(k[1], k[0].T, atol=1e-4)  # heading 90 degrees: the body lies along y
    faces = torch.zeros(21, 21)
    faces[10, 14] = 1.0  # one face cell 0.4 m ahead of the centre cell
    counts = footprint_counts(faces, k)
    assert counts[0, 10, 10] > 0 and counts[1, 10, 10] == 0.0  # under the body when facing it, not across
    poses = torch.tensor([[[1.0, 0.0, 3.0], [2.0, 1.0, -3.0]]])
    fine = interpolate_poses(poses, 2)
    assert fine[0, :, :2].flatten().tolist() == pytest.approx([0.5, 0.0, 1.0, 0.0, 1.5, 0.5, 2.0, 1.0])
    assert fine[0, 2, 2] == pytest.approx(3.0 + (2 * math.pi - 6.0) / 2)  # yaw goes the short way round


def test_guard_fails_a_rollout_through_a_wall_from_the_step_it_reaches():
    scan = torch.full((60, 46), FLAT)
    scan[:, 25:27] = FLAT - 1.0  # thin wall at x = 2.0..2.1 m
    guard = HazardGuard(HazardGuardCfg())
    failure = guard.failure(guard.prepare(LocalMap(scan)), straight(1.0))  # 0.5 m per step
    # The body's front (x + 0.465) reaches the inflated wall (x >= 1.9 m) during step 3 (x: 1.0 -> 1.5 m).
    assert failure[0].tolist() == [0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    assert guard.failure(guard.prepare(LocalMap(scan)), straight(0.2))[0].sum() == 0.0  # stops 1 m short: safe


def test_guard_lets_a_robot_touching_a_wall_move_along_or_away_but_not_into_it():
    scan = torch.full((60, 46), FLAT)
    scan[27, :] = FLAT - 1.0  # a one-cell wall along x at y = 0.25 m
    guard = HazardGuard(HazardGuardCfg())  # the footprint (half-width 0.265 m + half a cell) reaches it
    prepared = guard.prepare(LocalMap(scan))
    assert prepared[1] > 0  # touching now
    assert guard.failure(prepared, straight(0.5))[0].sum() == 0.0  # along the wall: no worse than now
    away = torch.tensor([[[0.0, -0.1 * (t + 1), 0.0] for t in range(10)]])
    assert guard.failure(prepared, away)[0].sum() == 0.0
    into = torch.tensor([[[0.0, 0.05 * (t + 1), 0.0] for t in range(10)]])
    assert guard.failure(prepared, into)[0, -1] == 1.0  # sideways into it, even a thin one: failed


def test_guard_with_a_local_map_sees_the_wall_behind_that_the_scan_misses():
    def wall_behind(xy):  # terrain heights: a 1 m wall 0.8 m behind the base
        return torch.where((xy[..., 0] < -0.8) & (xy[..., 0] > -1.0), 1.0, 0.0)

    grid = LocalMap.around(wall_behind, half_size=3.0)
    assert grid.heights.shape == (61, 61) and grid.heights[30, 21] == 1.0 and grid.heights[30, 30] == 0.0
    guard = HazardGuard(HazardGuardCfg())
    back = straight(-0.2)  # 0.1 m per step backwards
    failure = guard.failure(guard.prepare(grid), back)
    # The footprint's rear (0.5 m behind the base's cell) meets the wall's cell (x = -0.9 m) in the fourth
    # step (base x: -0.3 -> -0.4 m).
    assert failure[0].tolist() == [0.0, 0.0, 0.0] + [1.0] * 7
    blind = guard.failure(guard.prepare(LocalMap(torch.full((60, 46), FLAT))), back)
    assert blind.sum() == 0.0  # the FDM's scan ends 0.5 m behind the base: nothing to see there


def test_oracle_planner_reaches_the_goal_on_flat_ground(tmp_path):
    path = tmp_path / "flat_short.yaml"
    path.write_text(
        "name: flat_short\nplatform: anymal_d\nterrain: {type: flat, size: [8, 8]}\n"
        "start: {x: -1.5, y: 0.0, yaw: 0.0}\ngoal: {x: 1.5, y: 0.5, tolerance: 0.5}\ntime_limit: 12\n"
    )
    planner = OraclePlanner(oracle_cfg(num_samples=32), replan_every=5)
    with pytest.raises(RuntimeError, match="attach"):
        planner.prepare(torch.zeros(1), torch.zeros(1), torch.zeros(60, 46))
    result = run_episode(load_scenario(path), planner, "oracle")
    assert result.outcome == "success", result.summary()
