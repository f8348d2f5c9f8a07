"""``dynstack irl``: gen-demos -> retarget / eval on real files; user errors exit 2 with one line."""

from __future__ import annotations

import json

import pytest

from dynamics_stack.cli import main


def test_gen_demos_retarget_and_eval(tmp_path, tiny_model, capsys):
    demos = tmp_path / "demos"
    assert main(["irl", "gen-demos", "--out", str(demos), "--good", "2", "--failed", "2", "--people", "2",
                 "--seed", "5", "--no-progress"]) == 0  # fmt: skip
    index = json.loads((demos / "index.json").read_text())
    assert [d["quality"] for d in index["demos"]] == ["good", "good", "failed", "failed"]
    out = tmp_path / "rt"
    assert main(["irl", "retarget", str(demos), "--quality", "good", "--robot", "ur5", "--out", str(out)]) == 0
    metrics = json.loads((out / "retarget_metrics.json").read_text())["per_robot"]["ur5"]
    assert metrics["ee_error_mm_max_over_demos"] <= 5.0 and (out / "retarget.png").is_file()
    limits = metrics["joint_limits"]  # what the node would publish stays within the UR5's limits
    assert limits["within_limits"] and limits["pairs_over_velocity_published"] == 0 and limits["pairs"] > 50
    assert limits["pairs_over_acceleration_retargeted"] > 0  # the retargeted joints alone would not
    for joint in limits["joints"].values():
        assert (
            joint["max_speed_published"]
            <= joint["velocity_limit"]
            == pytest.approx(0.9 * joint["velocity_limit_robot"])
        )
        assert joint["max_acceleration_published"] <= joint["acceleration_limit"] == joint["acceleration_limit_robot"]
    assert main(["irl", "retarget", str(demos), "--robot", "ur5", "--out", str(out), "--set", "velocity_scale=2"]) == 2
    assert len(list(out.glob("*_ur5.npz"))) == 2
    card = tiny_model[2].path
    report = tmp_path / "eval.json"
    assert main(["irl", "eval", "--model", str(card), "--train-demos", str(demos), "--test-demos", str(demos),
                 "--json", str(report), "--skip-policy", "--no-progress"]) == 0  # fmt: skip
    ranking = json.loads(report.read_text())["return_vs_score"]
    assert ranking["demos"] == 4 and -1.0 <= ranking["spearman"] <= 1.0
    assert (tmp_path / "irl_reward_along_demos.png").is_file()
    capsys.readouterr()
    assert main(["irl", "train", "--demos", str(tmp_path / "nowhere"), "--out", str(tmp_path / "m")]) == 2
    assert "nowhere" in capsys.readouterr().err
    assert main(["irl", "gen-demos", "--out", str(tmp_path / "x"), "--good", "0"]) == 2
