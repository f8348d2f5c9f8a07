"""The PGND step: zero field, rigid grasp, boundaries, the particle-only variant, ONNX parity."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dynamics_stack.runtime import load_runtime, save_model
from pgnd.model import Pgnd, PgndCfg, build_from_config, config_dict, rotate

SMALL = PgndCfg(
    num_particles=48,
    encoder=(16, 16),
    global_dim=16,
    grid_channels=8,
    velocity_mlp=(16, 16),
    gripper_points=8,
    gripper_features=True,
    coarse_factor=5,
)


def _cloud(B: int = 2, seed: int = 0) -> torch.Tensor:  # [B, 3, N, 3] a still cloud on the table
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(B, 1, SMALL.num_particles, 3, generator=g) - 0.5) * torch.tensor([0.2, 0.2, 0.0])
    x[..., 2] = 0.005
    return x.expand(B, SMALL.history + 1, -1, -1).clone()


def _gripper(B: int, pos, vel=(0.0, 0.0, 0.0), wz: float = 0.0, closed: bool = False, radius: float = 0.02):
    g = torch.zeros(B, 15)
    g[:, 0:3] = torch.tensor(pos)
    g[:, 3:6] = torch.tensor(vel)
    g[:, 6] = 1.0
    g[:, 12] = wz
    g[:, 13] = radius
    g[:, 14] = 0.0 if closed else 1.0
    return g


def _randomize(model: Pgnd, seed: int = 1) -> Pgnd:
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.3)
    return model.eval()


def test_zero_grid_field_leaves_particles_in_place():
    model = Pgnd(SMALL).eval()  # the velocity head starts at zero: a zero grid field
    x = _cloud()
    out = model.step(x, _gripper(2, (0.3, 0.3, 0.3), vel=(0.1, 0.0, 0.0)))
    assert torch.allclose(out, x[:, -1], atol=1e-6)
    # also with a random network whose last layer is zeroed
    rnd = _randomize(Pgnd(SMALL))
    with torch.no_grad():
        rnd.velocity[-1].weight.zero_()
        rnd.velocity[-1].bias.zero_()
    assert torch.allclose(rnd.step(x, _gripper(2, (0.3, 0.3, 0.3))), x[:, -1], atol=1e-6)


@pytest.mark.parametrize("use_grid", [True, False])
def test_untrained_inertia_model_is_constant_velocity(use_grid):
    """With ``inertia`` the zero-initialised head leaves every particle on its last displacement."""
    cfg = PgndCfg(**{**config_dict(SMALL), "use_grid": use_grid, "inertia": True})
    model = Pgnd(cfg).eval()
    x = _cloud()
    g = torch.Generator().manual_seed(3)
    step = (torch.rand(2, 1, SMALL.num_particles, 3, generator=g) - 0.5) * 0.004  # up to 2 mm per frame
    step[..., 2] = step[..., 2].abs()  # upward, so the table does not stop anything
    x = x + torch.arange(SMALL.history + 1.0).view(1, -1, 1, 1) * step
    out = model.step(x, _gripper(2, (0.3, 0.3, 0.3)))  # open gripper far away
    assert torch.allclose(out, x[:, -1] + step[:, 0], atol=1e-6)
    # and with no motion in the history nothing moves, as without inertia
    still = _cloud()
    assert torch.allclose(model.step(still, _gripper(2, (0.3, 0.3, 0.3))), still[:, -1], atol=1e-6)


def test_closed_gripper_carries_grasped_particles_rigidly():
    model = _randomize(Pgnd(SMALL))
    x = _cloud(1)
    centre = x[0, -1, 0].tolist()
    centre[2] = 0.01
    vel, wz = (0.1, -0.05, 0.2), 0.5
    grip = _gripper(1, centre, vel, wz, closed=True, radius=0.03)
    out = model.step(x, grip)
    rel = x[0, -1] - torch.tensor(centre)
    held = rel.norm(dim=-1) < 0.03
    assert held.sum() >= 1
    # expected: translate by v dt, rotate the offset by wz dt about z
    a = wz * 0.1
    rot = torch.tensor([[math.cos(a), -math.sin(a), 0.0], [math.sin(a), math.cos(a), 0.0], [0.0, 0.0, 1.0]])
    expected = torch.tensor(centre) + torch.tensor(vel) * 0.1 + rel[held] @ rot.T
    assert torch.allclose(out[0, held], expected, atol=1e-5)
    # pairwise distances of the held particles are preserved (rigid motion)
    assert torch.allclose(
        torch.cdist(out[0, held], out[0, held]), torch.cdist(x[0, -1, held], x[0, -1, held]), atol=1e-5
    )
    # open: the same particles are no longer forced
    free = model.step(x, _gripper(1, centre, vel, wz, closed=False, radius=0.03))
    assert not torch.allclose(free[0, held], expected, atol=1e-4)


@pytest.mark.parametrize("grasp_nodes", [True, False])
def test_grasp_node_rule_reaches_only_as_far_as_configured(grasp_nodes):
    """The anchor's rule moves the nodes inside a closed gripper rigidly, and through the B-spline
    stencil also drags particles just outside it; with ``grasp_nodes=False`` only the held ones move."""
    model = Pgnd(PgndCfg(**{**config_dict(SMALL), "grasp_nodes": grasp_nodes})).eval()  # zero head
    x = _cloud(1)
    centre = x[0, -1, 0].tolist()
    centre[2] = 0.01
    out = model.step(x, _gripper(1, centre, (0.1, 0.0, 0.2), closed=True, radius=0.03))
    dist = (x[0, -1] - torch.tensor(centre)).norm(dim=-1)
    near = (dist >= 0.03) & (dist < 0.03 + 1.5 * SMALL.dx * SMALL.workspace)  # outside, within one stencil
    assert near.sum() >= 1
    moved = (out[0] - x[0, -1]).norm(dim=-1)
    assert (moved[dist < 0.03] > 0.01).all()  # held: carried 2.2 cm either way
    if grasp_nodes:
        assert moved[near].max() > 1e-3
    else:
        assert torch.allclose(out[0, dist >= 0.03], x[0, -1, dist >= 0.03], atol=1e-6)


@pytest.mark.parametrize("use_grid", [True, False])
def test_gripper_context_lets_far_particles_see_a_closed_gripper(use_grid):
    """Without per-particle gripper inputs a far particle cannot tell an open gripper from a closed one
    (no particle is held); with ``gripper_context`` the global feature carries the state to all of them."""
    base = {**config_dict(SMALL), "use_grid": use_grid, "gripper_features": False, "grasp_nodes": False}
    x = _cloud(1)
    x[:, :, :, :2] += torch.randn(1, 1, SMALL.num_particles, 2) * 0.003  # some motion history
    far = (0.3, 0.3, 0.05)  # nothing within the 2 cm radius
    for context in (False, True):
        model = _randomize(Pgnd(PgndCfg(**{**base, "gripper_context": context})))
        opened = model.step(x, _gripper(1, far, (0.1, 0.0, 0.0), closed=False))
        closed = model.step(x, _gripper(1, far, (0.1, 0.0, 0.0), closed=True))
        assert torch.isfinite(closed).all()
        if context:
            assert (closed - opened).norm(dim=-1).max() > 1e-4
        else:
            assert torch.allclose(closed, opened, atol=1e-7)


def test_rotate_by_hand():
    v = torch.tensor([[[1.0, 0.0, 0.0]]])
    out = rotate(v, torch.tensor([[0.0, 0.0, math.pi / 2]]))
    assert torch.allclose(out, torch.tensor([[[0.0, 1.0, 0.0]]]), atol=1e-6)
    assert torch.equal(rotate(v, torch.zeros(1, 3)), v)


@pytest.mark.parametrize("use_grid", [True, False])
def test_boundary_keeps_particles_inside(use_grid):
    cfg = PgndCfg(**{**config_dict(SMALL), "use_grid": use_grid})
    model = Pgnd(cfg).eval()
    with torch.no_grad():  # a network that pushes every particle hard down and sideways
        model.velocity[-1].bias.copy_(torch.tensor([-50.0, 50.0, -50.0]))
    x = _cloud(1)
    x[..., 0] += 0.3  # near the +x.. wall region too
    lo, hi = model.to_world(torch.zeros(3) + 3 * cfg.dx), model.to_world(torch.ones(3) - 3 * cfg.dx)
    for _ in range(5):
        nxt = model.step(x, _gripper(1, (0.0, 0.0, 0.3)))
        assert (nxt >= lo - 1e-6).all() and (nxt <= hi + 1e-6).all()
        assert (nxt[..., 2] >= -1e-6).all()  # never below the table top
        x = torch.cat((x[:, 1:], nxt[:, None]), dim=1)


def test_compact_grid_matches_dense_grid():
    model = _randomize(Pgnd(SMALL))
    x = _cloud(2)
    x[:, :, :, :2] += torch.randn(2, 1, SMALL.num_particles, 2) * 0.003  # some motion history
    grip = _gripper(2, (0.05, 0.0, 0.01), (0.1, 0.0, 0.0))
    dense = model.step(x, grip)
    model.compact_grid = True
    assert torch.allclose(model.step(x, grip), dense, atol=1e-6)


def test_onnx_step_matches_torch(tmp_path):
    model = _randomize(Pgnd(SMALL), seed=4)
    card = save_model(tmp_path / "pgnd_small", model, kind="pgnd", config=config_dict(SMALL))
    torch_rt = load_runtime(card.path, "torch")
    onnx_rt = load_runtime(card.path, "onnx")
    x = _cloud(3, seed=5)
    x = x + torch.randn_like(x) * 0.002
    grip = torch.cat(
        (_gripper(1, (0.0, 0.0, 0.01), (0.1, 0, 0), 0.3, True), _gripper(2, (0.05, 0.05, 0.02), (0, 0.1, 0)))
    )
    a = torch_rt.run("step", {"x_hist": x, "gripper": grip})["x_next"]
    b = onnx_rt.run("step", {"x_hist": x, "gripper": grip})["x_next"]
    # float32 graphs with different kernel orders: 1e-5 m is 1000x below the particle spacing
    np.testing.assert_allclose(a, b, atol=1e-5)
    assert build_from_config(card.config).cfg == SMALL


def test_onnx_step_with_gripper_context_matches_torch(tmp_path):
    cfg = PgndCfg(**{**config_dict(SMALL), "gripper_context": True})
    model = _randomize(Pgnd(cfg), seed=6)
    card = save_model(tmp_path / "pgnd_ctx", model, kind="pgnd", config=config_dict(cfg))
    x = _cloud(2, seed=7) + torch.randn(2, cfg.history + 1, cfg.num_particles, 3) * 0.002
    grip = torch.cat((_gripper(1, (0.0, 0.0, 0.01), (0.1, 0, 0), 0.3, True), _gripper(1, (0.1, 0.1, 0.02))))
    a = load_runtime(card.path, "torch").run("step", {"x_hist": x, "gripper": grip})["x_next"]
    b = load_runtime(card.path, "onnx").run("step", {"x_hist": x, "gripper": grip})["x_next"]
    np.testing.assert_allclose(a, b, atol=1e-5)
