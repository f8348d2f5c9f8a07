"""`dynstack nav ...` end to end through the real CLI entry point, on real files."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from dynamics_stack.cli import main
from sim.dataset import NavWindowDataset
from sim.scenario import shipped_scenarios


def test_nav_without_a_command_prints_its_help(capsys):
    assert main(["nav"]) == 2
    out = capsys.readouterr().out
    for command in ("gen-data", "check-scenario", "render-scenario", "data-info"):
        assert command in out


def test_check_scenario_accepts_every_shipped_file(capsys):
    files = [str(p) for p in shipped_scenarios()]
    assert main(["nav", "check-scenario", *files]) == 0
    assert f"{len(files)} of {len(files)} scenario file(s) valid" in capsys.readouterr().out


def test_check_scenario_names_file_and_field_of_a_bad_file(tmp_path, capsys):
    good = shipped_scenarios()[0]
    data = yaml.safe_load(good.read_text())
    del data["goal"]["y"]
    bad = tmp_path / "no_goal_y.yaml"
    bad.write_text(yaml.safe_dump(data))
    assert main(["nav", "check-scenario", str(good), str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}: missing field(s) goal.y" in err
    assert "1 of 2 scenario file(s) valid" in err


def test_make_scenarios_writes_family_files_that_check_scenario_accepts(tmp_path, capsys):
    assert main(["nav", "make-scenarios", "--out", str(tmp_path), "--family", "door", "--count", "2"]) == 0
    files = sorted(tmp_path.glob("*.yaml"))
    assert [f.name for f in files] == ["door_s0000.yaml", "door_s0001.yaml"]
    assert main(["nav", "check-scenario", *map(str, files)]) == 0
    assert main(["nav", "make-scenarios", "--out", str(tmp_path), "--family", "maze"]) == 2
    assert "maze" in capsys.readouterr().err
    assert main(["nav", "make-scenarios", "--out", str(tmp_path), "--list"]) == 0
    assert "corridor:" in capsys.readouterr().out


def test_render_scenario_writes_a_png_with_trajectories(tmp_path, capsys):
    scenario = next(p for p in shipped_scenarios() if p.stem == "walls_barrier_02")
    csv = tmp_path / "path.csv"
    csv.write_text("x,y\n-8,0\n-2,5\n2,5\n8,0\n")
    npy = tmp_path / "direct.npy"
    np.save(npy, np.array([[-8.0, 0.0, 0.0], [0.0, 0.0, 0.0]]))
    out = tmp_path / "pic.png"
    assert (
        main(
            [
                "nav",
                "render-scenario",
                str(scenario),
                "--out",
                str(out),
                "--trajectory",
                str(csv),
                "--trajectory",
                str(npy),
            ]
        )
        == 0
    )
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob(".*.tmp"))


def test_render_scenario_refuses_a_bad_trajectory(tmp_path, capsys):
    scenario = shipped_scenarios()[0]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([[1.0, float("nan")]]))  # json writes NaN, which must be refused
    assert (
        main(["nav", "render-scenario", str(scenario), "--out", str(tmp_path / "x.png"), "--trajectory", str(bad)]) == 2
    )
    assert "bad.json" in capsys.readouterr().err


def test_gen_data_then_data_info_then_loader(tmp_path, capsys):
    out = tmp_path / "ds"
    args = ["nav", "gen-data", "--out", str(out), "--robots", "2", "--seconds", "6", "--terrains", "boxes",
            "--terrain-size", "10", "--seed", "4", "--no-progress", "--threads", "0"]  # fmt: skip
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["complete"] and summary["totals"]["shards_done"] == 1
    assert main(["nav", "data-info", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["windows_per_terrain"]["boxes"] == len(NavWindowDataset(out))
    assert main(args) == 0  # a second run finds everything done
    assert json.loads(capsys.readouterr().out)["last_run"]["new_shards"] == 0


@pytest.mark.parametrize(
    ("extra", "message"),
    [(["--seconds", "5"], "seconds"), (["--terrains", "lava"], "terrains"), (["--threads", "-1"], "threads")],
)
def test_gen_data_refuses_bad_arguments(tmp_path, capsys, extra, message):
    args = [
        "nav",
        "gen-data",
        "--out",
        str(tmp_path / "ds"),
        "--robots",
        "2",
        "--seconds",
        "6",
        "--no-progress",
        "--threads",
        "0",
        *extra,
    ]
    assert main(args) == 2
    assert message in capsys.readouterr().err
