"""Gaussian splat rendering through ``gsplat.rasterization`` on CUDA (gsplat 1.5, Apache-2.0).

gsplat compiles its CUDA kernels on first use (about a minute) and has no CPU
path, so it is imported only here, only for CUDA tensors, and is not a
dependency of the package: ``pip install gsplat==1.5.3 packaging`` on a GPU
machine (``requirements-gpu.txt``). The camera's principal point is shifted
by half a pixel: gsplat samples pixel (u, v) at (u + 0.5, v + 0.5), this
project's cameras (OpenCV) at (u, v).
"""

from __future__ import annotations

import torch
from torch import Tensor

from pgnd.splats.render_torch import EPS2D, NEAR


def available() -> bool:
    """True when gsplat imports and a CUDA device exists."""
    if not torch.cuda.is_available():
        return False
    try:
        import gsplat  # noqa: F401
    except ImportError:
        return False
    return True


def render(
    means: Tensor,
    quats: Tensor,
    scales: Tensor,
    opacities: Tensor,
    colors: Tensor,
    view: Tensor,
    K: Tensor,
    width: int,
    height: int,
    background: Tensor | None = None,
) -> dict[str, Tensor]:
    """Same contract as ``pgnd.splats.render_torch.render``; every tensor on one CUDA device."""
    if not means.is_cuda:
        raise ValueError("gsplat renders CUDA tensors only; use pgnd.splats.render_torch on a CPU")
    from gsplat import rasterization

    Kg = K.clone().to(means.dtype)
    Kg[0, 2] += 0.5
    Kg[1, 2] += 0.5
    out, alphas, _ = rasterization(
        means,
        quats,
        scales,
        opacities,
        colors,
        view[None].to(means.dtype),
        Kg[None],
        width,
        height,
        near_plane=NEAR,
        eps2d=EPS2D,
        render_mode="RGB+ED",
        rasterize_mode="classic",
        backgrounds=None,
    )
    rgb, alpha = out[0, ..., :-1], alphas[0, ..., 0]
    depth = out[0, ..., -1]
    if background is not None:
        rgb = rgb + (1.0 - alpha)[..., None] * background.to(rgb.dtype)
    depth = torch.where(alpha > 1e-6, depth, torch.zeros_like(depth))
    return {"rgb": rgb, "alpha": alpha, "depth": depth}
