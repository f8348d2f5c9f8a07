"""``dynstack manip``: dataset generation with resume, summaries, and one-line errors for bad input."""

from __future__ import annotations

import json

from dynamics_stack.cli import main


def test_manip_without_a_command_prints_its_help(capsys):
    assert main(["manip"]) == 2
    assert "gen-data" in capsys.readouterr().out


def test_gen_data_resumes_and_data_info_summarises(tmp_path, capsys):
    args = ["manip", "gen-data", "--out", str(tmp_path), "--category", "rope", "--shards", "2"]
    args += ["--episodes-per-shard", "1", "--seconds", "1.0", "--no-progress"]
    assert main([*args, "--max-shards", "1"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["episodes"] == 1 and not first["complete"]
    assert main(args) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["complete"] and second["last_run"]["new_shards"] == 1
    assert main(["manip", "data-info", str(tmp_path)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["category"] == "rope" and info["num_particles"] == 40 and info["frames"] == 11


def test_bad_arguments_and_files_give_one_line_errors(tmp_path, capsys):
    assert main(["manip", "gen-data", "--out", str(tmp_path), "--category", "jelly", "--no-progress"]) == 2
    assert "category" in capsys.readouterr().err
    bad = tmp_path / "broken.card.json"
    bad.write_text("{")
    code = main(
        ["manip", "eval-model", "--data", str(tmp_path), "--model", str(bad), "--json", str(tmp_path / "r.json")]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "broken.card.json" in err and "Traceback" not in err
