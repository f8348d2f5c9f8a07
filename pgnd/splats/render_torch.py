"""Gaussian splat rendering in plain torch: what runs on a CPU, where gsplat has no complete path.

The projection and compositing rules are gsplat's (``gsplat.rasterization``,
classic mode, version 1.5), so the two renderers agree where both run:

- EWA projection of each 3-D covariance with the perspective Jacobian, the
  camera-space x/z and y/z clamped to 1.3x the field of view, plus
  ``EPS2D = 0.3`` px^2 on the 2-D covariance's diagonal (the low-pass filter);
  Gaussians closer than ``NEAR`` or with a degenerate 2-D covariance drop out;
- opacity-aware bounding box: ``extend = min(3.33, sqrt(2 ln(o / (1/255))))``
  standard deviations per axis (no pixel outside it can reach alpha 1/255);
- per pixel, front to back by depth of the Gaussian's centre:
  ``alpha = min(0.999, o exp(-q/2))`` where q is the Mahalanobis distance of
  the pixel centre; a pair with ``alpha < 1/255`` is skipped; compositing stops
  before the Gaussian that would take the transmittance to 1e-4 or below.

Pixel centres: this module and ``dynamics_stack.camera`` put pixel (u, v) at
integer coordinates (OpenCV); gsplat puts it at (u + 0.5, v + 0.5), so its
wrapper shifts cx, cy by half a pixel.

The compositor needs no tiles: every (Gaussian, pixel) pair in the boxes is
listed, pairs are generated in depth order and stably sorted by pixel, the
transmittance in front of each pair is an exclusive cumulative sum of
log(1 - alpha) within its pixel, and ``index_add`` accumulates colour, alpha
and depth. Everything is differentiable (the fit uses it).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

EPS2D = 0.3  # px^2 added to the projected covariance (gsplat default)
NEAR = 0.01  # m: Gaussians nearer the camera are not drawn (gsplat default near_plane)
ALPHA_MIN = 1.0 / 255.0  # pairs below this alpha are skipped (gsplat)
ALPHA_MAX = 0.999  # alpha is clamped here (gsplat)
T_MIN = 1e-4  # compositing stops before the transmittance falls to this (gsplat)
EXTENT_SIGMAS = 3.33  # largest box half-size in standard deviations (gsplat)
FOV_CLAMP = 1.3  # x/z, y/z clamped to this times the half field of view plus the principal-point offset (gsplat)


def quat_to_rotmat(q: Tensor) -> Tensor:  # [..., 4] (w, x, y, z), any norm -> [..., 3, 3]
    q = q / q.norm(dim=-1, keepdim=True).clamp(min=1e-12)
    w, x, y, z = q.unbind(-1)
    return torch.stack(
        (
            1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
            2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
            2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
        ),
        dim=-1,
    ).reshape(*q.shape[:-1], 3, 3)  # fmt: skip


def covariances(quats: Tensor, scales: Tensor) -> Tensor:  # [G, 4], [G, 3] -> [G, 3, 3]
    """Sigma = R S S^T R^T."""
    M = quat_to_rotmat(quats) * scales[:, None, :]
    return M @ M.transpose(-1, -2)


def project(
    means: Tensor, covs: Tensor, view: Tensor, K: Tensor, width: int, height: int
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Pixel centres [G, 2], 2-D covariances (with the low-pass term) [G, 2, 2], depths [G] and a validity
    mask [G] of Gaussians (world frame) seen by a camera with ``view`` [4, 4] (camera <- world) and ``K``."""
    R, t = view[:3, :3], view[:3, 3]
    p = means @ R.T + t  # [G, 3] in the optical frame
    cov_c = R @ covs @ R.T
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    z = p[:, 2]
    zs = torch.where(z.abs() > 1e-9, z, torch.full_like(z, 1e-9))
    # gsplat's clamp of the Jacobian's evaluation point (its cx is ours + 0.5)
    tan_x, tan_y = 0.5 * width / fx, 0.5 * height / fy
    lim_xp, lim_xn = (width - cx - 0.5) / fx + (FOV_CLAMP - 1) * tan_x, (cx + 0.5) / fx + (FOV_CLAMP - 1) * tan_x
    lim_yp, lim_yn = (height - cy - 0.5) / fy + (FOV_CLAMP - 1) * tan_y, (cy + 0.5) / fy + (FOV_CLAMP - 1) * tan_y
    tx = zs * torch.clamp(p[:, 0] / zs, min=-lim_xn, max=lim_xp)
    ty = zs * torch.clamp(p[:, 1] / zs, min=-lim_yn, max=lim_yp)
    zero = torch.zeros_like(z)
    J = torch.stack((fx / zs, zero, -fx * tx / zs**2, zero, fy / zs, -fy * ty / zs**2), dim=-1).reshape(-1, 2, 3)
    cov2d = J @ cov_c @ J.transpose(-1, -2) + EPS2D * torch.eye(2, dtype=means.dtype, device=means.device)
    uv = torch.stack((fx * p[:, 0] / zs + cx, fy * p[:, 1] / zs + cy), dim=-1)
    det = cov2d[:, 0, 0] * cov2d[:, 1, 1] - cov2d[:, 0, 1] * cov2d[:, 1, 0]
    valid = (z > NEAR) & (det > 0)
    return uv, cov2d, z, valid


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
    """Render G Gaussians with one camera. means [G, 3], quats [G, 4], scales [G, 3], opacities [G] in
    [0, 1], colors [G, D] -> rgb [H, W, D] (over ``background`` [D] if given), alpha [H, W] and
    expected depth [H, W] (0 where nothing is drawn)."""
    dev, dtype = means.device, means.dtype
    D = colors.shape[-1]
    covs = covariances(quats, scales)
    uv, cov2d, depth, valid = project(means, covs, view.to(dtype), K.to(dtype), width, height)
    det = (cov2d[:, 0, 0] * cov2d[:, 1, 1] - cov2d[:, 0, 1] * cov2d[:, 1, 0]).clamp(min=1e-12)
    conic = torch.stack((cov2d[:, 1, 1] / det, -cov2d[:, 0, 1] / det, cov2d[:, 0, 0] / det), dim=-1)  # a, b, c

    with torch.no_grad():
        op = opacities.detach()
        valid = valid & (op >= ALPHA_MIN)
        extend = torch.sqrt(2.0 * torch.log(op.clamp(min=ALPHA_MIN) / ALPHA_MIN)).clamp(max=EXTENT_SIGMAS)
        rx = torch.ceil(extend * cov2d[:, 0, 0].detach().sqrt())
        ry = torch.ceil(extend * cov2d[:, 1, 1].detach().sqrt())
        # box of pixel centres within the extent: gsplat's pixel (u, v) sits at u + 0.5 in its own frame
        c = uv.detach()
        x0 = torch.ceil(c[:, 0] - rx).clamp(min=0)
        x1 = torch.floor(c[:, 0] + rx).clamp(max=width - 1)
        y0 = torch.ceil(c[:, 1] - ry).clamp(min=0)
        y1 = torch.floor(c[:, 1] + ry).clamp(max=height - 1)
        wx = (x1 - x0 + 1).clamp(min=0)
        wy = (y1 - y0 + 1).clamp(min=0)
        count = torch.where(valid, wx * wy, torch.zeros_like(wx)).long()
        order = torch.argsort(depth.detach(), stable=True)  # front to back
        count_o = count[order]
        total = int(count_o.sum())
    out_rgb = torch.zeros(height * width, D, dtype=dtype, device=dev)
    out_a = torch.zeros(height * width, dtype=dtype, device=dev)
    out_z = torch.zeros(height * width, dtype=dtype, device=dev)
    colors = colors.to(dtype)
    if total > 0:
        with torch.no_grad():
            gid = torch.repeat_interleave(order, count_o)  # [M] Gaussian of each pair, in depth order
            starts = torch.cumsum(count_o, 0) - count_o
            local = torch.arange(total, device=dev) - torch.repeat_interleave(starts, count_o)
            wxg = wx[gid].long()
            px = x0[gid].long() + local % wxg
            py = y0[gid].long() + torch.div(local, wxg, rounding_mode="floor")
        # one gather of everything a pair needs (one index op forward, one scatter backward)
        packed = torch.cat((uv, conic, opacities[:, None], depth[:, None], colors), dim=-1)[gid]  # [M, 8 + D]
        dx = px.to(dtype) - packed[:, 0]
        dy = py.to(dtype) - packed[:, 1]
        sigma = 0.5 * (packed[:, 2] * dx * dx + packed[:, 4] * dy * dy) + packed[:, 3] * dx * dy
        alpha = torch.clamp(packed[:, 5] * torch.exp(-sigma), max=ALPHA_MAX)
        with torch.no_grad():
            pix = py * width + px
            skip = (sigma < 0) | (alpha < ALPHA_MIN)
            # skipped pairs sort last; a stable sort by pixel keeps the depth order within each pixel
            perm = torch.argsort(torch.where(skip, height * width, pix), stable=True)[: int((~skip).sum())]
            pix = pix[perm]
        alpha, rest = alpha[perm], packed[perm, 6:]  # [K], [K, 2 + D]: depth, colour
        log_t = torch.log1p(-alpha)  # [K]
        csum = torch.cumsum(log_t, 0)
        with torch.no_grad():
            first = torch.ones_like(pix, dtype=torch.bool)
            first[1:] = pix[1:] != pix[:-1]
            seg_start = torch.cummax(torch.where(first, torch.arange(len(pix), device=dev), torch.zeros_like(pix)), 0)[
                0
            ]
        base = torch.where(seg_start > 0, csum[(seg_start - 1).clamp(min=0)], torch.zeros_like(csum))
        log_trans = csum - log_t - base  # log transmittance in front of each pair
        with torch.no_grad():
            included = ((log_trans + log_t) > math.log(T_MIN)).to(dtype)  # stop before T would fall to T_MIN
        w = alpha * torch.exp(log_trans) * included
        acc = torch.cat((w[:, None] * rest[:, 1:], w[:, None], w[:, None] * rest[:, :1]), dim=-1)  # rgb, a, z
        acc = torch.zeros(height * width, D + 2, dtype=dtype, device=dev).index_add(0, pix, acc)
        out_rgb, out_a, out_z = acc[:, :D], acc[:, D], acc[:, D + 1]
    rgb = out_rgb.reshape(height, width, D)
    alpha_img = out_a.reshape(height, width)
    if background is not None:
        rgb = rgb + (1.0 - alpha_img)[..., None] * background.to(dtype)
    z_img = torch.where(
        alpha_img > 1e-6, out_z.reshape(height, width) / alpha_img.clamp(min=1e-6), torch.zeros_like(alpha_img)
    )
    return {"rgb": rgb, "alpha": alpha_img, "depth": z_img}
