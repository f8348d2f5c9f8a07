"""``HeightMap``: a 2.5D grid of ground heights with obstacle and pit masks, and its batched lookups.

``heights[i, j]`` is the ground height (m) of the cell centred at
``x = origin[0] + i * resolution``, ``y = origin[1] + j * resolution`` (first
index along x, second along y). Lookups outside the grid are clamped to the
border for physics and reported as missing (NaN) by the height scan.

The container only: the terrain generators (``sim.terrain``) build one, the
simulator steps robots on one, the route search (``sim.route``) and the
planner's node read one, so the robot side can use it without loading either.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor


@dataclass(frozen=True)
class HeightMap:
    """A 2.5D grid of ground heights with obstacle and pit masks; all lookups are batched torch ops."""

    heights: Tensor  # [H, W] float32 ground height (m), index [i along x, j along y]
    obstacle: Tensor  # [H, W] bool cells of boxes, pillars, walls
    pit: Tensor  # [H, W] bool cells of pits and gaps
    resolution: float  # cell edge (m)
    origin: tuple[float, float]  # (x, y) of the centre of cell [0, 0] (m)
    terrain_type: str = "flat"
    seed: int = 0

    @property
    def device(self) -> torch.device:
        return self.heights.device

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.heights.shape)  # type: ignore[return-value]

    @property
    def extent(self) -> tuple[float, float, float, float]:
        """(x_min, x_max, y_min, y_max) of the covered area (cell borders)."""
        r = self.resolution
        h, w = self.shape
        return (
            self.origin[0] - r / 2,
            self.origin[0] + (h - 0.5) * r,
            self.origin[1] - r / 2,
            self.origin[1] + (w - 0.5) * r,
        )

    def to(self, device: torch.device | str) -> HeightMap:
        return HeightMap(
            self.heights.to(device),
            self.obstacle.to(device),
            self.pit.to(device),
            self.resolution,
            self.origin,
            self.terrain_type,
            self.seed,
        )

    def inside(self, xy: Tensor) -> Tensor:  # xy [..., 2] -> [...] bool
        """Whether each point lies on the map."""
        x0, x1, y0, y1 = self.extent
        return (xy[..., 0] >= x0) & (xy[..., 0] < x1) & (xy[..., 1] >= y0) & (xy[..., 1] < y1)

    def cell_index(self, xy: Tensor) -> tuple[Tensor, Tensor]:  # xy [..., 2] -> ([...], [...]) long
        """Nearest cell (clamped to the border)."""
        h, w = self.shape
        i = torch.round((xy[..., 0] - self.origin[0]) / self.resolution).long().clamp_(0, h - 1)
        j = torch.round((xy[..., 1] - self.origin[1]) / self.resolution).long().clamp_(0, w - 1)
        return i, j

    def sample_nearest(self, xy: Tensor) -> Tensor:  # xy [..., 2] -> [...]
        """Height of the nearest cell; what the platform's feet and body see (edges stay sharp)."""
        i, j = self.cell_index(xy)
        return self.heights[i, j]

    def sample(self, xy: Tensor) -> Tensor:  # xy [..., 2] -> [...]
        """Bilinear height lookup (clamped to the border)."""
        h, w = self.shape
        u = ((xy[..., 0] - self.origin[0]) / self.resolution).clamp(0, h - 1)
        v = ((xy[..., 1] - self.origin[1]) / self.resolution).clamp(0, w - 1)
        i0 = u.floor().long().clamp_(max=h - 2) if h > 1 else u.floor().long()
        j0 = v.floor().long().clamp_(max=w - 2) if w > 1 else v.floor().long()
        i1, j1 = (i0 + 1).clamp_(max=h - 1), (j0 + 1).clamp_(max=w - 1)
        fu, fv = u - i0, v - j0
        hm = self.heights
        top = hm[i0, j0] * (1 - fv) + hm[i0, j1] * fv
        bot = hm[i1, j0] * (1 - fv) + hm[i1, j1] * fv
        return top * (1 - fu) + bot * fu

    def window(self, x: float, y: float, size: float) -> tuple[np.ndarray, tuple[float, float]]:
        """Heights [h, w] (numpy) of the ``size`` m square around (x, y), cut at the map's border, and its origin.

        ``size`` 0 gives the whole map. What an elevation-mapping node would publish around the robot.
        """
        heights = self.heights.cpu().numpy()
        r = self.resolution
        if size > 0:
            half = round(size / (2 * r))
            ci, cj = round((x - self.origin[0]) / r), round((y - self.origin[1]) / r)
            i0, i1 = max(0, ci - half), min(heights.shape[0], ci + half + 1)
            j0, j1 = max(0, cj - half), min(heights.shape[1], cj + half + 1)
        else:
            i0, i1, j0, j1 = 0, heights.shape[0], 0, heights.shape[1]
        return heights[i0:i1, j0:j1], (self.origin[0] + i0 * r, self.origin[1] + j0 * r)

    def unsafe(self, xy: Tensor) -> Tensor:  # xy [..., 2] -> [...] bool
        """True where the nearest cell is an obstacle or a pit, or the point is off the map."""
        i, j = self.cell_index(xy)
        return self.obstacle[i, j] | self.pit[i, j] | ~self.inside(xy)


def height_map_from_array(
    heights: np.ndarray | Tensor, resolution: float, origin: tuple[float, float], device: torch.device | str = "cpu"
) -> HeightMap:
    """Wrap a hand-built [H, W] height array (tests, imported maps); masks mark nothing."""
    hm = torch.as_tensor(np.asarray(heights, dtype=np.float32), device=device)
    return HeightMap(
        hm,
        torch.zeros_like(hm, dtype=torch.bool),
        torch.zeros_like(hm, dtype=torch.bool),
        resolution,
        origin,
        "custom",
        0,
    )
