"""The observation contract: height scan against hand-computed cells, NaN handling, proprio layout, time base."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from fdm_nav.observation import PROPRIO_FIELDS, SCAN_X, SCAN_Y, HeightScanCfg, fill_nan_nearest, height_scan
from sim.height_map import height_map_from_array
from sim.platform import load_platform
from sim.terrain_sim import TerrainSim


def box_map():
    """20 m x 20 m flat map (cell centres on multiples of 0.05 m) with a 0.4 m box on x [1.0, 1.5], y [-0.5, 0.5]."""
    a = np.zeros((400, 400), np.float32)
    xs = -10.0 + 0.05 * np.arange(400)
    inside_x = (xs >= 1.0 - 1e-6) & (xs <= 1.5 + 1e-6)
    inside_y = (xs >= -0.5 - 1e-6) & (xs <= 0.5 + 1e-6)
    a[np.ix_(inside_x, inside_y)] = 0.4
    return height_map_from_array(a, 0.05, (-10.0, -10.0))


def rc(x: float, y: float) -> tuple[int, int]:
    """Scan row/column of body point (x, y), from the documented layout."""
    return round((2.95 - y) / 0.1), round((x + 0.5) / 0.1)


def test_scan_layout_is_the_documented_grid():
    assert SCAN_X[0] == pytest.approx(-0.5) and SCAN_X[-1] == pytest.approx(4.0) and len(SCAN_X) == 46
    assert SCAN_Y[0] == pytest.approx(2.95) and SCAN_Y[-1] == pytest.approx(-2.95) and len(SCAN_Y) == 60


def test_height_scan_of_a_known_map_matches_hand_computed_cells():
    hm = box_map()
    z_base = torch.tensor([0.6])
    scan = height_scan(hm, torch.tensor([[0.0, 0.0, 0.0]]), z_base)[0]
    assert scan.shape == (60, 46)
    # flat ground: 0.6 - 0 - 0.5 = 0.1; on the box: 0.6 - 0.4 - 0.5 = -0.3
    assert float(scan[rc(3.0, 2.0)]) == pytest.approx(0.1)
    assert float(scan[rc(1.2, 0.05)]) == pytest.approx(-0.3)
    assert float(scan[rc(1.5, -0.45)]) == pytest.approx(-0.3)
    assert float(scan[rc(1.6, 0.05)]) == pytest.approx(0.1)
    assert int((scan < 0).sum()) == 6 * 10  # 6 columns (x 1.0..1.5) x 10 rows (y 0.45..-0.45)


def test_height_scan_is_yaw_aligned():
    hm = box_map()
    # Facing +y: body (x=0.2, y=-1.25) is world (1.25, 0.2), on the box.
    scan = height_scan(hm, torch.tensor([[0.0, 0.0, math.pi / 2]]), torch.tensor([0.6]))[0]
    assert float(scan[rc(0.2, -1.25)]) == pytest.approx(-0.3)
    assert float(scan[rc(1.2, 0.05)]) == pytest.approx(0.1)  # ahead of the robot is now free


def test_height_scan_clips_and_marks_cells_off_the_map_as_nan():
    hm = box_map()
    scan = height_scan(hm, torch.tensor([[8.0, 0.0, 0.0]]), torch.tensor([3.0]))[0]
    assert torch.isnan(scan[:, rc(2.5, 0.0)[1] :]).all()  # x > 10 m is off the map
    assert float(scan[rc(0.0, 0.0)]) == pytest.approx(1.5)  # 3.0 - 0 - 0.5 clipped to 1.5


def test_noise_and_dropout_are_seeded_and_applied():
    hm = box_map()
    cfg = HeightScanCfg(noise_std=0.05, dropout=0.2)
    pose = torch.tensor([[0.0, 0.0, 0.0]])
    a = height_scan(hm, pose, torch.tensor([0.6]), cfg, torch.Generator().manual_seed(1))
    b = height_scan(hm, pose, torch.tensor([0.6]), cfg, torch.Generator().manual_seed(1))
    assert torch.equal(torch.isnan(a), torch.isnan(b)) and torch.allclose(a.nan_to_num(), b.nan_to_num())
    frac = float(torch.isnan(a).float().mean())
    assert 0.15 < frac < 0.25
    assert float(a.nan_to_num(0.1).std()) > 0.02


def test_fill_nan_nearest_uses_the_nearest_valid_cell():
    scan = torch.full((5, 5), float("nan"))
    scan[0, 0] = 1.0
    scan[4, 4] = 2.0
    filled = fill_nan_nearest(scan)
    assert not torch.isnan(filled).any()
    assert float(filled[1, 1]) == 1.0 and float(filled[3, 3]) == 2.0 and float(filled[0, 1]) == 1.0
    assert torch.equal(fill_nan_nearest(torch.ones(2, 3, 4)), torch.ones(2, 3, 4))
    assert float(fill_nan_nearest(torch.full((2, 2), float("nan")))[0, 0]) == 1.5


def test_proprio_layout_and_values_on_flat_ground():
    assert len(PROPRIO_FIELDS) >= 15 and PROPRIO_FIELDS[:3] == ("lin_vel_x", "lin_vel_y", "lin_vel_z")
    platform = load_platform("anymal_d")
    sim = TerrainSim(platform, box_map(), 1)
    sim.reset(torch.tensor([[-5.0, 0.0, 0.0]]))
    for _ in range(100):
        sim.step(torch.tensor([[0.5, 0.0, 0.2]]))
    p = dict(zip(PROPRIO_FIELDS, sim.proprio()[0].tolist(), strict=True))
    assert p["gravity_z"] == pytest.approx(-1.0) and p["gravity_x"] == pytest.approx(0.0)
    assert p["cmd_vx"] == pytest.approx(0.5) and p["cmd_wz"] == pytest.approx(0.2)
    assert p["lin_vel_x"] == pytest.approx(0.5, abs=0.2)
    assert p["base_height"] == pytest.approx(platform.base_height)
    sim.step(torch.tensor([[0.3, 0.0, 0.0]]))
    p = dict(zip(PROPRIO_FIELDS, sim.proprio()[0].tolist(), strict=True))
    assert (p["cmd_vx"], p["prev_cmd_vx"], p["prev_cmd_wz"]) == pytest.approx((0.3, 0.5, 0.2))


def test_projected_gravity_tilts_on_a_ramp():
    a = np.zeros((400, 100), np.float32)
    xs = -10.0 + 0.05 * np.arange(400)
    a[:] = (np.clip(xs, 0.0, None) * math.tan(math.radians(20.0)))[:, None]
    hm = height_map_from_array(a, 0.05, (-10.0, -2.5))
    sim = TerrainSim(load_platform("anymal_d"), hm, 1)
    sim.reset(torch.tensor([[3.0, 0.0, 0.0]]))
    g = sim.proprio()[0, 6:9]
    assert float(g[0]) == pytest.approx(-math.sin(math.radians(20.0)), abs=0.02)  # nose up: gravity points back
