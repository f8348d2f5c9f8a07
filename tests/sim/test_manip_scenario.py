"""Manipulation task files: the shipped ones load, generators make the shapes they name, bad files name the field."""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml

from dynamics_stack.cli import main
from dynamics_stack.config import ConfigError
from sim.manip_scenario import load_manip_scenario, shipped_manip_scenarios, start_vertices, target_cloud


def test_at_least_twelve_graded_tasks_over_rope_and_cloth_are_shipped():
    tasks = [load_manip_scenario(p) for p in shipped_manip_scenarios()]
    assert len(tasks) >= 12
    cats = {t.object.category for t in tasks}
    assert cats == {"rope", "cloth"}
    for cat in cats:
        assert {t.difficulty for t in tasks if t.object.category == cat} == {"easy", "medium", "hard"}
    assert len({t.name for t in tasks}) == len(tasks)


def test_generators_make_the_shapes_they_name(tmp_path):
    def task(**target):
        data = {"name": "t", "object": {"category": "rope"}, "target": target, "success": {"chamfer": 0.02}}
        path = tmp_path / "t.yaml"
        path.write_text(yaml.safe_dump(data))
        s = load_manip_scenario(path)
        return target_cloud(s, start_vertices(s))

    line = task(generator="line", x=0.05, y=-0.02, yaw=math.pi / 2)
    assert np.allclose(line[:, 0], 0.05) and np.ptp(line[:, 1]) == pytest.approx(0.39)
    assert np.allclose(np.linalg.norm(np.diff(line, axis=0), axis=1), 0.01)  # the rope's rest spacing
    u = task(generator="u_shape", width=0.1)
    assert np.ptp(u[:, 1]) == pytest.approx(0.1, abs=1e-9)  # the arms are 10 cm apart
    assert np.linalg.norm(np.diff(u, axis=0), axis=1).sum() == pytest.approx(0.39, rel=0.05)  # same length
    arc = task(generator="arc", curvature=5.0)
    assert np.linalg.norm(np.diff(arc, axis=0), axis=1).sum() == pytest.approx(0.39, rel=0.01)
    np.save(tmp_path / "cloud.npy", np.zeros((5, 3)))
    assert task(generator="file", file="cloud.npy").shape == (5, 3)


def test_pose_targets_move_the_start_rigidly(tmp_path):
    data = {
        "name": "c", "object": {"category": "cloth", "start": {"x": 0.01}},
        "target": {"generator": "pose", "x": 0.05, "yaw": 0.5}, "success": {"chamfer": 0.02},
    }  # fmt: skip
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data))
    s = load_manip_scenario(path)
    start = start_vertices(s)
    target = target_cloud(s, start)
    assert np.allclose(target.mean(axis=0)[:2] - start.mean(axis=0)[:2], [0.05, 0.0])
    d0 = np.linalg.norm(start[:, None] - start[None], axis=-1)
    d1 = np.linalg.norm(target[:, None] - target[None], axis=-1)
    assert np.allclose(d0, d1)  # rigid


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.pop("success"), "missing field.*'success'"),
        (lambda d: d["object"].update(category="jelly"), "object.category"),
        (lambda d: d["target"].update(generator="spiral"), "target.generator"),
        (lambda d: d["target"].update(generator="file"), "target.file"),
        (lambda d: d["target"].update(generator="file", file="none.npy"), "target.file.*none.npy"),
        (lambda d: d["success"].update(chamfer=-1), "success.chamfer"),
        (lambda d: d["object"]["start"].update(curvature=20.0), "curvature"),
        (lambda d: d["target"].update(x=0.5), "off the table"),
        (lambda d: d["object"].update(colour="red"), "unknown field.*colour"),
        (lambda d: d.update(difficulty="easyish"), "difficulty"),
    ],
)
def test_bad_task_files_name_the_field(tmp_path, edit, message):
    data = yaml.safe_load(shipped_manip_scenarios()[-1].read_text())
    data["object"].setdefault("start", {})
    edit(data)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=message):
        load_manip_scenario(path)


def test_check_scenario_command(tmp_path, capsys):
    files = [str(p) for p in shipped_manip_scenarios()]
    assert main(["manip", "check-scenario", *files]) == 0
    assert "ok" in capsys.readouterr().out
    (tmp_path / "x.yaml").write_text("name: x\n")
    assert main(["manip", "check-scenario", str(tmp_path / "x.yaml")]) == 2
    assert "missing field" in capsys.readouterr().err
