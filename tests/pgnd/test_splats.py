"""Gaussian splats: the CPU compositor by hand, gsplat against it on CUDA, skinning invariants, the PLY file."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dynamics_stack.camera import PinholeCamera
from dynamics_stack.config import ConfigError
from pgnd.splats import render_gsplat
from pgnd.splats.gaussians import Gaussians, load_ply, save_ply
from pgnd.splats.render import render_view
from pgnd.splats.render_torch import EPS2D
from pgnd.splats.skinning import bind, deform, quat_multiply, rotmat_to_quat

F = 100.0  # px


def down_camera(width=21, height=21) -> PinholeCamera:
    """Optical frame = world frame: looks along +z, pixel (10, 10) on the axis."""
    return PinholeCamera(
        name="c",
        width=width,
        height=height,
        fx=F,
        fy=F,
        cx=(width - 1) / 2,
        cy=(height - 1) / 2,
        T_world_camera=tuple(map(tuple, np.eye(4))),
    )


def gaussians(means, scales, opacities, colors) -> Gaussians:
    G = len(means)
    op = torch.tensor(opacities, dtype=torch.float64)
    return Gaussians(
        means=torch.tensor(means, dtype=torch.float64),
        quats=torch.tensor([[1.0, 0, 0, 0]] * G, dtype=torch.float64),
        log_scales=torch.log(torch.tensor(scales, dtype=torch.float64))[:, None].repeat(1, 3),
        colors=torch.tensor(colors, dtype=torch.float64),
        opacity_logits=torch.log(op / (1 - op)),
    )


def test_two_gaussians_composite_to_the_hand_computed_pixels():
    # red in front (z = 1, opacity 0.5), blue behind (z = 2, opacity 0.8), both on the optical axis
    s_front, s_back = 0.01, 0.02
    g = gaussians([[0, 0, 1.0], [0, 0, 2.0]], [s_front, s_back], [0.5, 0.8], [[1, 0, 0], [0, 0, 1]])
    out = render_view(g, down_camera(), backend="torch")
    rgb, alpha, depth = out["rgb"], out["alpha"], out["depth"]
    # centre pixel: Mahalanobis 0 -> alphas 0.5 and 0.8; blue is seen through (1 - 0.5)
    assert rgb[10, 10].tolist() == pytest.approx([0.5, 0.0, 0.5 * 0.8])
    assert float(alpha[10, 10]) == pytest.approx(0.9)
    assert float(depth[10, 10]) == pytest.approx((0.5 * 1 + 0.4 * 2) / 0.9)
    # one pixel to the right: 2-D variance (F s / z)^2 + EPS2D on the axis (no off-diagonal terms there)
    var_f, var_b = (F * s_front / 1.0) ** 2 + EPS2D, (F * s_back / 2.0) ** 2 + EPS2D
    a_f, a_b = 0.5 * math.exp(-0.5 / var_f), 0.8 * math.exp(-0.5 / var_b)
    assert rgb[10, 11].tolist() == pytest.approx([a_f, 0.0, (1 - a_f) * a_b], rel=1e-6)
    # order in the arrays does not matter: compositing follows depth
    flipped = Gaussians(*(t.flip(0) for t in g.tensors()))
    assert torch.allclose(render_view(flipped, down_camera(), backend="torch")["rgb"], rgb)
    # a background fills the rest
    bg = torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64)
    with_bg = render_view(g, down_camera(), background=bg, backend="torch")["rgb"]
    assert float(with_bg[10, 10, 1]) == pytest.approx(0.1) and with_bg[0, 0].tolist() == [0.0, 1.0, 0.0]


def test_opaque_front_gaussian_clamps_alpha_and_stops_compositing():
    # alpha clamps at 0.999; transmittance 0.001 still lets the second (alpha 0.5) through, leaving
    # 0.0005; the third (alpha 0.9) would take it to 5e-5 <= 1e-4 and is not drawn
    g = gaussians(
        [[0, 0, 1.0], [0, 0, 1.5], [0, 0, 2.0]],
        [0.01, 0.01, 0.01],
        [0.9999, 0.5, 0.9],
        [[1, 0, 0], [0, 1, 0], [0, 0, 1]],
    )
    rgb = render_view(g, down_camera(), backend="torch")["rgb"]
    assert rgb[10, 10].tolist() == pytest.approx([0.999, 0.001 * 0.5, 0.0])


def test_render_is_differentiable():
    g = gaussians([[0.001, 0, 1.0]], [0.01], [0.6], [[0.2, 0.5, 0.9]])
    means = g.means.clone().requires_grad_(True)
    out = render_view(g.with_pose(means, g.quats), down_camera(), backend="torch")
    out["rgb"][10, 12].sum().backward()
    assert means.grad is not None and means.grad[0, 0] > 0  # moving right brightens a pixel on the right


@pytest.mark.skipif(not render_gsplat.available(), reason="needs CUDA and gsplat")
def test_gsplat_and_torch_renderers_agree_on_cuda():
    gen = torch.Generator().manual_seed(0)
    G = 2000
    g = Gaussians(
        means=(torch.rand(G, 3, generator=gen) - 0.5) * torch.tensor([0.3, 0.3, 0.1]) + torch.tensor([0, 0, 1.0]),
        quats=torch.randn(G, 4, generator=gen),
        log_scales=torch.log(torch.rand(G, 3, generator=gen) * 0.01 + 0.001),
        colors=torch.rand(G, 3, generator=gen),
        opacity_logits=torch.randn(G, generator=gen),
    ).to("cuda")
    cam = down_camera(160, 120)
    a = render_view(g, cam, backend="gsplat")
    b = render_view(g, cam, backend="torch")
    # float32 on both; gsplat's __expf and tile order give ~1e-5 differences per pixel
    assert (a["rgb"] - b["rgb"]).abs().max() < 1e-3
    assert (a["alpha"] - b["alpha"]).abs().max() < 1e-3


def random_splats(G=300, seed=0) -> Gaussians:
    gen = torch.Generator().manual_seed(seed)
    return Gaussians(
        means=torch.rand(G, 3, generator=gen, dtype=torch.float64) * 0.2,
        quats=torch.randn(G, 4, generator=gen, dtype=torch.float64),
        log_scales=torch.randn(G, 3, generator=gen, dtype=torch.float64) - 5,
        colors=torch.rand(G, 3, generator=gen, dtype=torch.float64),
        opacity_logits=torch.randn(G, generator=gen, dtype=torch.float64),
    )


def test_skinning_with_identity_motion_changes_nothing():
    g = random_splats()
    bones = torch.rand(40, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 0.2
    moved = deform(g, bind(g, bones), bones.clone())
    assert torch.allclose(moved.means, g.means, atol=1e-12)
    assert torch.allclose(moved.unit_quats, g.unit_quats, atol=1e-9) or torch.allclose(
        moved.unit_quats, -g.unit_quats, atol=1e-9
    )
    assert moved.log_scales is g.log_scales and moved.colors is g.colors


def random_rotation(seed: int) -> torch.Tensor:
    q = torch.randn(4, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    q = q / q.norm()
    w, x, y, z = q
    return torch.tensor(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ],
        dtype=torch.float64,
    )


@pytest.mark.parametrize("flat", [False, True])
def test_skinning_with_a_rigid_motion_moves_every_gaussian_rigidly(flat):
    g = random_splats()
    bones = torch.rand(60, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(2)) * 0.2
    if flat:  # a sheet: the neighbours span a plane, the normal comes from the determinant fix
        bones[:, 2] = 0.0
    R, t = random_rotation(3), torch.tensor([0.05, -0.02, 0.1], dtype=torch.float64)
    moved = deform(g, bind(g, bones), bones @ R.T + t)
    # exact but for the identity regulariser of each Procrustes fit (relative 1e-6: sub-micron here)
    assert torch.allclose(moved.means, g.means @ R.T + t, atol=1e-6)
    expected = quat_multiply(rotmat_to_quat(R).expand(len(g), 4), g.unit_quats)
    dots = (moved.unit_quats * expected).sum(-1).abs()
    assert torch.allclose(dots, torch.ones_like(dots), atol=1e-8)


def test_rotation_quaternion_round_trip():
    for seed in range(20):
        R = random_rotation(seed)
        q = rotmat_to_quat(R)
        assert float(q[0]) >= 0
        from pgnd.splats.render_torch import quat_to_rotmat

        assert torch.allclose(quat_to_rotmat(q), R, atol=1e-12)


def test_ply_round_trip_and_layout(tmp_path):
    g = random_splats(50)
    g = Gaussians(*(t.float() for t in g.tensors()))
    path = save_ply(tmp_path / "splats.ply", g)
    header = path.read_bytes().split(b"end_header\n")[0].decode()
    assert "element vertex 50" in header and "property float f_rest_44" in header and "property float rot_3" in header
    back = load_ply(path)
    for a, b in zip(g.tensors(), back.tensors(), strict=True):
        assert torch.allclose(a, b, atol=1e-6)


def test_bad_ply_files_get_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_ply(tmp_path / "none.ply")
    (tmp_path / "a.ply").write_bytes(b"hello")
    with pytest.raises(ConfigError, match="not a PLY"):
        load_ply(tmp_path / "a.ply")
    good = save_ply(tmp_path / "g.ply", Gaussians(*(t.float() for t in random_splats(10).tensors())))
    (tmp_path / "t.ply").write_bytes(good.read_bytes()[:-100])
    with pytest.raises(ConfigError, match="truncated"):
        load_ply(tmp_path / "t.ply")
    (tmp_path / "m.ply").write_bytes(
        b"ply\nformat binary_little_endian 1.0\nelement vertex 1\nproperty float x\nend_header\n" + b"\0" * 4
    )
    with pytest.raises(ConfigError, match="missing"):
        load_ply(tmp_path / "m.ply")


def test_gaussians_refuse_mismatched_shapes():
    g = random_splats(5)
    with pytest.raises(ValueError, match="quats"):
        Gaussians(g.means, g.quats[:, :3], g.log_scales, g.colors, g.opacity_logits)
