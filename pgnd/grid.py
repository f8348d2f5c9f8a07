"""Particle <-> grid operations of PGND in plain torch with fixed shapes (CPU, CUDA and ONNX alike).

The grid is a dense cube of ``G^3`` nodes over the unit cube, node ``(i, j, k)``
at ``(i, j, k) * dx`` with ``dx = 1 / G``. Each particle talks to the 27 nodes
of its quadratic B-spline stencil (the MPM kernel the authors use, Zhang et al., RSS 2025; docs/references.md):

- ``stencil`` gives, for every particle, the flat indices of its 27 nodes and
  their weights; the weights sum to one and reproduce linear fields exactly;
- ``p2g_mean`` scatters per-particle features onto the dense grid (``scatter_add``
  into a ``[B, G^3, C+1]`` tensor, the extra channel summing the weights) and
  returns the weighted mean feature of each particle's 27 nodes;
- ``g2p`` interpolates node values back to the particles with the same weights.

Nothing depends on the data in the tensor shapes: the authors' Warp kernels
visit only active nodes; here inactive nodes simply hold zero weight, and
node values are evaluated only at the ``27 N`` stencil nodes, which gives the
same particle velocities as evaluating the whole grid.
"""

from __future__ import annotations

import torch
from torch import Tensor

# Offsets of the 27 stencil nodes, (i, j, k) in {0, 1, 2}^3, i slowest.
_OFFSETS = torch.stack(
    torch.meshgrid(torch.arange(3), torch.arange(3), torch.arange(3), indexing="ij"), dim=-1
).reshape(27, 3)


def bspline_weights(frac: Tensor) -> Tensor:  # [..., 3] in [0.5, 1.5) -> [..., 3 axes, 3 nodes]
    """Quadratic B-spline weights of nodes base, base+1, base+2 for a particle at ``base + frac`` (in cells)."""
    return torch.stack((0.5 * (1.5 - frac) ** 2, 0.75 - (frac - 1.0) ** 2, 0.5 * (frac - 0.5) ** 2), dim=-1)


def stencil(x: Tensor, grid: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:  # x [B, N, 3] in the unit cube
    """Flat node index [B, N, 27] (int64), weight [B, N, 27], node position [B, N, 27, 3] and the
    per-axis node positions [B, N, 3 axes, 3] (node (i, j, k) of the stencil sits at axes (i, j, k)).

    ``x`` must keep its stencil inside the grid (``x / dx`` in ``[0.5, G - 1.5)``); the model clamps
    particles to the workspace well inside that, and indices are clamped here as a last guard.
    """
    # in cells; kept where the 27-node stencil fits, so weights and nodes always agree (the model keeps
    # particles further inside; a coarse grid may see them near its last cell)
    xi = (x * grid).clamp(0.5, grid - 1.5 - 1e-4)
    base = torch.floor(xi - 0.5)
    w = bspline_weights(xi - base)  # [B, N, 3, 3]
    w27 = (w[..., 0, :, None, None] * w[..., 1, None, :, None] * w[..., 2, None, None, :]).flatten(-3)  # [B, N, 27]
    node = base[..., None, :] + _OFFSETS.to(x.device, x.dtype)  # [B, N, 27, 3]
    flat = ((node[..., 0] * grid + node[..., 1]) * grid + node[..., 2]).to(torch.int64)  # [B, N, 27]
    axes = base[..., None] + torch.arange(3, dtype=x.dtype, device=x.device)  # [B, N, 3, 3]
    return flat, w27, node / grid, axes / grid


def p2g_mean(
    feat: Tensor, flat: Tensor, w: Tensor, grid: int, compact: bool = False, eps: float = 1e-9
) -> tuple[Tensor, Tensor]:
    """Weighted mean of particle features at each particle's 27 stencil nodes.

    feat [B, N, C], flat/w [B, N, 27] -> node features [B, N, 27, C] and node weight sums [B, N, 27]
    (the mass a node gathered; zero weight = a particle that does not count, e.g. padding).

    ``compact=False`` scatters into the dense ``[B, G^3, C+1]`` grid (fixed shapes: what is exported
    to ONNX). ``compact=True`` gives the same numbers with a table of only the touched nodes
    (``torch.unique``, data-dependent size): a training-time shortcut, since filling and
    back-propagating through the dense grid costs B x G^3 x (C+1) memory traffic per step.
    """
    B, N, C = feat.shape
    src = torch.cat((feat[:, :, None, :] * w[..., None], w[..., None]), dim=-1)  # [B, N, 27, C+1]
    src = src.reshape(B, N * 27, C + 1)
    if compact:
        key = flat.reshape(B, N * 27) + torch.arange(B, device=flat.device)[:, None] * grid**3
        nodes, inverse = torch.unique(key.reshape(-1), return_inverse=True)
        table = torch.zeros(nodes.shape[0], C + 1, dtype=feat.dtype, device=feat.device)
        table = table.index_add(0, inverse, src.reshape(-1, C + 1))
        at = table[inverse].reshape(B, N, 27, C + 1)
    else:
        index = flat.reshape(B, N * 27, 1).expand(B, N * 27, C + 1)
        dense = torch.zeros(B, grid**3, C + 1, dtype=feat.dtype, device=feat.device)
        dense = dense.scatter_add_(1, index, src)  # [B, G^3, C+1]; in place: a fresh tensor, no copy
        at = torch.gather(dense, 1, index).reshape(B, N, 27, C + 1)
    mass = at[..., C]
    return at[..., :C] / mass[..., None].clamp(min=eps), mass  # a node without mass has zero sum: 0


def g2p(node_values: Tensor, w: Tensor) -> Tensor:  # [B, N, 27, D], [B, N, 27] -> [B, N, D]
    """Interpolate node values to the particles with their B-spline weights."""
    return (node_values * w[..., None]).sum(dim=2)


def boundary_mask_velocity(v: Tensor, node_pos: Tensor, grid: int, cells: int = 3) -> Tensor:
    """Remove the outward component of node velocities within ``cells`` of a grid face (anchor: 3 cells).

    v, node_pos [..., 3]; the floor of the grid is the table, so nothing is pushed below it.
    """
    lo = node_pos < (cells - 0.5) / grid  # node index < cells
    hi = node_pos > 1.0 - (cells + 0.5) / grid  # node index > G - 1 - cells
    v = torch.where(lo, v.clamp(min=0.0), v)
    return torch.where(hi, v.clamp(max=0.0), v)
