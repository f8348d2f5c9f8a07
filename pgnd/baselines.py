"""Baselines evaluated like PGND: constant-velocity extrapolation (no learning) and "rest" (nothing moves).

The learned particle-only baseline is ``pgnd.model.Pgnd`` with ``use_grid=False``
(same encoder, gripper and boundary handling, no grid), trained by the same command.
"""

from __future__ import annotations

import torch
from torch import Tensor


def constant_velocity(x_hist: Tensor, steps: int) -> Tensor:  # [B, H+1, N, 3] -> [B, S, N, 3]
    """Every particle keeps its last displacement per step."""
    v = x_hist[:, -1] - x_hist[:, -2]  # [B, N, 3]
    k = torch.arange(1, steps + 1, dtype=x_hist.dtype, device=x_hist.device).view(1, steps, 1, 1)
    return x_hist[:, -1:] + k * v[:, None]


def rest(x_hist: Tensor, steps: int) -> Tensor:  # [B, H+1, N, 3] -> [B, S, N, 3]
    """Nothing moves (the trivial lower bound a model must beat)."""
    return x_hist[:, -1:].expand(-1, steps, -1, -1).clone()
