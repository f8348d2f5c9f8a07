"""FDM training windows as stacked tensors, ready for fast batched training and evaluation.

Reads a dataset folder written by ``dynstack nav gen-data`` through
``sim.dataset.NavWindowDataset`` (split by terrain seed, never by sample),
fills missing height-scan cells from their nearest valid neighbour (the
authors' preprocessing) and stacks every window once, so an epoch is index
slicing instead of per-sample Python.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

import torch
from torch import Tensor
from tqdm import tqdm

from fdm_nav.observation import fill_nan_nearest
from sim.dataset import NavWindowDataset


@dataclass
class WindowTensors:
    """All windows of one split: field i of every tensor belongs to window i."""

    proprio: Tensor  # [W, H, P]
    state: Tensor  # [W, H, 6]
    height_scan: Tensor  # [W, 60, 46], NaN filled
    commands: Tensor  # [W, T, 3]
    poses: Tensor  # [W, T, 3]
    failure: Tensor  # [W, T]
    failure_cause: Tensor  # [W] int
    terrain_type: Tensor  # [W] int
    terrain_seed: Tensor  # [W] int
    terrain_names: tuple[str, ...] = ()

    def __len__(self) -> int:
        return int(self.proprio.shape[0])

    def select(self, index: Tensor) -> WindowTensors:
        """The windows at ``index`` (a view-free copy)."""
        kw = {f.name: getattr(self, f.name)[index] for f in fields(self) if f.name != "terrain_names"}
        return WindowTensors(**kw, terrain_names=self.terrain_names)

    def normalization(self) -> dict[str, Tensor]:
        """Mean and std of proprio and state entries (std floored at 1e-3 for constant entries)."""
        p = self.proprio.reshape(-1, self.proprio.shape[-1])
        s = self.state.reshape(-1, self.state.shape[-1])
        return {
            "proprio_mean": p.mean(0),
            "proprio_std": p.std(0).clamp(min=1e-3),
            "state_mean": s.mean(0),
            "state_std": s.std(0).clamp(min=1e-3),
        }


def load_windows(
    folder: str | Path,
    split: str,
    val_fraction: float = 0.2,
    progress: bool = True,
    max_windows: int | None = None,
    failure_repeat: int = 1,
    max_slow_fraction: float = 1.0,
) -> WindowTensors:
    """Stack every window of ``split`` ('train', 'val' or 'all') of a dataset folder.

    ``failure_repeat`` and ``max_slow_fraction`` are the authors' rebalancing (see
    ``sim.dataset.NavWindowDataset``); use them for training splits only.
    """
    ds = NavWindowDataset(
        folder,
        split=split,
        val_fraction=val_fraction,
        failure_repeat=failure_repeat,
        max_slow_fraction=max_slow_fraction,
    )
    n = len(ds)
    if n == 0:
        raise ValueError(
            f"{folder}: split '{split}' has no windows (val_fraction={val_fraction}); generate more shards"
        )
    order = torch.arange(n)
    if max_windows is not None and n > max_windows:
        order = torch.randperm(n, generator=torch.Generator().manual_seed(0))[:max_windows].sort().values
    chunks = []
    for start in tqdm(range(0, len(order), 8192), desc=f"loading {split} windows", disable=not progress, unit="chunk"):
        chunk = ds.batch(order[start : start + 8192].numpy())
        chunk["height_scan"] = fill_nan_nearest(chunk["height_scan"])
        chunks.append(chunk)
    stacked = {key: torch.cat([c[key] for c in chunks]) for key in chunks[0]}
    return WindowTensors(**stacked, terrain_names=tuple(ds.terrain_types))
