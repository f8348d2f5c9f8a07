"""One splat set fitted to one multi-camera RGB-D frame (the anchor fits one per episode, on its first frame).

Initialisation as the anchor's: the object's pixels of every camera are
back-projected onto its surface, averaged per voxel with their colours, and
subsampled to at most ``gaussians`` points; each becomes an isotropic
Gaussian (scale = mean distance to its 3 nearest points), identity rotation,
opacity ``init_opacity``, the pixels' colour.

Optimisation (Adam), one random camera per iteration as the anchor does:
``0.8 L1 + 0.2 (1 - SSIM)`` between the render over black and the camera's
image with everything but the object blacked out, plus ``mask_weight`` x the
same loss between the render's alpha and the object mask. Pixels where the
gripper covers the scene count for neither (the splats model the object
only). No densification or pruning: the fused cloud already covers what the
cameras see, and a few hundred CPU iterations leave no time for it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from scipy.spatial import cKDTree
from tqdm import tqdm

from dynamics_stack.camera import PinholeCamera
from pgnd.image_metrics import ssim
from pgnd.perception.config import PerceptionCfg
from pgnd.perception.fusion import EmptyObservation, backproject_all, voxel_mean
from pgnd.splats.gaussians import Gaussians
from pgnd.splats.render import render_view

LOSS_MARGIN = 12  # px around the object's box where stray splats are still penalised


@dataclass(frozen=True, kw_only=True)
class SplatFitCfg:
    """Initialisation and optimisation of one splat set."""

    gaussians: int = 8000
    """At most this many Gaussians (the voxel-averaged surface points are subsampled to it)."""
    voxel: float = 0.002
    """Voxel edge (m) for averaging the back-projected surface points and colours."""
    iterations: int = 100
    """Adam steps, one random camera each (anchor: 10k on a GPU). Measured on a held-out cloth frame,
    4 cameras, 8000 Gaussians: PSNR 28.5 dB before fitting, 33.1 after 50, 35.2 after 100, 37.2 after
    200 steps at ~0.4 s each on one CPU thread."""
    init_opacity: float = 0.5
    """Initial opacity of every Gaussian (anchor)."""
    lr_means: float = 2e-4
    """Adam step for positions (m)."""
    lr_scales: float = 0.02
    """Adam step for log-scales."""
    lr_quats: float = 0.01
    """Adam step for quaternions."""
    lr_colors: float = 0.01
    """Adam step for colours."""
    lr_opacity: float = 0.05
    """Adam step for opacity logits."""
    ssim_weight: float = 0.2
    """Weight of (1 - SSIM) against L1 (anchor: 0.2, L1 0.8)."""
    mask_weight: float = 3.0
    """Weight of the mask term (anchor: 3)."""
    max_scale: float = 0.01
    """Largest Gaussian standard deviation (m); larger ones are clamped after each step."""
    seed: int = 0
    """Seed of the subsampling and the camera order."""

    def __post_init__(self) -> None:
        if self.gaussians < 1 or self.iterations < 0 or self.voxel <= 0 or self.max_scale <= 0:
            raise ValueError("gaussians >= 1, iterations >= 0, voxel > 0 and max_scale > 0 required")
        if not 0.0 < self.init_opacity < 1.0 or not 0.0 <= self.ssim_weight <= 1.0 or self.mask_weight < 0:
            raise ValueError("init_opacity in (0, 1), ssim_weight in [0, 1] and mask_weight >= 0 required")


def initial_gaussians(
    rgb: np.ndarray, depth: np.ndarray, masks: np.ndarray, cameras: Sequence[PinholeCamera], cfg: SplatFitCfg
) -> Gaussians:
    """Gaussians on the object's surface points seen by the cameras (rgb uint8 [C, H, W, 3], ...)."""
    surface = PerceptionCfg(surface_offset=0.0, erode=1)
    pts, cols = [], []
    for c, (p, flat) in enumerate(backproject_all(depth, masks, cameras, surface)):
        pts.append(p)
        cols.append(rgb[c].reshape(-1, 3)[flat].astype(np.float64) / 255.0)
    both = voxel_mean(np.concatenate(pts), cfg.voxel, np.concatenate(cols))
    mean_p, mean_c = both[:, :3], both[:, 3:]
    if len(mean_p) < 4:
        raise EmptyObservation(f"the cameras see {len(mean_p)} surface voxels of the object: too few to fit splats")
    if len(mean_p) > cfg.gaussians:
        keep = np.random.default_rng(cfg.seed).choice(len(mean_p), cfg.gaussians, replace=False)
        mean_p, mean_c = mean_p[keep], mean_c[keep]
    dist, _ = cKDTree(mean_p).query(mean_p, k=4)
    scale = np.clip(dist[:, 1:].mean(axis=1), 1e-4, cfg.max_scale)
    G = len(mean_p)
    return Gaussians(
        means=torch.tensor(mean_p, dtype=torch.float32),
        quats=torch.tensor([[1.0, 0.0, 0.0, 0.0]]).repeat(G, 1),
        log_scales=torch.log(torch.tensor(scale, dtype=torch.float32))[:, None].repeat(1, 3),
        colors=torch.tensor(np.clip(mean_c, 0.0, 1.0), dtype=torch.float32),
        opacity_logits=torch.full((G,), math.log(cfg.init_opacity / (1 - cfg.init_opacity))),
    )


def object_box(mask: np.ndarray, margin: int) -> tuple[slice, slice]:
    """Rows and columns of the mask's bounding box grown by ``margin`` px (at least SSIM's window)."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    H, W = mask.shape
    if len(rows) == 0:
        return slice(0, H), slice(0, W)
    r0, r1 = max(0, rows[0] - margin), min(H, rows[-1] + 1 + margin)
    c0, c1 = max(0, cols[0] - margin), min(W, cols[-1] + 1 + margin)
    if r1 - r0 < 2 * margin:
        r0, r1 = max(0, min(r0, H - 2 * margin)), min(H, max(r1, 2 * margin))
    if c1 - c0 < 2 * margin:
        c0, c1 = max(0, min(c0, W - 2 * margin)), min(W, max(c1, 2 * margin))
    return slice(r0, r1), slice(c0, c1)


def photometric_loss(pred: torch.Tensor, true: torch.Tensor, ssim_weight: float) -> torch.Tensor:
    """(1 - w) L1 + w (1 - SSIM) of two images in [0, 1] ([H, W, C] or [H, W])."""
    return (1 - ssim_weight) * (pred - true).abs().mean() + ssim_weight * (1 - ssim(pred, true))


def fit_splats(
    rgb: np.ndarray,
    depth: np.ndarray,
    masks: np.ndarray,
    cameras: Sequence[PinholeCamera],
    cfg: SplatFitCfg | None = None,
    occluders: np.ndarray | None = None,
    progress: bool = False,
) -> tuple[Gaussians, dict[str, float]]:
    """Fit splats to one frame: rgb uint8 [C, H, W, 3], depth [C, H, W] (m), masks bool [C, H, W] (the
    object), ``occluders`` bool [C, H, W] (e.g. the gripper: ignored). Returns the splats and a summary."""
    cfg = cfg or SplatFitCfg()
    g = initial_gaussians(rgb, depth, masks, cameras, cfg)
    params = [t.clone().requires_grad_(True) for t in g.tensors()]
    lrs = (cfg.lr_means, cfg.lr_quats, cfg.lr_scales, cfg.lr_colors, cfg.lr_opacity)
    opt = torch.optim.Adam([{"params": [p], "lr": lr} for p, lr in zip(params, lrs, strict=True)], eps=1e-15)
    keep = ~occluders if occluders is not None else np.ones_like(masks)
    # the loss looks at the object's box plus a margin only: everything else is black in both images,
    # and SSIM's gradient over the whole frame would cost most of an iteration
    boxes = [object_box(masks[c], LOSS_MARGIN) for c in range(len(cameras))]
    targets = [
        torch.from_numpy(rgb[c] * (masks[c] & keep[c])[..., None] / 255.0).float()[b] for c, b in enumerate(boxes)
    ]
    mask_t = [torch.from_numpy((masks[c] & keep[c]).astype(np.float32))[b] for c, b in enumerate(boxes)]
    keep_t = [torch.from_numpy(keep[c].astype(np.float32))[b] for c, b in enumerate(boxes)]
    rng = np.random.default_rng(cfg.seed)
    log_max = math.log(cfg.max_scale)
    losses = []
    for _ in tqdm(range(cfg.iterations), desc="fit splats", unit="it", disable=not progress, leave=False):
        c = int(rng.integers(len(cameras)))
        out = render_view(Gaussians(*params), cameras[c])
        k, box = keep_t[c], boxes[c]
        loss = photometric_loss(out["rgb"][box] * k[..., None], targets[c], cfg.ssim_weight)
        loss = loss + cfg.mask_weight * photometric_loss(out["alpha"][box] * k, mask_t[c], cfg.ssim_weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            params[2].clamp_(max=log_max)
            params[3].clamp_(0.0, 1.0)
        losses.append(float(loss.detach()))
    fitted = Gaussians(*(p.detach() for p in params))
    summary = {"gaussians": len(fitted), "iterations": cfg.iterations}
    if losses:
        summary.update({"loss_first": losses[0], "loss_last": float(np.mean(losses[-10:]))})
    return fitted, summary
