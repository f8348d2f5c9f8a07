"""Distances between point sets, shared by the models' metrics, the planners' critics and the simulators' checks.

Chamfer distance as the particle-dynamics literature defines it (e.g. Zhang et
al., RSS 2025): the mean nearest-neighbour distance from A to B plus that from B
to A, not squared, in the units of the points.
"""

from __future__ import annotations

import torch
from torch import Tensor


def chamfer(a: Tensor, b: Tensor) -> Tensor:  # [..., N, 3], [..., M, 3] (leading dims broadcast) -> [...]
    """Mean nearest-neighbour distance a -> b plus b -> a."""
    lead = torch.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    d = torch.cdist(a.expand(*lead, *a.shape[-2:]), b.expand(*lead, *b.shape[-2:]))  # [..., N, M]
    return d.amin(dim=-1).mean(dim=-1) + d.amin(dim=-2).mean(dim=-1)
