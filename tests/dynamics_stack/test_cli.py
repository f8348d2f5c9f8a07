"""The ``dynstack`` command: help, demo output, model verification and clear errors on bad files."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from dynamics_stack.checkpoint import load_card
from dynamics_stack.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_help_lists_the_command_groups(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for group in ("demo", "model", "export"):
        assert group in out


def test_installed_entry_point_runs():
    exe = shutil.which("dynstack") or str(ROOT / ".venv" / "bin" / "dynstack")
    proc = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.startswith("dynstack ")


def test_group_without_command_prints_its_help(capsys):
    assert main(["model"]) == 2
    assert "verify" in capsys.readouterr().out


def test_demo_writes_its_results(tmp_path, capsys):
    assert main(["demo", "--example", "unicycle", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "reached goal" in out and "True" in out
    summary = json.loads((tmp_path / "unicycle.json").read_text())
    assert summary["reached goal"] == "True"
    assert (tmp_path / "unicycle.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_model_verify_passes_then_names_a_corrupted_file(tiny_card, capsys):
    assert main(["model", "verify", str(tiny_card)]) == 0
    assert "tiny.rollout: hashes ok" in capsys.readouterr().out
    weights = load_card(tiny_card).file("weights")
    weights.write_bytes(b"\0" + weights.read_bytes()[1:])
    assert main(["model", "verify", str(tiny_card)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("dynstack: error: ") and "tiny.safetensors: SHA-256 mismatch" in err


def test_export_onnx_regenerates_graphs_and_hashes(tiny_card, capsys):
    onnx_path = load_card(tiny_card).file("onnx:encode")
    onnx_path.unlink()
    assert main(["export", "onnx", str(tiny_card)]) == 2  # the card lists a file that is gone
    assert "not found" in capsys.readouterr().err
    card = load_card(tiny_card, verify=False)
    del card.data["files"]["onnx:encode"]
    tiny_card.write_text(json.dumps(card.data))
    assert main(["export", "onnx", str(tiny_card)]) == 0
    assert onnx_path.is_file()
    assert main(["model", "verify", str(tiny_card)]) == 0


def test_model_info_prints_the_card(tiny_card, capsys):
    assert main(["model", "info", str(tiny_card)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["kind"] == "tiny_test" and info["graphs"]["rollout"] == ["context", "actions"]
