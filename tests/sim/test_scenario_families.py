"""Scenario families: every family draws valid scenarios in the shipped format, deterministic in the seed."""

from __future__ import annotations

import pytest
import yaml

from dynamics_stack.config import ConfigError
from sim.platform import load_platform
from sim.route import plan_route
from sim.scenario import load_scenario
from sim.scenario_families import FAMILIES, family_of, family_scenario, write_family_scenarios
from sim.terrain import TERRAIN_TYPES, build_terrain


@pytest.mark.parametrize("family", list(FAMILIES))
def test_a_family_seed_is_a_valid_scenario_file_with_a_route(family, tmp_path):
    (path,) = write_family_scenarios(tmp_path, [family], [7])
    scenario = load_scenario(path)  # validated as any file: fields, start and goal clear
    assert scenario == family_scenario(family, 7) and scenario.name == f"{family}_s0007"
    assert family_of(scenario) == family and scenario.terrain.type in TERRAIN_TYPES
    s, g = scenario.start, scenario.goal
    assert plan_route(build_terrain(scenario.terrain), load_platform("anymal_d"), (s.x, s.y), (g.x, g.y)) is not None
    assert family_scenario(family, 8) != scenario  # another seed, another scenario


def test_parameters_stay_in_the_family_ranges():
    for seed in range(6):
        door = family_scenario("door", seed).terrain.params
        assert 0.9 <= door["gap_width"] <= 1.5 and -7.5 <= door["gap_y"] <= 7.5
        corridor = family_scenario("corridor", seed)
        assert 1.2 <= corridor.terrain.params["corridor_width"] <= 2.0 and abs(corridor.start.yaw) <= 0.5
        bridge = family_scenario("trench", seed).terrain.params
        assert 1.2 <= bridge["bridge_width"] <= 2.0 and -6.0 <= bridge["bridge_y"] <= 6.0
    headings = [family_scenario("pillars", seed).start.yaw for seed in range(8)]
    assert max(headings) - min(headings) > 2.0  # the start heading varies


def test_unknown_family_is_named():
    with pytest.raises(ConfigError, match="unknown scenario family 'maze'"):
        family_scenario("maze", 0)


def test_the_benchmark_reports_per_family(tmp_path):
    from fdm_nav.benchmark import run_benchmark

    paths = write_family_scenarios(tmp_path, ["corridor", "slope"], [0])
    for path in paths:  # two seconds each: every episode times out, quickly
        data = yaml.safe_load(path.read_text())
        path.write_text(yaml.safe_dump({**data, "time_limit": 2.0}))
    report = run_benchmark(paths, ["heuristic"], 1, None, progress=False)
    assert set(report["families"]) == {"corridor", "slope"}
    for per in report["families"].values():
        assert per["heuristic"]["episodes"] == 1 and per["heuristic"]["timeout_rate"] == 1.0
    assert report["scenarios"]["corridor_s0000"]["family"] == "corridor"
