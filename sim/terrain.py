"""Terrains: the terrain configuration (``TerrainCfg``) and ``build_terrain``, which generates its ``HeightMap``.

The grid container itself and its lookups live in ``sim.height_map``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from dynamics_stack.config import ConfigError, cfg_from_dict
from sim.height_map import HeightMap
from sim.terrain_gen import GENERATORS, passages_layout

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


def passage_openings(cfg: TerrainCfg) -> np.ndarray:
    """[M, 4] (approach x, y, exit x, y) of every opening of a 'passages' terrain (empty for other types).

    The layout ``build_terrain`` draws, drawn again from the same seed: the data generator
    sends goal-directed robots through these openings.
    """
    if cfg.type != "passages":
        return np.zeros((0, 4), np.float32)
    X, Y, _ = cell_centres(cfg)
    extent = (float(X.min()), float(X.max()), float(Y.min()), float(Y.max()))
    layout = passages_layout(cfg.parsed_params(), extent, np.random.default_rng(cfg.seed), cfg.keep_clear)
    return np.array(layout.openings, np.float32).reshape(-1, 4)
