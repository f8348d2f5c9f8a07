"""Terrain generators: determinism per seed, hand-computed heights, lookups, config errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dynamics_stack.config import ConfigError, cfg_from_dict
from sim.height_map import height_map_from_array
from sim.terrain import TERRAIN_TYPES, TerrainCfg, build_terrain, passage_openings

SMALL = (8.0, 8.0)  # small maps keep the tests fast
PARAMS = {
    "flat": {"noise_std": 0.01},
    "slope": {"angle_deg": 20.0},
    "stairs": {"rise": 0.1},
    "rough": {"max_height": 0.2},
    "boxes": {"num_boxes": 10},
    "pillars": {"num_pillars": 10},
    "walls": {"layout": "random", "num_walls": 4, "length_max": 3.0},
    "pits": {"num_pits": 4, "size_max": 1.5},
    "mixed": {"tile_size": 4.0},
    "passages": {"corridors": 1, "walls": 1, "corridor_length_max": 5.0, "wall_length_max": 6.0},
}


@pytest.mark.parametrize("kind", TERRAIN_TYPES)
def test_each_terrain_type_is_deterministic_in_its_seed(kind):
    cfg = TerrainCfg(type=kind, size=SMALL, seed=5, params=PARAMS[kind])
    a, b = build_terrain(cfg), build_terrain(cfg)
    assert torch.equal(a.heights, b.heights)
    assert torch.equal(a.obstacle, b.obstacle) and torch.equal(a.pit, b.pit)
    assert a.shape == (160, 160)
    assert torch.isfinite(a.heights).all()


@pytest.mark.parametrize("kind", ["flat", "rough", "boxes", "pillars", "walls", "pits", "mixed", "passages"])
def test_random_terrain_types_change_with_the_seed(kind):
    a = build_terrain(TerrainCfg(type=kind, size=SMALL, seed=1, params=PARAMS[kind]))
    b = build_terrain(TerrainCfg(type=kind, size=SMALL, seed=2, params=PARAMS[kind]))
    assert not torch.equal(a.heights, b.heights)


def test_stairs_heights_match_hand_computed_steps():
    cfg = TerrainCfg(
        type="stairs",
        size=(10.0, 4.0),
        resolution=0.05,
        params={"rise": 0.2, "run": 0.5, "num_steps": 3, "x_start": 0.0},
    )
    hm = build_terrain(cfg)
    # before the first edge 0; in step k (x in [0.5 (k-1), 0.5 k)) k * rise; plateau after 3 steps
    for x, expected in ((-1.0, 0.0), (0.25, 0.2), (0.75, 0.4), (1.25, 0.6), (4.0, 0.6)):
        assert float(hm.sample_nearest(torch.tensor([x, 0.0]))) == pytest.approx(expected, abs=1e-6)
    down = build_terrain(
        TerrainCfg(
            type="stairs",
            size=(10.0, 4.0),
            params={"rise": 0.2, "run": 0.5, "num_steps": 3, "x_start": 0.0, "direction": "down"},
        )
    )
    assert float(down.sample_nearest(torch.tensor([-1.0, 0.0]))) == pytest.approx(0.6)
    assert float(down.sample_nearest(torch.tensor([4.0, 0.0]))) == pytest.approx(0.0)


def test_slope_has_the_requested_grade():
    hm = build_terrain(
        TerrainCfg(type="slope", size=(10.0, 4.0), params={"angle_deg": 30.0, "x_start": -2.0, "x_end": 2.0})
    )
    h0, h1 = (float(hm.sample(torch.tensor([x, 0.0]))) for x in (-1.0, 1.0))
    assert (h1 - h0) / 2.0 == pytest.approx(math.tan(math.radians(30.0)), rel=1e-3)


def test_band_limits_the_slope_to_its_width():
    hm = build_terrain(
        TerrainCfg(type="slope", size=(10.0, 10.0), params={"angle_deg": 30.0, "shape": "hill", "width": 4.0})
    )
    assert float(hm.sample_nearest(torch.tensor([0.0, 0.0]))) > 1.0
    assert float(hm.sample_nearest(torch.tensor([0.0, 3.0]))) == 0.0


def test_masks_mark_obstacles_and_pits():
    walls = build_terrain(
        TerrainCfg(
            type="walls",
            size=(10.0, 10.0),
            params={"layout": "barrier", "barrier_x": 0.0, "gap_y": 3.0, "gap_width": 1.0},
        )
    )
    assert bool(walls.unsafe(torch.tensor([0.0, 0.0])))  # in the wall
    assert not bool(walls.unsafe(torch.tensor([0.0, 3.0])))  # in the opening
    pits = build_terrain(
        TerrainCfg(type="pits", size=(10.0, 10.0), params={"layout": "trench", "width": 1.0, "bridge_y": 2.0})
    )
    assert bool(pits.unsafe(torch.tensor([0.0, -2.0])))
    assert float(pits.sample_nearest(torch.tensor([0.0, -2.0]))) == -1.0
    assert not bool(pits.unsafe(torch.tensor([0.0, 2.0])))  # the bridge
    assert bool(pits.unsafe(torch.tensor([100.0, 0.0])))  # off the map


def test_keep_clear_zone_stays_free_of_random_objects():
    cfg = TerrainCfg(
        type="pillars", size=(10.0, 10.0), seed=3, params={"num_pillars": 200}, keep_clear=((0.0, 0.0, 2.0),)
    )
    hm = build_terrain(cfg)
    xs = torch.linspace(-1.5, 1.5, 31)
    grid = torch.stack(torch.meshgrid(xs, xs, indexing="ij"), dim=-1)
    assert not hm.unsafe(grid).any()


def test_bilinear_sample_matches_hand_computation():
    hm = height_map_from_array(np.array([[0.0, 1.0], [2.0, 3.0]]), resolution=1.0, origin=(0.0, 0.0))
    # h(x, y) = 2 x + y on this grid
    pts = torch.tensor([[0.5, 0.5], [0.25, 0.75], [1.0, 0.0]])
    assert torch.allclose(hm.sample(pts), torch.tensor([1.5, 1.25, 2.0]))


def test_terrain_config_errors_name_the_field():
    with pytest.raises(ConfigError, match="field 'type'"):
        cfg_from_dict(TerrainCfg, {"type": "lava"}, source="x.yaml")
    with pytest.raises(ConfigError, match=r"x\.yaml.*rise"):
        cfg_from_dict(TerrainCfg, {"type": "stairs", "params": {"rise": "high"}}, source="x.yaml")
    with pytest.raises(ConfigError, match=r"x\.yaml.*riser"):
        cfg_from_dict(TerrainCfg, {"type": "stairs", "params": {"riser": 0.1}}, source="x.yaml")
    with pytest.raises(ConfigError, match="size"):
        cfg_from_dict(TerrainCfg, {"type": "flat", "size": [0.1, 10.0]}, source="x.yaml")


@pytest.mark.parametrize(("what", "widths"), [("corridors", (1.2, 2.0)), ("walls", (0.9, 1.5))])
def test_passage_openings_lead_through_free_gaps_of_the_drawn_widths(what, widths):
    """The data generator drives robots from each opening's approach point to its exit: that line is free, and
    across its middle the free width is the corridor's (1.2-2.0 m) or the door's (0.9-1.5 m)."""
    count = {"corridors": 0, "walls": 0, what: 1}
    for seed in range(6):
        cfg = TerrainCfg(type="passages", size=(20.0, 20.0), seed=seed, params={**count, "clutter": 0, "doors_max": 1})
        hm, openings = build_terrain(cfg), passage_openings(cfg)
        assert openings.shape == (1, 4)

        def blocked(p, hm=hm) -> bool:
            return bool(hm.unsafe(torch.as_tensor(p, dtype=torch.float32)))

        a, b = openings[0, :2], openings[0, 2:]
        assert not any(blocked(a + t * (b - a)) for t in np.linspace(0.0, 1.0, 400))
        mid, d = (a + b) / 2, (b - a) / np.linalg.norm(b - a)
        across = np.array([-d[1], d[0]])
        free = [next(k for k in range(1, 80) if blocked(mid + sign * 0.025 * k * across)) for sign in (-1, 1)]
        width = 0.025 * sum(free)
        assert widths[0] - 0.1 <= width <= widths[1] + 0.1, (seed, width)
    assert passage_openings(TerrainCfg(type="walls", size=(20.0, 20.0))).shape == (0, 4)
