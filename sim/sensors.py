"""Sensors of the terrain surrogate: the robot-centric height scan, the proprio layout, NaN filling.

Height scan (the authors' default layout, anchors/FDM.md): a yaw-aligned grid
with 0.1 m cells covering -0.5..+4.0 m ahead (46 points) and +-2.95 m sideways
(60 points). A scan is a ``[60, 46]`` array: **row r is y = +2.95 - 0.1 r**
(left to right), **column c is x = -0.5 + 0.1 c** (behind to ahead). Each cell is

    value = z_base - h(x, y) - 0.5,  clipped to [-1.0, 1.5]

the convention of Isaac Lab's ``mdp.height_scan`` (sensor height minus hit
height minus an offset of 0.5 m, as in the authors' code). Flat ground under a
standing ANYmal (base 0.6 m) reads 0.1; terrain higher than the robot's feet
reads less, holes read more. Cells off the map and randomly dropped cells are
NaN; ``fill_nan_nearest`` is the preprocessing the authors apply.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from sim.terrain import HeightMap

SCAN_RESOLUTION = 0.1  # m, anchors/FDM.md
SCAN_X = torch.linspace(-0.5, 4.0, 46)  # [46] column c -> x ahead (m), anchors/FDM.md
SCAN_Y = torch.linspace(2.95, -2.95, 60)  # [60] row r -> y left (m), anchors/FDM.md
SCAN_SHAPE = (60, 46)
SCAN_OFFSET = 0.5  # m, Isaac Lab mdp.height_scan offset used by the authors
SCAN_CLIP = (-1.0, 1.5)  # anchors/FDM.md

PROPRIO_FIELDS: tuple[str, ...] = (
    "lin_vel_x", "lin_vel_y", "lin_vel_z",  # base linear velocity, body frame (m/s)
    "ang_vel_x", "ang_vel_y", "ang_vel_z",  # base angular velocity, body frame (rad/s)
    "gravity_x", "gravity_y", "gravity_z",  # unit gravity vector in the body frame
    "cmd_vx", "cmd_vy", "cmd_wz",  # command being tracked
    "prev_cmd_vx", "prev_cmd_vy", "prev_cmd_wz",  # the command before it
    "base_height",  # base height above the ground below the base centre (m), what leg kinematics give
)  # fmt: skip
"""Names of the proprio vector's entries, in order (P = 16)."""
PROPRIO_DIM = len(PROPRIO_FIELDS)


@dataclass(frozen=True, kw_only=True)
class HeightScanCfg:
    """Noise model of the height scan."""

    noise_std: float = 0.0
    """Std (m) of Gaussian noise added to every valid cell."""
    dropout: float = 0.0
    """Probability that a cell is missing (NaN), independently per cell and scan."""
    chunk: int = 1024
    """Robots per batch when sampling scans (bounds memory at large N)."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.noise_std <= 1.0:
            raise ValueError(f"noise_std must be in [0, 1] m, got {self.noise_std}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.chunk < 1:
            raise ValueError(f"chunk must be >= 1, got {self.chunk}")


def scan_points_body(device: torch.device | str = "cpu") -> Tensor:  # -> [60, 46, 2]
    """Body-frame (x, y) of every scan cell, laid out as the scan."""
    gx = SCAN_X.to(device)[None, :].expand(60, 46)
    gy = SCAN_Y.to(device)[:, None].expand(60, 46)
    return torch.stack((gx, gy), dim=-1)


def height_scan(
    height_map: HeightMap,
    poses: Tensor,  # [N, 3] x, y, yaw (map frame)
    z_base: Tensor,  # [N] base height (m, map frame)
    cfg: HeightScanCfg = HeightScanCfg(),
    generator: torch.Generator | None = None,
) -> Tensor:  # [N, 60, 46]
    """Yaw-aligned height scans of N robots (nearest-cell lookups, like rays hitting a grid map).

    Works in cell units so each cell costs one rotation, one rounding and one gather
    (the scan is the simulator's most expensive sensor).
    """
    inv = 1.0 / height_map.resolution
    H, W = height_map.shape
    local = scan_points_body(poses.device).reshape(1, -1, 2) * inv  # [1, 2760, 2] in cells
    flat = height_map.heights.reshape(-1)
    out = []
    for start in range(0, poses.shape[0], cfg.chunk):
        p = poses[start : start + cfg.chunk]
        c, s = torch.cos(p[:, 2:3]), torch.sin(p[:, 2:3])  # [n, 1]
        u0 = (p[:, 0:1] - height_map.origin[0]) * inv  # [n, 1] robot position in cell units
        v0 = (p[:, 1:2] - height_map.origin[1]) * inv
        i = torch.round(u0 + c * local[..., 0] - s * local[..., 1]).long()  # [n, 2760] nearest cell
        j = torch.round(v0 + s * local[..., 0] + c * local[..., 1]).long()
        missing = (i < 0) | (i >= H) | (j < 0) | (j >= W)  # off the map
        h = flat[i.clamp_(0, H - 1) * W + j.clamp_(0, W - 1)]  # [n, 2760]
        value = z_base[start : start + cfg.chunk, None] - SCAN_OFFSET - h
        if cfg.noise_std > 0:
            value = value + cfg.noise_std * torch.randn(value.shape, generator=generator, device=value.device)
        value = value.clamp_(*SCAN_CLIP)
        if cfg.dropout > 0:
            missing |= torch.rand(value.shape, generator=generator, device=value.device) < cfg.dropout
        out.append(value.masked_fill_(missing, float("nan")).reshape(-1, *SCAN_SHAPE))
    return torch.cat(out, dim=0) if out else poses.new_zeros((0, *SCAN_SHAPE))


def fill_nan_nearest(scan: Tensor, empty_value: float = SCAN_CLIP[1], chunk: int = 4096) -> Tensor:
    """Fill NaN cells from their nearest valid cell (Euclidean), scan by scan: [..., H, W] -> [..., H, W].

    A scan with no valid cell at all becomes ``empty_value`` (default: the
    "deep/unknown" end of the clip range). Uses one exact distance transform
    per chunk of scans (scipy), so a batch of 100k scans fills in seconds.
    """
    from scipy.ndimage import distance_transform_edt

    shape = scan.shape
    x = scan.reshape(-1, *shape[-2:]).clone()  # [B, H, W]
    holes = torch.isnan(x).flatten(1).any(dim=1).nonzero().flatten()  # scans that need work
    for start in range(0, len(holes), chunk):
        sel = holes[start : start + chunk]
        part = x[sel].cpu().numpy()
        nan = np.isnan(part)
        # A huge spacing along the batch axis keeps every scan's nearest valid cell inside that scan.
        idx = distance_transform_edt(nan, sampling=(1e9, 1.0, 1.0), return_distances=False, return_indices=True)
        filled = part[idx[0], idx[1], idx[2]]
        filled[nan.all(axis=(1, 2))] = empty_value  # nothing valid to copy from
        x[sel] = torch.from_numpy(filled).to(x.device, x.dtype)
    return x.reshape(shape)
