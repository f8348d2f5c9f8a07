"""Property tests: hostile inputs (NaN, Inf, huge, empty) never crash the simulator or leak non-finite state."""

from __future__ import annotations

import math

import pytest
import torch
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dynamics_stack.config import ConfigError
from fdm_nav.observation import height_scan
from sim.platform import load_platform
from sim.scenario import load_scenario
from sim.terrain import TerrainCfg, build_terrain
from sim.terrain_sim import TerrainSim

HM = build_terrain(TerrainCfg(type="boxes", size=(10.0, 10.0), seed=1, params={"num_boxes": 8}))
ANYMAL = load_platform("anymal_d")
any_float = st.floats(allow_nan=True, allow_infinity=True, width=32)
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(st.lists(st.tuples(any_float, any_float, any_float), min_size=3, max_size=3), st.integers(1, 30))
def test_any_command_keeps_state_finite_and_velocities_within_limits(cmds, steps):
    sim = TerrainSim(ANYMAL, HM, 3)
    sim.reset(sim.sample_free_poses(3))
    command = torch.tensor(cmds, dtype=torch.float32)
    for _ in range(steps):
        sim.step(command)
    assert torch.isfinite(sim.poses).all() and torch.isfinite(sim.proprio()).all()
    lo = torch.tensor([ANYMAL.vx_min, -ANYMAL.vy_max, -ANYMAL.wz_max])
    hi = torch.tensor([ANYMAL.vx_max, ANYMAL.vy_max, ANYMAL.wz_max])
    assert ((sim.cmd >= lo) & (sim.cmd <= hi)).all()


@SETTINGS
@given(st.floats(-1e6, 1e6), st.floats(-1e6, 1e6), st.floats(-100.0, 100.0), st.floats(-10.0, 10.0))
def test_height_scan_anywhere_has_the_right_shape_and_range(x, y, yaw, z):
    scan = height_scan(HM, torch.tensor([[x, y, yaw]]), torch.tensor([z]))
    assert scan.shape == (1, 60, 46)
    valid = scan[~torch.isnan(scan)]
    assert ((valid >= -1.0) & (valid <= 1.5)).all()


@SETTINGS
@given(st.floats(-1e6, 1e6), st.floats(-1e6, 1e6))
def test_lookups_far_off_the_map_are_clamped_or_flagged(x, y):
    xy = torch.tensor([x, y])
    assert math.isfinite(float(HM.sample(xy))) and math.isfinite(float(HM.sample_nearest(xy)))
    if not bool(HM.inside(xy)):
        assert bool(HM.unsafe(xy))


def test_empty_batches_are_fine():
    assert height_scan(HM, torch.zeros(0, 3), torch.zeros(0)).shape == (0, 60, 46)
    with pytest.raises(ValueError, match="num_robots"):
        TerrainSim(ANYMAL, HM, 0)


leaf = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), any_float, st.text(max_size=5))
scenario_values = st.recursive(
    leaf, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c, max_size=3), max_leaves=8
)
FIELDS = ("name", "platform", "terrain", "start", "goal", "time_limit", "tags", "description")


@SETTINGS
@given(st.sampled_from(FIELDS), scenario_values)
def test_any_corrupted_field_gives_a_config_error_naming_the_file(tmp_path, field, value):
    data = {
        "name": "p",
        "platform": "anymal_d",
        "terrain": {"type": "flat", "size": [10.0, 10.0]},
        "start": {"x": -3.0, "y": 0.0},
        "goal": {"x": 3.0, "y": 0.0},
        "time_limit": 10.0,
    }
    data[field] = value
    path = tmp_path / "fuzz.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    try:
        load_scenario(path)
    except ConfigError as exc:
        assert str(path) in str(exc)
