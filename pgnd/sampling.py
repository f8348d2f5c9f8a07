"""Farthest-point sampling: the anchor's choice of N particles from a cloud (simulator vertices or a fused RGB-D cloud)."""

from __future__ import annotations

import torch
from torch import Tensor


def farthest_point_indices(points: Tensor, k: int) -> Tensor:  # [N, 3] -> [k] int64
    """Farthest-point sampling, deterministic: starts at point 0, then always the point farthest from
    those chosen (the first of equals)."""
    n = points.shape[0]
    if not 1 <= k <= n:
        raise ValueError(f"cannot choose {k} of {n} points")
    chosen = torch.zeros(k, dtype=torch.int64)
    dist = torch.full((n,), float("inf"), dtype=points.dtype)
    for i in range(1, k):
        dist = torch.minimum(dist, (points - points[chosen[i - 1]]).norm(dim=-1))
        chosen[i] = torch.argmax(dist)
    return chosen
