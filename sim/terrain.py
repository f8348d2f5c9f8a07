"""Height maps: the terrain configuration, the ``HeightMap`` container and ``build_terrain``.

A ``HeightMap`` is a 2.5D grid: ``heights[i, j]`` is the ground height (m) of the
cell centred at ``x = origin[0] + i * resolution``, ``y = origin[1] + j * resolution``
(first index along x, second along y). Lookups outside the grid are clamped to
the border for physics and reported as missing (NaN) by the height scan.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from dynamics_stack.config import ConfigError, cfg_from_dict
from sim.terrain_gen import GENERATORS

TERRAIN_TYPES: tuple[str, ...] = tuple(GENERATORS)
"""Terrain type names; a type's integer id in datasets is its index here."""
TERRAIN_IDS: dict[str, int] = {name: i for i, name in enumerate(TERRAIN_TYPES)}


@dataclass(frozen=True, kw_only=True)
class TerrainCfg:
    """One terrain: type, extent, resolution, seed and type-specific parameters (see ``sim.terrain_gen``)."""

    type: str
    """Terrain type, one of TERRAIN_TYPES."""
    size: tuple[float, float] = (20.0, 20.0)
    """Map extent (Lx, Ly) in metres, centred on the origin of the map frame."""
    resolution: float = 0.05
    """Cell edge (m)."""
    seed: int = 0
    """Seed of the terrain's random generator."""
    params: dict[str, Any] = field(default_factory=dict)
    """Type-specific parameters: the fields of the type's ``*Params`` dataclass in ``sim.terrain_gen``."""
    keep_clear: tuple[tuple[float, float, float], ...] = ()
    """(x, y, radius) zones where random objects (boxes, pillars, random walls and pits) are not placed."""

    def __post_init__(self) -> None:
        if self.type not in GENERATORS:
            raise ValueError(f"field 'type': unknown terrain type {self.type!r}; known: {', '.join(GENERATORS)}")
        if not all(math.isfinite(s) and 1.0 <= s <= 500.0 for s in self.size):
            raise ValueError(f"field 'size': each extent must be in [1, 500] m, got {self.size}")
        if not (0.01 <= self.resolution <= 0.5):
            raise ValueError(f"field 'resolution': must be in [0.01, 0.5] m, got {self.resolution}")
        cells = (self.size[0] / self.resolution) * (self.size[1] / self.resolution)
        if cells > 64e6:
            raise ValueError(f"field 'size': {cells:.0f} cells at this resolution is too many (max 64e6)")
        if any(r < 0 for _, _, r in self.keep_clear):
            raise ValueError("field 'keep_clear': radii must be >= 0")
        try:
            self.parsed_params()
        except ConfigError as exc:  # re-raised as ValueError so the loader prefixes the file name
            raise ValueError(str(exc)) from None

    def parsed_params(self) -> Any:
        """The validated ``*Params`` dataclass of this terrain's type."""
        params_cls = GENERATORS[self.type][0]
        return cfg_from_dict(params_cls, self.params, source=f"params ({self.type})")


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

    def unsafe(self, xy: Tensor) -> Tensor:  # xy [..., 2] -> [...] bool
        """True where the nearest cell is an obstacle or a pit, or the point is off the map."""
        i, j = self.cell_index(xy)
        return self.obstacle[i, j] | self.pit[i, j] | ~self.inside(xy)


def cell_centres(cfg: TerrainCfg) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    """Meshgrid ``X, Y`` [H, W] of cell centres and the origin (centre of cell [0, 0])."""
    h = max(1, round(cfg.size[0] / cfg.resolution))
    w = max(1, round(cfg.size[1] / cfg.resolution))
    origin = (-(h - 1) * cfg.resolution / 2, -(w - 1) * cfg.resolution / 2)
    xs = origin[0] + cfg.resolution * np.arange(h)
    ys = origin[1] + cfg.resolution * np.arange(w)
    X, Y = np.meshgrid(xs, ys, indexing="ij")
    return X, Y, origin


def build_terrain(cfg: TerrainCfg, device: torch.device | str = "cpu") -> HeightMap:
    """Generate the height map of ``cfg`` (deterministic in its seed)."""
    params = cfg.parsed_params()
    X, Y, origin = cell_centres(cfg)
    rng = np.random.default_rng(cfg.seed)
    heights, obstacle, pit = GENERATORS[cfg.type][1](X, Y, params, rng, cfg.keep_clear)
    return HeightMap(
        heights=torch.as_tensor(np.ascontiguousarray(heights, dtype=np.float32), device=device),
        obstacle=torch.as_tensor(obstacle, device=device),
        pit=torch.as_tensor(pit, device=device),
        resolution=float(cfg.resolution),
        origin=(float(origin[0]), float(origin[1])),
        terrain_type=cfg.type,
        seed=cfg.seed,
    )


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
