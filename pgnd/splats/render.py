"""Render a splat set with a calibrated camera: gsplat on CUDA tensors, the torch compositor elsewhere."""

from __future__ import annotations

import torch
from torch import Tensor

from dynamics_stack.camera import PinholeCamera
from pgnd.splats import render_gsplat, render_torch
from pgnd.splats.gaussians import Gaussians

BACKENDS = ("auto", "torch", "gsplat")


def render_view(
    g: Gaussians, camera: PinholeCamera, background: Tensor | None = None, backend: str = "auto"
) -> dict[str, Tensor]:
    """rgb [H, W, 3], alpha [H, W] and expected depth [H, W] of ``g`` seen by ``camera``.

    ``backend``: 'gsplat' (CUDA tensors only), 'torch' (any device) or 'auto' (gsplat when the
    tensors are on CUDA and gsplat imports, torch otherwise).
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    dev, dtype = g.means.device, g.means.dtype
    view = torch.as_tensor(camera.view, dtype=dtype, device=dev)
    K = torch.as_tensor(camera.K, dtype=dtype, device=dev)
    use_gsplat = backend == "gsplat" or (backend == "auto" and g.means.is_cuda and render_gsplat.available())
    fn = render_gsplat.render if use_gsplat else render_torch.render
    return fn(g.means, g.unit_quats, g.scales, g.opacities, g.colors, view, K, camera.width, camera.height, background)
