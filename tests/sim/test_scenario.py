"""Scenario files: every shipped one validates; bad files get errors naming the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from dynamics_stack.config import ConfigError
from sim.scenario import load_scenario, scenario_to_dict, shipped_scenarios
from sim.terrain import TERRAIN_TYPES

SHIPPED = shipped_scenarios()


def test_at_least_24_scenarios_cover_every_terrain_type():
    assert len(SHIPPED) >= 24
    kinds = {yaml.safe_load(p.read_text())["terrain"]["type"] for p in SHIPPED}
    assert kinds == set(TERRAIN_TYPES)
    tags = [t for p in SHIPPED for t in yaml.safe_load(p.read_text()).get("tags", [])]
    assert "direct_blocked" in tags and "direct_deadly" in tags


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_scenario_validates(path):
    sc = load_scenario(path)
    assert sc.name == path.stem
    assert sc.source == str(path)


GOOD = {
    "name": "t",
    "platform": "anymal_d",
    "terrain": {"type": "flat", "size": [10.0, 10.0], "resolution": 0.05, "seed": 0, "params": {}},
    "start": {"x": -3.0, "y": 0.0, "yaw": 0.0},
    "goal": {"x": 3.0, "y": 0.0, "tolerance": 0.5},
    "time_limit": 20.0,
}


def write(tmp_path: Path, data, name="bad.yaml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


def edited(**changes):
    data = yaml.safe_load(yaml.safe_dump(GOOD))
    for dotted, value in changes.items():
        node = data
        *parents, leaf = dotted.split("__")
        for p in parents:
            node = node[p]
        if value is ...:
            del node[leaf]
        else:
            node[leaf] = value
    return data


def test_the_good_file_loads_and_round_trips(tmp_path):
    sc = load_scenario(write(tmp_path, GOOD, "good.yaml"))
    again = load_scenario(write(tmp_path, scenario_to_dict(sc), "again.yaml"))
    assert again == sc


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"start": ...}, "'start'"),
        ({"goal__x": ...}, "goal.x"),
        ({"time_limit": "soon"}, "time_limit"),
        ({"time_limit": -1.0}, "time_limit"),
        ({"start__yaw": "north"}, "start.yaw"),
        ({"terrain__type": "lava"}, "type"),
        ({"terrain__params": {"rise": 0.1}}, "rise"),
        ({"terrain__size": [10.0]}, "terrain.size"),
        ({"spawn": 1}, "spawn"),
        ({"platform": "hovercraft"}, "platform"),
        ({"goal__tolerance": 0.0}, "tolerance"),
        ({"start__x": -30.0}, "start"),
        ({"goal__y": 12.0}, "goal"),
    ],
)
def test_bad_field_errors_name_file_and_field(tmp_path, changes, field):
    path = write(tmp_path, edited(**changes))
    with pytest.raises(ConfigError) as err:
        load_scenario(path)
    assert str(path) in str(err.value)
    assert field in str(err.value)


def test_start_inside_an_obstacle_and_goal_in_a_pit_are_refused(tmp_path):
    wall = edited(terrain__type="walls", terrain__params={"layout": "barrier", "barrier_x": -3.0, "gap_y": 4.0})
    path = write(tmp_path, wall)
    with pytest.raises(ConfigError, match=r"bad\.yaml: field 'start'.*obstacle"):
        load_scenario(path)
    pit = edited(terrain__type="pits", terrain__params={"layout": "trench", "x_center": 3.0, "width": 1.0})
    path = write(tmp_path, pit, "pit.yaml")
    with pytest.raises(ConfigError, match=r"pit\.yaml: field 'goal'.*pit"):
        load_scenario(path)


def test_unreadable_files_get_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_scenario(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_scenario(write(tmp_path, "name: [unclosed"))
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_scenario(write(tmp_path, "- just\n- a list\n"))


def test_make_sim_places_robots_at_the_start_and_a_straight_walk_reaches_the_goal():
    from sim.scenario import goal_reached, make_sim

    sc = load_scenario(next(p for p in SHIPPED if p.stem == "flat_01"))
    sim = make_sim(sc, num_robots=2)
    assert sim.poses.tolist() == [[sc.start.x, sc.start.y, sc.start.yaw]] * 2
    import torch

    for _ in range(200):  # 20 s at 0.1 s ticks
        sim.advance_tick(torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]))
        if goal_reached(sc, sim.poses)[0]:
            break
    assert goal_reached(sc, sim.poses).tolist() == [True, False]


def test_direct_line_is_blocked_or_deadly_where_tagged():
    """Walking straight at the goal fails in the scenarios tagged direct_blocked / direct_deadly."""
    import torch

    from sim.scenario import make_sim

    for path in SHIPPED:
        data = yaml.safe_load(path.read_text())
        if not {"direct_blocked", "direct_deadly"} & set(data.get("tags", [])):
            continue
        sc = load_scenario(path)
        sim = make_sim(sc)
        for _ in range(400):
            sim.advance_tick(torch.tensor([[0.8, 0.0, 0.0]]))  # start yaw faces the goal in these files
            if bool(sim.failed[0]):
                break
        assert bool(sim.failed[0]), path.name
