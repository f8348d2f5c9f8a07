"""The shipped FDM (models/fdm_anymal_d.*): its hashes verify, a corrupted copy is refused, backends agree."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from dynamics_stack.checkpoint import ModelFileError, load_card
from dynamics_stack.runtime import load_runtime

MODELS = Path(__file__).resolve().parents[2] / "models"
CARD = MODELS / "fdm_anymal_d.card.json"


def test_shipped_card_verifies_and_holds_its_metrics():
    card = load_card(CARD)  # raises on any hash mismatch
    assert card.kind == "fdm"
    heldout = card.data["metrics"]["heldout"]
    assert heldout["overall"]["ratio_final"] < 1.0  # better than perfect command tracking
    assert "proprio_only" in heldout
    assert card.data["training"]["train_windows"] > 0


def _copy(tmp_path: Path) -> Path:
    card = load_card(CARD)
    for entry in card.data["files"].values():
        shutil.copy(MODELS / entry["path"], tmp_path / entry["path"])
    shutil.copy(CARD, tmp_path / CARD.name)
    return tmp_path / CARD.name


@pytest.mark.parametrize("label", ["weights", "onnx:rollout", "onnx:encode_context"])
def test_corrupted_copy_is_refused_naming_the_file(tmp_path, label):
    copy = _copy(tmp_path)
    target = load_card(copy).file(label)
    data = bytearray(target.read_bytes())
    data[len(data) // 3] ^= 0x5A
    target.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match=f"{target.name}: SHA-256 mismatch"):
        load_runtime(copy, "onnx" if label.startswith("onnx") else "torch")


def test_shipped_model_backends_agree_on_a_planning_batch():
    torch_rt, onnx_rt = load_runtime(CARD, "torch"), load_runtime(CARD, "onnx")
    cfg = torch_rt.card.config
    g = torch.Generator().manual_seed(5)
    feeds = {
        "proprio": torch.randn(1, cfg["history"], cfg["proprio_dim"], generator=g),
        "state": torch.randn(1, cfg["history"], cfg["state_dim"], generator=g),
        "height_scan": torch.rand(1, 60, 46, generator=g) * 0.4,
    }
    context = torch_rt.run("encode_context", feeds)["context"]
    np.testing.assert_allclose(onnx_rt.run("encode_context", feeds)["context"], context, atol=1e-4)
    commands = (torch.rand(1024, cfg["horizon"], 3, generator=g) - 0.5) * 2
    a = torch_rt.run("rollout", {"context": context, "commands": commands})
    b = onnx_rt.run("rollout", {"context": context, "commands": commands})
    # Same tolerance reasoning as tests/fdm_nav/test_fdm_model.py: float32 kernel order over 10 steps.
    np.testing.assert_allclose(b["poses"], a["poses"], atol=1e-4)
    np.testing.assert_allclose(b["failure_prob"], a["failure_prob"], atol=1e-5)
