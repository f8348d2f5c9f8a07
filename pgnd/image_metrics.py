"""Image metrics of predicted renders against camera frames, defined as in the literature.

- PSNR = 10 log10(1 / MSE) for images in [0, 1], MSE over every pixel and
  channel (the anchor's own code takes the difference of uint8 arrays, which
  wraps modulo 256, and multiplies by 3; this does not);
- SSIM (Wang et al., IEEE TIP 2004): Gaussian window sigma 1.5 truncated at
  3.5 sigma (11 px), C1 = (0.01)^2, C2 = (0.03)^2, population statistics,
  averaged over the pixels whose whole window lies inside the image and over
  channels: the same numbers as scikit-image's ``structural_similarity(...,
  gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
  data_range=1)`` (a test holds it). Differentiable: the splat fit uses it.
  (The anchor passes a mask to scikit-image's SSIM, which ignores it.)
- mask IoU: |A and B| / |A or B| of two boolean masks (1 when both are empty);
- boundary F (Perazzi et al., CVPR 2016, DAVIS): the masks' boundary pixels
  matched within ``ceil(0.008 x image diagonal)`` px; F = 2PR / (P + R).

LPIPS is left out: its backbone weights cannot be downloaded here.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from scipy.ndimage import binary_erosion, distance_transform_edt
from torch import Tensor

SSIM_SIGMA = 1.5
SSIM_TRUNCATE = 3.5  # radius int(3.5 * 1.5 + 0.5) = 5 px: an 11 px window, as scikit-image and Wang et al.
C1, C2 = 0.01**2, 0.03**2
BOUNDARY_TOLERANCE = 0.008  # of the image diagonal (DAVIS)


def psnr(pred: Tensor, true: Tensor) -> Tensor:  # [..., H, W, C] in [0, 1] -> [...]
    mse = ((pred.double() - true.double()) ** 2).flatten(-3).mean(-1)
    return 10.0 * torch.log10(1.0 / mse.clamp(min=1e-12))


def _gauss_kernel(dtype: torch.dtype, device: torch.device) -> Tensor:  # [11] normalised 1-D Gaussian
    r = int(SSIM_TRUNCATE * SSIM_SIGMA + 0.5)
    x = torch.arange(-r, r + 1, dtype=dtype, device=device)
    g = torch.exp(-0.5 * (x / SSIM_SIGMA) ** 2)
    return g / g.sum()


def _blur(x: Tensor, g: Tensor) -> Tensor:  # [C, 1, H, W] -> [C, 1, H - 10, W - 10] ('valid')
    """The 2-D Gaussian window as two 1-D passes (its kernel is their outer product): 5x fewer operations."""
    return F.conv2d(F.conv2d(x, g[None, None, :, None]), g[None, None, None, :])


def ssim(pred: Tensor, true: Tensor) -> Tensor:  # [H, W, C] (or [H, W]) in [0, 1] -> scalar
    """Mean SSIM over valid window positions and channels."""
    if pred.shape != true.shape:
        raise ValueError(f"SSIM needs images of one shape, got {tuple(pred.shape)} and {tuple(true.shape)}")
    if pred.dim() == 2:
        pred, true = pred[..., None], true[..., None]
    x = pred.permute(2, 0, 1)[:, None]  # [C, 1, H, W]
    y = true.permute(2, 0, 1)[:, None]
    g = _gauss_kernel(x.dtype, x.device)
    if min(x.shape[-2:]) < len(g):
        raise ValueError(f"SSIM needs images of at least {len(g)} px per side, got {tuple(pred.shape[:2])}")
    mu_x, mu_y = _blur(x, g), _blur(y, g)
    sxx = _blur(x * x, g) - mu_x**2
    syy = _blur(y * y, g) - mu_y**2
    sxy = _blur(x * y, g) - mu_x * mu_y
    s = ((2 * mu_x * mu_y + C1) * (2 * sxy + C2)) / ((mu_x**2 + mu_y**2 + C1) * (sxx + syy + C2))
    return s.mean()


def mask_iou(pred: np.ndarray, true: np.ndarray) -> float:
    union = np.logical_or(pred, true).sum()
    return 1.0 if union == 0 else float(np.logical_and(pred, true).sum() / union)


def _boundary(mask: np.ndarray) -> np.ndarray:
    return mask & ~binary_erosion(mask, structure=np.ones((3, 3)), border_value=0)


def boundary_f(pred: np.ndarray, true: np.ndarray) -> float:
    """DAVIS boundary F-measure of two boolean masks [H, W] (1 when both are empty)."""
    tol = math.ceil(BOUNDARY_TOLERANCE * math.hypot(*pred.shape))
    bp, bt = _boundary(pred.astype(bool)), _boundary(true.astype(bool))
    if not bp.any() and not bt.any():
        return 1.0
    if not bp.any() or not bt.any():
        return 0.0
    near_t = distance_transform_edt(~bt) <= tol  # pixels within tol of the true boundary
    near_p = distance_transform_edt(~bp) <= tol
    precision = float((bp & near_t).sum() / bp.sum())
    recall = float((bt & near_p).sum() / bt.sum())
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
