"""The FDM: SE(2) integration, the encode/rollout split, the loss, metrics and ONNX parity."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dynamics_stack.runtime import load_runtime, save_model
from fdm_nav.loss import FdmLossCfg, fdm_loss
from fdm_nav.metrics import auroc, constant_velocity_poses, failure_metrics
from fdm_nav.model import Fdm, FdmCfg, build_from_config, config_dict
from fdm_nav.se2 import integrate_body_velocities, twist_displacement

SMALL = FdmCfg(cnn_channels=(4, 8, 8, 16), scan_features=32, proprio_hidden=16, rollout_hidden=24, action_features=8)


def _inputs(B: int, cfg: FdmCfg = SMALL, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return (
        torch.randn(B, cfg.history, cfg.proprio_dim, generator=g),
        torch.randn(B, cfg.history, cfg.state_dim, generator=g),
        torch.rand(B, *cfg.scan_shape, generator=g) - 0.3,
        torch.randn(B, cfg.horizon, 3, generator=g) * 0.5,
    )


def test_se2_straight_line_and_quarter_turns_by_hand():
    # 1 m/s straight for 3 steps of 0.5 s: x = 0.5, 1.0, 1.5.
    straight = integrate_body_velocities(torch.tensor([[[1.0, 0.0, 0.0]] * 3]), 0.5)
    assert torch.allclose(straight[0, :, 0], torch.tensor([0.5, 1.0, 1.5]))
    assert torch.allclose(straight[0, :, 1:], torch.zeros(3, 2))
    # vx = 1 m/s, wz = pi rad/s: a circle of radius r = 1/pi; each 0.5 s step turns 90 degrees.
    # After one step (x, y) = (r, r) = (0.318310, 0.318310); after two, (0, 2r) = (0, 0.636620).
    turn = integrate_body_velocities(torch.tensor([[[1.0, 0.0, math.pi]] * 2]), 0.5)
    assert torch.allclose(turn[0, 0], torch.tensor([0.318310, 0.318310, math.pi / 2]), atol=1e-5)
    assert torch.allclose(turn[0, 1], torch.tensor([0.0, 0.636620, math.pi]), atol=1e-5)
    # Sideways 0.4 m/s while facing +90 degrees moves along -x.
    side = integrate_body_velocities(torch.tensor([[[0.0, 0.0, math.pi], [0.0, 0.4, 0.0]]]), 0.5)
    assert torch.allclose(side[0, 1, :2], torch.tensor([-0.2, 0.0]), atol=1e-6)


def test_twist_series_branch_is_continuous_near_zero_rate():
    near = twist_displacement(torch.tensor([[1.0, 0.3, 1e-5], [1.0, 0.3, 2e-4]]), 0.5)
    assert torch.allclose(near[0, :2], near[1, :2], atol=1e-4)


def test_shapes_and_determinism():
    torch.manual_seed(3)
    a = Fdm(SMALL).eval()
    torch.manual_seed(3)
    b = Fdm(SMALL).eval()
    proprio, state, scan, commands = _inputs(5)
    pa, la = a(proprio, state, scan, commands)
    pb, lb = b(proprio, state, scan, commands)
    assert pa.shape == (5, 10, 3) and la.shape == (5, 10)
    assert torch.equal(pa, pb) and torch.equal(la, lb)


def test_split_equals_monolithic_forward_for_windows_and_for_planning():
    model = Fdm(SMALL).eval()
    proprio, state, scan, commands = _inputs(6)
    with torch.no_grad():
        poses, logits = model(proprio, state, scan, commands)
        context = model.encode_context(proprio, state, scan)
        p2, l2 = model.rollout_logits(context, commands)
        # Planning: one context, K = 6 candidate sequences, against 6 copies of the window.
        ctx1 = model.encode_context(proprio[:1], state[:1], scan[:1])
        p3, f3 = model.rollout(ctx1, commands)
        p4, l4 = model(proprio[:1].expand(6, -1, -1), state[:1].expand(6, -1, -1), scan[:1].expand(6, -1, -1), commands)
    assert torch.allclose(poses, p2, atol=1e-5) and torch.allclose(logits, l2, atol=1e-5)
    assert torch.allclose(p3, p4, atol=1e-5) and torch.allclose(f3, torch.sigmoid(l4), atol=1e-6)


def test_nan_in_scan_or_history_never_reaches_the_output():
    model = Fdm(SMALL).eval()
    proprio, state, scan, commands = _inputs(2)
    scan[0, 10:20, 5:9] = float("nan")
    proprio[1, 3, 2] = float("inf")
    with torch.no_grad():
        poses, logits = model(proprio, state, scan, commands)
    assert torch.isfinite(poses).all() and torch.isfinite(logits).all()


def test_ablation_has_no_scan_encoder_and_ignores_the_scan():
    model = Fdm(FdmCfg(use_height_scan=False, proprio_hidden=16, rollout_hidden=24)).eval()
    assert model.scan_encoder is None
    proprio, state, scan, commands = _inputs(2)
    with torch.no_grad():
        a = model(proprio, state, scan, commands)[0]
        b = model(proprio, state, torch.zeros_like(scan), commands)[0]
    assert torch.equal(a, b)


def test_loss_is_zero_gradient_on_a_perfect_prediction():
    target = integrate_body_velocities(torch.randn(4, 10, 3) * 0.5, 0.5)
    failure = torch.zeros(4, 10)
    failure[1, 6:] = 1.0
    target[1, 7:] = target[1, 6]  # the true robot stops at its failure
    poses = target.clone().requires_grad_(True)
    logits = (failure * 2 - 1).mul(40.0).requires_grad_(True)  # sigmoid saturates at the labels
    terms = fdm_loss(poses, logits, target, failure, FdmLossCfg())
    terms["total"].backward()
    assert terms["total"].item() < 1e-12
    assert poses.grad.abs().max().item() == 0.0
    assert logits.grad.abs().max().item() < 1e-15


def test_stop_loss_by_hand():
    # Failure from step 1: step 2 should sit where step 1 is. Predicted x: 0, 1, 3 -> (3 - 1)^2 = 4.
    poses = torch.tensor([[[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [3.0, 0.0, 0.0]]])
    failure = torch.tensor([[0.0, 1.0, 1.0]])
    assert fdm_loss(poses, torch.zeros(1, 3), poses, failure, FdmLossCfg())["stop"].item() == pytest.approx(4.0)


def test_auroc_precision_recall_by_hand():
    scores = np.array([0.1, 0.4, 0.35, 0.8])
    labels = np.array([0, 0, 1, 1])
    # positive/negative pairs ranked correctly: (0.35>0.1), (0.8>0.1), (0.8>0.4) = 3 of 4.
    assert auroc(scores, labels) == pytest.approx(0.75)
    assert auroc(np.array([0.5, 0.5]), np.array([0, 1])) == pytest.approx(0.5)  # a tie counts half
    m = failure_metrics(scores, labels, threshold=0.3)
    assert m["precision"] == pytest.approx(2 / 3) and m["recall"] == pytest.approx(1.0)


def test_constant_velocity_baseline_is_perfect_tracking():
    commands = torch.tensor([[[1.0, 0.0, 0.0]] * 10])
    assert constant_velocity_poses(commands, 0.5)[0, -1, 0].item() == pytest.approx(5.0)


def test_config_round_trip_and_validation():
    assert build_from_config(config_dict(SMALL)).cfg == SMALL
    with pytest.raises(ValueError, match="same non-zero length"):
        FdmCfg(cnn_channels=(8, 16))


# ONNX Runtime's float32 GRU/conv kernels sum in another order than torch's, and the
# 10 recurrent steps and SE(2) cumulative sums compound that; 1e-4 m on poses and 1e-5
# on probabilities is far below anything a planner can see and far above float noise.
POSE_ATOL, PROB_ATOL = 1e-4, 1e-5


@pytest.mark.parametrize("K", [1, 256, 2048])
def test_onnx_runtime_matches_torch(tmp_path, K):
    torch.manual_seed(0)
    model = Fdm(SMALL).eval()
    card = save_model(tmp_path / "fdm_small", model, kind="fdm", config=config_dict(SMALL))
    torch_rt, onnx_rt = load_runtime(card.path, "torch"), load_runtime(card.path, "onnx")
    proprio, state, scan, _ = _inputs(1, seed=K)
    commands = torch.randn(K, 10, 3, generator=torch.Generator().manual_seed(K)) * 0.6
    feeds = {"proprio": proprio, "state": state, "height_scan": scan}
    ctx_t = torch_rt.run("encode_context", feeds)["context"]
    ctx_o = onnx_rt.run("encode_context", feeds)["context"]
    np.testing.assert_allclose(ctx_o, ctx_t, atol=1e-5)
    out_t = torch_rt.run("rollout", {"context": ctx_t, "commands": commands})
    out_o = onnx_rt.run("rollout", {"context": ctx_t, "commands": commands})
    assert out_o["poses"].shape == (K, 10, 3) and out_o["failure_prob"].shape == (K, 10)
    np.testing.assert_allclose(out_o["poses"], out_t["poses"], atol=POSE_ATOL)
    np.testing.assert_allclose(out_o["failure_prob"], out_t["failure_prob"], atol=PROB_ATOL)


def test_onnx_encoder_handles_a_batch_of_windows(tmp_path):
    model = Fdm(SMALL).eval()
    card = save_model(tmp_path / "fdm_small", model, kind="fdm", config=config_dict(SMALL))
    onnx_rt = load_runtime(card.path, "onnx")
    proprio, state, scan, commands = _inputs(7)
    (ctx,) = onnx_rt.run_torch("encode_context", proprio, state, scan)
    poses, prob = onnx_rt.run_torch("rollout", ctx, commands)
    with torch.no_grad():
        ref_poses, ref_logits = model(proprio, state, scan, commands)
    assert torch.allclose(poses, ref_poses, atol=POSE_ATOL)
    assert torch.allclose(prob, torch.sigmoid(ref_logits), atol=PROB_ATOL)


def test_onnx_runs_a_graph_whose_exporter_pruned_an_unused_input(tmp_path):
    # The proprio-only ablation never reads the scan: ONNX drops that input, the runtime still
    # accepts the card's full input contract and feeds the session what it declares.
    cfg = FdmCfg(use_height_scan=False, proprio_hidden=16, rollout_hidden=24)
    model = Fdm(cfg).eval()
    card = save_model(tmp_path / "fdm_proprio", model, kind="fdm", config=config_dict(cfg))
    proprio, state, scan, _ = _inputs(2, cfg)
    feeds = {"proprio": proprio, "state": state, "height_scan": scan}
    np.testing.assert_allclose(
        load_runtime(card.path, "onnx").run("encode_context", feeds)["context"],
        load_runtime(card.path, "torch").run("encode_context", feeds)["context"],
        atol=1e-5,
    )
