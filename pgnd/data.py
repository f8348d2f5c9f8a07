"""PGND training and evaluation windows cut from the episodes that ``dynstack manip gen-data`` writes.

A window starting at frame t0 (t0 >= history) holds, for S model steps:

- ``x_hist``  [H+1, N, 3]  positions at frames t0-H .. t0 (m)
- ``gripper`` [S, 15]      gripper values at frames t0 .. t0+S-1 (each drives one step)
- ``target``  [S, N, 3]    positions at frames t0+1 .. t0+S

Episodes are split into training and validation by a hash of (shard, episode),
so an episode never appears in both. ``random_yaw`` rotates a batch about the
vertical axis through the workspace centre (the authors' augmentation).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from dynamics_stack.config import ConfigError
from pgnd.sampling import farthest_point_indices
from sim.dataset import read_shard_arrays
from sim.deformable_datagen import load_shard, read_manifest


def is_validation(shard: int, episode: int, val_fraction: float) -> bool:
    """Deterministic episode split (CRC32 of "shard/episode")."""
    return (zlib.crc32(f"{shard}/{episode}".encode()) % 10_000) / 10_000 < val_fraction


@dataclass
class Episodes:
    """All episodes of one split, stacked: x [E, T+1, N, 3], gripper [E, T+1, 15], params [E, 4], action [E].

    ``x_true`` [E, T+1, N, 3]: for a perceived dataset (``dynstack manip perceive``), where the material
    under each perceived particle really is; None for a dataset of simulator vertices.
    """

    x: Tensor
    gripper: Tensor
    params: Tensor
    action: Tensor
    category: str
    x_true: Tensor | None = None
    origin: list[tuple[int, int]] = field(default_factory=list)
    """(shard index, episode in the shard) of each row, to find its camera frames."""

    def __len__(self) -> int:
        return int(self.x.shape[0])

    @property
    def frames(self) -> int:
        return int(self.x.shape[1])


def load_episodes(folder: str | Path, split: str = "all", val_fraction: float = 0.2, particles: int = 0) -> Episodes:
    """Episodes of ``split`` ('all', 'train' or 'val') of a dataset folder; clear errors for bad files.

    ``particles`` > 0 keeps that many vertices per episode, farthest-point sampled on its first frame
    (the same vertices in every frame); 0 keeps them all.
    """
    if split not in ("all", "train", "val"):
        raise ValueError(f"split must be 'all', 'train' or 'val', got {split!r}")
    folder = Path(folder)
    manifest = read_manifest(folder)
    perceived = "perception" in manifest
    xs, gs, ps, acts, trues, origin = [], [], [], [], [], []
    for info in manifest["shards"]:
        arrays = load_shard(folder / info["file"], manifest["num_particles"])
        if perceived:
            arrays.update(read_shard_arrays(folder / info["file"], ("x_true",), only=True))
        for e in range(arrays["x"].shape[0]):
            val = is_validation(info["index"], e, val_fraction)
            if split == "all" or (split == "val") == val:
                xs.append(arrays["x"][e])
                gs.append(arrays["gripper"][e])
                ps.append(arrays["params"][e])
                acts.append(arrays["action"][e])
                origin.append((int(info["index"]), e))
                if perceived:
                    trues.append(arrays["x_true"][e])
    if not xs:
        raise ConfigError(
            f"{folder}: no {split} episodes (shards: {len(manifest['shards'])}, val_fraction {val_fraction})"
        )
    x = torch.from_numpy(np.stack(xs)).float()  # [E, T+1, V, 3]
    x_true = torch.from_numpy(np.stack(trues)).float() if trues else None
    if particles > 0:
        if particles > x.shape[2]:
            raise ConfigError(f"{folder}: {particles} particles asked, the objects have {x.shape[2]} vertices")
        idx = torch.stack([farthest_point_indices(x[e, 0], particles) for e in range(x.shape[0])])
        index = idx[:, None, :, None].expand(-1, x.shape[1], -1, 3)
        x = torch.gather(x, 2, index)
        x_true = torch.gather(x_true, 2, index) if x_true is not None else None
    return Episodes(
        x_true=x_true,
        origin=origin,
        x=x,
        gripper=torch.from_numpy(np.stack(gs)).float(),
        params=torch.from_numpy(np.stack(ps)).float(),
        action=torch.from_numpy(np.stack(acts)).long(),
        category=manifest["category"],
    )


def window_index(ep: Episodes, history: int, steps: int) -> Tensor:  # -> [W, 2] (episode, t0)
    """Every window start with ``history`` frames before and ``steps`` after."""
    t0 = torch.arange(history, ep.frames - steps)
    if t0.numel() == 0:
        raise ConfigError(f"episodes of {ep.frames} frames are too short for history {history} + {steps} steps")
    e = torch.arange(len(ep))
    return torch.stack(torch.meshgrid(e, t0, indexing="ij"), dim=-1).reshape(-1, 2)


def gather_windows(ep: Episodes, idx: Tensor, history: int, steps: int) -> dict[str, Tensor]:
    """Windows ``idx`` [B, 2] -> x_hist [B, H+1, N, 3], gripper [B, S, 15], target [B, S, N, 3]."""
    e, t0 = idx[:, 0:1], idx[:, 1:2]
    hist = t0 + torch.arange(-history, 1)  # [B, H+1]
    fut = t0 + torch.arange(1, steps + 1)  # [B, S]
    return {
        "x_hist": ep.x[e, hist],
        "gripper": ep.gripper[e, t0 + torch.arange(steps)],
        "target": ep.x[e, fut],
    }


def random_yaw(batch: dict[str, Tensor], generator: torch.Generator | None = None) -> dict[str, Tensor]:
    """Rotate every window by its own random yaw about the vertical axis through the object's centre.

    (About the object rather than the table centre, so that a rotated object stays inside the workspace.)
    """
    B = batch["x_hist"].shape[0]
    pivot = batch["x_hist"][:, -1].mean(dim=1)  # [B, 3]
    pivot[:, 2] = 0.0
    yaw = (torch.rand(B, generator=generator) * 2 - 1) * torch.pi
    c, s = torch.cos(yaw), torch.sin(yaw)

    def rot(v: Tensor, about: Tensor | None = None) -> Tensor:  # [B, ..., 3]
        shape = (B,) + (1,) * (v.dim() - 2)
        cc, ss = c.view(shape), s.view(shape)
        p = pivot.view(B, *(1,) * (v.dim() - 2), 3) if about is not None else torch.zeros(3)
        d = v - p
        return torch.stack((cc * d[..., 0] - ss * d[..., 1], ss * d[..., 0] + cc * d[..., 1], d[..., 2]), dim=-1) + p

    g = batch["gripper"].clone()
    g[..., 0:3], g[..., 3:6], g[..., 10:13] = rot(g[..., 0:3], pivot), rot(g[..., 3:6]), rot(g[..., 10:13])
    # quaternion: q' = q_yaw * q, with q_yaw = (cos(yaw/2), 0, 0, sin(yaw/2))
    ch, sh = torch.cos(yaw / 2).view(B, 1), torch.sin(yaw / 2).view(B, 1)
    w, x, y, z = g[..., 6], g[..., 7], g[..., 8], g[..., 9]
    g[..., 6], g[..., 7], g[..., 8], g[..., 9] = ch * w - sh * z, ch * x - sh * y, ch * y + sh * x, ch * z + sh * w
    return {"x_hist": rot(batch["x_hist"], pivot), "gripper": g, "target": rot(batch["target"], pivot)}
