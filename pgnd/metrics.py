"""The particle metrics of PGND (Zhang et al., RSS 2025; docs/references.md), defined exactly as there (metres, lower is better).

- MDE: mean L2 distance between corresponding particles;
- Chamfer: sum of the two mean nearest-neighbour distances (not squared);
- EMD: mean distance after the optimal one-to-one matching (Hungarian, scipy).
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch import Tensor

from dynamics_stack import pointsets


def _check(pred: Tensor, true: Tensor) -> None:
    if pred.shape[-1] != 3 or true.shape[-1] != 3 or pred.shape[:-2] != true.shape[:-2]:
        raise ValueError(
            f"point clouds must be [..., N, 3] with matching leading shapes, got {tuple(pred.shape)}, {tuple(true.shape)}"
        )
    if pred.shape[-2] == 0 or true.shape[-2] == 0:
        raise ValueError("empty point cloud")


def mde(pred: Tensor, true: Tensor) -> Tensor:  # [..., N, 3] x2 -> [...]
    """Mean distance of corresponding particles."""
    _check(pred, true)
    if pred.shape != true.shape:
        raise ValueError(f"MDE needs corresponding particles, got {tuple(pred.shape)} and {tuple(true.shape)}")
    return (pred - true).norm(dim=-1).mean(dim=-1)


def chamfer(pred: Tensor, true: Tensor) -> Tensor:  # [..., N, 3], [..., M, 3] -> [...]
    """Mean nearest-neighbour distance pred -> true plus true -> pred."""
    _check(pred, true)
    return pointsets.chamfer(pred.double(), true.double()).to(pred.dtype)


def emd(pred: Tensor, true: Tensor) -> Tensor:  # [..., N, 3] x2 -> [...]
    """Mean distance after the optimal one-to-one matching (equal sizes)."""
    _check(pred, true)
    if pred.shape != true.shape:
        raise ValueError(f"EMD needs clouds of equal size, got {tuple(pred.shape)} and {tuple(true.shape)}")
    lead = pred.shape[:-2]
    d = torch.cdist(pred.double().reshape(-1, *pred.shape[-2:]), true.double().reshape(-1, *true.shape[-2:]))
    out = np.empty(d.shape[0])
    for i, cost in enumerate(d.cpu().numpy()):
        r, c = linear_sum_assignment(cost)
        out[i] = cost[r, c].mean()
    return torch.from_numpy(out).to(pred.dtype).reshape(lead)
