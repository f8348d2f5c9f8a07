"""Image metrics by hand and against scikit-image's SSIM."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from pgnd.image_metrics import boundary_f, mask_iou, psnr, ssim


def test_psnr_by_hand():
    a = torch.zeros(4, 4, 3)
    b = a.clone()
    b[0, 0, 0] = 0.5  # one value off by 0.5 among 48: MSE = 0.25 / 48
    assert float(psnr(b, a)) == pytest.approx(10 * math.log10(48 / 0.25))


def test_ssim_matches_scikit_image():
    rng = np.random.default_rng(0)
    x = rng.random((40, 52, 3))
    y = np.clip(x + 0.1 * rng.standard_normal(x.shape), 0, 1)
    ref = structural_similarity(
        x, y, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0, channel_axis=-1
    )
    assert float(ssim(torch.from_numpy(y), torch.from_numpy(x))) == pytest.approx(ref, abs=1e-10)
    assert float(ssim(torch.from_numpy(x), torch.from_numpy(x))) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="at least 11"):
        ssim(torch.zeros(8, 8), torch.zeros(8, 8))


def test_iou_and_boundary_f_by_hand():
    a = np.zeros((50, 50), bool)
    b = np.zeros((50, 50), bool)
    a[10:20, 10:20] = True  # 100 px
    b[10:20, 15:25] = True  # 100 px, overlap 50
    assert mask_iou(a, b) == pytest.approx(50 / 150)
    assert mask_iou(a, a) == 1.0 and mask_iou(a & False, b & False) == 1.0
    assert boundary_f(a, a) == 1.0
    # tolerance ceil(0.008 * 70.7) = 1 px: a shift by 5 px keeps only the shared top/bottom edges
    f = boundary_f(a, b)
    assert 0.3 < f < 0.7
    shifted = np.roll(a, 1, axis=1)  # one pixel: within tolerance everywhere
    assert boundary_f(a, shifted) == 1.0
    assert boundary_f(a, np.zeros_like(a)) == 0.0
