"""The shipped PGND models (models/pgnd_*.*): hashes verify, metrics are stored, a corrupted copy is
refused, and ONNX Runtime steps like torch on a realistic scene (rope on the table, gripper grasping)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from dynamics_stack.checkpoint import ModelFileError, load_card
from dynamics_stack.runtime import load_runtime

MODELS = Path(__file__).resolve().parents[2] / "models"
CONFIG = MODELS.parent / "config"
# vertex-trained, trained with drags for the planner, trained on perceived particles; each with a particle-only twin
SHIPPED = [f"pgnd_{obj}{kind}" for kind in ("", "_planning", "_perceived") for obj in ("rope", "cloth")]


@pytest.mark.parametrize("name", SHIPPED)
def test_card_verifies_and_holds_heldout_metrics(name):
    card = load_card(MODELS / f"{name}.card.json")  # raises on any hash mismatch
    assert card.kind == "pgnd" and card.config["use_grid"]
    metrics = card.data["metrics"]["heldout_3s"]
    assert {"constant_velocity", "rest", name, f"{name}_particle_only"} <= set(metrics)
    assert card.data["training"]["train_episodes"] > 0


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_was_trained_with_the_recipe_in_config(name):
    """config/pgnd_<object>.yaml is the recipe the README and models/README.md point to: the card must agree."""
    recipe = yaml.safe_load((CONFIG / f"{name.removesuffix('_planning').removesuffix('_perceived')}.yaml").read_text())
    card = load_card(MODELS / f"{name}.card.json")
    for key, value in recipe["model"].items():
        stored = card.config[key]
        assert (list(stored) if isinstance(stored, (list, tuple)) else stored) == value, f"model.{key}"
    for key, value in recipe["train"].items():
        assert card.data["training"]["config"][key] == value, f"train.{key}"


@pytest.mark.parametrize("name", SHIPPED)
def test_onnx_runtime_matches_torch_on_a_grasp(name):
    card = load_card(MODELS / f"{name}.card.json")
    n = card.config["num_particles"]
    g = torch.Generator().manual_seed(0)
    x = torch.zeros(2, card.config["history"] + 1, n, 3)
    x[..., 0] = torch.linspace(-0.15, 0.15, n)
    x[..., 1] = torch.randn(1, 1, n, generator=g) * 0.01
    x[..., 2] = 0.005
    x[:, :-1, :, 0] -= 0.003  # moving slowly along +x
    grip = torch.zeros(2, 15)
    grip[:, 0:3] = x[:, -1, n // 2] + torch.tensor([0.0, 0.0, 0.002])
    grip[:, 3:6] = torch.tensor([[0.0, 0.1, 0.08], [0.05, 0.0, 0.0]])
    grip[:, 6] = 1.0
    grip[:, 12] = 0.4
    grip[:, 13] = 0.02
    grip[:, 14] = torch.tensor([0.0, 1.0])  # closed (grasp) and open (push)
    a = load_runtime(card.path, "torch").run("step", {"x_hist": x, "gripper": grip})["x_next"]
    b = load_runtime(card.path, "onnx").run("step", {"x_hist": x, "gripper": grip})["x_next"]
    # float32 with different kernel orders; 1e-5 m is a thousandth of the particle spacing
    np.testing.assert_allclose(a, b, atol=1e-5)
    assert np.isfinite(a).all() and (a[..., 2] >= -1e-6).all()


def test_corrupted_shipped_onnx_copy_is_refused(tmp_path):
    card = load_card(MODELS / "pgnd_rope.card.json")
    for entry in card.data["files"].values():
        shutil.copy(MODELS / entry["path"], tmp_path / entry["path"])
    shutil.copy(card.path, tmp_path / card.path.name)
    target = tmp_path / card.data["files"]["onnx:step"]["path"]
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="pgnd_rope.step.onnx"):
        load_runtime(tmp_path / card.path.name, "onnx")
