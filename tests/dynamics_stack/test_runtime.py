"""Model files and the runtime: torch and ONNX Runtime agree; damaged or swapped files are refused."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
import torch

from dynamics_stack.atomic import atomic_path, atomic_write_json
from dynamics_stack.checkpoint import ModelFileError, load_card, load_weights, write_card
from dynamics_stack.runtime import OnnxRuntime, TorchRuntime, load_runtime

# float32 ONNX Runtime kernels reorder sums (GEMM blocking, fused tanh) differently
# from torch's; on this tiny model that moves results by ~1e-7, so 1e-5 is generous
# yet would catch any wrong weight, missing buffer or mis-wired input.
ATOL = 1e-5


def _inputs(rng: np.random.Generator, K: int) -> tuple[np.ndarray, np.ndarray]:
    return rng.standard_normal((1, 4)).astype(np.float32), rng.standard_normal((K, 5, 2)).astype(np.float32)


def test_card_lists_every_file_with_its_hash(tiny_card):
    card = load_card(tiny_card)
    assert set(card.data["files"]) == {"weights", "onnx:encode", "onnx:rollout"}
    assert all(len(entry["sha256"]) == 64 for entry in card.data["files"].values())
    assert card.graphs["rollout"]["inputs"][1]["shape"] == ["K", 5, 2]
    assert card.data["normalization"]["obs_mean"] == [0.25] * 4


@pytest.mark.parametrize("K", [1, 64, 1000])
def test_torch_and_onnx_backends_agree_for_any_batch(tiny_card, K):
    rng = np.random.default_rng(K)
    obs, actions = _inputs(rng, K)
    torch_rt, onnx_rt = load_runtime(tiny_card, "torch"), load_runtime(tiny_card, "onnx")
    assert isinstance(torch_rt, TorchRuntime) and isinstance(onnx_rt, OnnxRuntime)
    ctx_t = torch_rt.run("encode", {"obs": obs})["context"]
    ctx_o = onnx_rt.run("encode", {"obs": obs})["context"]
    np.testing.assert_allclose(ctx_t, ctx_o, atol=ATOL)
    out_t = torch_rt.run("rollout", {"context": ctx_t, "actions": actions})["positions"]
    out_o = onnx_rt.run("rollout", {"context": ctx_o, "actions": actions})["positions"]
    assert out_t.shape == (K, 5, 2)
    np.testing.assert_allclose(out_t, out_o, atol=ATOL)


def test_run_torch_path_matches_numpy_path(tiny_card):
    rt = load_runtime(tiny_card, "onnx")
    obs, _ = _inputs(np.random.default_rng(0), 1)
    (ctx,) = rt.run_torch("encode", torch.from_numpy(obs))
    assert isinstance(ctx, torch.Tensor)
    np.testing.assert_allclose(ctx.numpy(), rt.run("encode", {"obs": obs})["context"])


def test_normalisation_buffer_travels_with_the_weights(tiny_card):
    rt = load_runtime(tiny_card, "torch")
    assert torch.equal(rt.model.obs_mean, torch.full((4,), 0.25))


def test_wrong_inputs_are_named(tiny_card):
    rt = load_runtime(tiny_card, "onnx")
    with pytest.raises(ValueError, match=r"input 'actions' has shape \(3, 4, 2\), expected \['K', 5, 2\]"):
        rt.run("rollout", {"context": np.zeros((1, 8), np.float32), "actions": np.zeros((3, 4, 2), np.float32)})
    with pytest.raises(ValueError, match=r"missing inputs \['obs'\]"):
        rt.run("encode", {"observation": np.zeros((1, 4), np.float32)})
    with pytest.raises(KeyError, match="no graph 'decode'"):
        rt.run("decode", {})
    with pytest.raises(ValueError, match="backend must be one of"):
        load_runtime(tiny_card, "tensorrt")


def test_truncated_weights_are_refused_naming_the_file(tiny_card):
    weights = load_card(tiny_card).file("weights")
    weights.write_bytes(weights.read_bytes()[:-40])
    with pytest.raises(ModelFileError, match=rf"{weights.name}: SHA-256 mismatch"):
        load_runtime(tiny_card)
    # Even without the card's hash, the loader itself refuses the damaged file by name.
    with pytest.raises(ModelFileError, match=rf"{weights.name}: not a readable safetensors file"):
        load_weights(weights)


def test_altered_onnx_byte_is_refused(tiny_card):
    onnx_path = load_card(tiny_card).file("onnx:rollout")
    data = bytearray(onnx_path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    onnx_path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match=rf"{onnx_path.name}: SHA-256 mismatch"):
        load_runtime(tiny_card, "onnx")


def test_card_whose_hash_does_not_match_is_refused(tiny_card):
    data = json.loads(tiny_card.read_text())
    data["files"]["weights"]["sha256"] = "0" * 64
    tiny_card.write_text(json.dumps(data))
    with pytest.raises(ModelFileError, match="SHA-256 mismatch with model card"):
        load_card(tiny_card)


def test_broken_or_missing_cards_are_refused(tiny_card, tmp_path):
    with pytest.raises(ModelFileError, match="model card not found"):
        load_card(tmp_path / "nothing")
    tiny_card.write_text("{ not json")
    with pytest.raises(ModelFileError, match=rf"{tiny_card.name}: model card is not valid JSON"):
        load_card(tiny_card)
    tiny_card.write_text(json.dumps({"format": "other/9", "name": "x", "kind": "x", "config": {}, "files": {}}))
    with pytest.raises(ModelFileError, match="unsupported card format"):
        load_card(tiny_card)


def test_weights_that_do_not_fit_the_config_are_refused(tiny_card):
    data = json.loads(tiny_card.read_text())
    data["config"]["hidden"] = 16  # the saved tensors are for hidden = 8
    write_card(tiny_card, data)
    with pytest.raises(ModelFileError, match="weights do not match the card's config"):
        load_runtime(tiny_card, "torch")


def test_pickle_is_never_loaded(tiny_card):
    # A pickle swapped in for the weights (and re-hashed by an attacker) is still refused:
    # the loader only parses safetensors and so never executes pickled code.
    card = load_card(tiny_card)
    weights = card.file("weights")
    weights.write_bytes(pickle.dumps({"encoder.0.weight": torch.zeros(8, 4)}))
    write_card(tiny_card, card.data)
    with pytest.raises(ModelFileError, match="not a readable safetensors file"):
        load_runtime(tiny_card, "torch")


def test_unknown_model_kind_is_refused(tiny_card):
    data = json.loads(tiny_card.read_text())
    data["kind"] = "warp_drive"
    write_card(tiny_card, data)
    with pytest.raises(ModelFileError, match="unknown model kind 'warp_drive'"):
        load_runtime(tiny_card, "torch")


def test_atomic_write_keeps_the_old_file_when_the_writer_fails(tmp_path):
    target = tmp_path / "manifest.json"
    atomic_write_json(target, {"shards": 3})
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text('{"shards": 4')  # half-written, then the writer crashes
        raise RuntimeError("crash mid-write")
    assert json.loads(target.read_text()) == {"shards": 3}
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]  # no temp files left
