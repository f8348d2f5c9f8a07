"""What the FDM observes and on which clock: the one contract between the simulator, the dataset, the planner and the robot.

Everything that produces or consumes the model's inputs imports these names:
the terrain simulator (``sim.terrain_sim``, ``sim.datagen``), the dataset
(``sim.dataset``, ``fdm_nav.bag_import``), the planner and its guard
(``fdm_nav.planner``, ``fdm_nav.hazard_guard``), the closed loop and the ROS
node (``fdm_nav.node_inputs``). Values are the authors' code defaults (Roth et
al., RSS 2025; docs/references.md). This module imports nothing of the project.

**Height scan** ``[60, 46]``: a yaw-aligned grid with 0.1 m cells covering
-0.5..+4.0 m ahead (46 columns) and +-2.95 m sideways (60 rows). **Row r is
y = +2.95 - 0.1 r** (left to right), **column c is x = -0.5 + 0.1 c** (behind
to ahead). Each cell is

    value = z_base - h(x, y) - 0.5,  clipped to [-1.0, 1.5]

the convention of Isaac Lab's ``mdp.height_scan`` (sensor height minus hit
height minus an offset of 0.5 m, as in the authors' code). Flat ground under a
standing ANYmal (base 0.6 m) reads 0.1; terrain higher than the robot's feet
reads less, holes read more. Cells off the map and randomly dropped cells are
NaN; ``fill_nan_nearest`` is the preprocessing the authors apply.

**Proprio** ``[P]``, P = 16: ``PROPRIO_FIELDS`` in order, sampled at 20 Hz.

**State rows** ``[6]``: ``STATE_FIELDS``; poses in the newest sample's base
frame; ``energy`` is a specific power proxy (W/kg), |a . v| + g max(0, climb
rate) + 0.1 |alpha w|, from consecutive velocity samples.

**Time base**: ``HISTORY`` samples ``SAMPLE_PERIOD`` apart (0.5 s), then
``HORIZON`` command steps of ``STEP_DT`` (5 s). A model card states its own
(``TimeBase.of_model``); these are the defaults new models are made with. The
planner replans at ``CONTROL_RATE`` unless its node says otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor

# ---------------------------------------------------------------- height scan

SCAN_RESOLUTION = 0.1  # m, cell edge (authors' default)
SCAN_ROWS, SCAN_COLS = 60, 46  # rows along y (left -> right), columns along x (behind -> ahead)
SCAN_SHAPE = (SCAN_ROWS, SCAN_COLS)
SCAN_X0 = -0.5  # m, base-frame x of column 0 (0.5 m behind the base)
SCAN_Y0 = 2.95  # m, base-frame y of row 0 (leftmost)
SCAN_X = torch.linspace(SCAN_X0, SCAN_X0 + (SCAN_COLS - 1) * SCAN_RESOLUTION, SCAN_COLS)  # [46] -0.5 .. 4.0
SCAN_Y = torch.linspace(SCAN_Y0, SCAN_Y0 - (SCAN_ROWS - 1) * SCAN_RESOLUTION, SCAN_ROWS)  # [60] 2.95 .. -2.95
SCAN_OFFSET = 0.5  # m, Isaac Lab mdp.height_scan offset used by the authors
SCAN_CLIP = (-1.0, 1.5)  # m, value range of a cell (authors' default)

# ---------------------------------------------------------------- proprio and state

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

STATE_FIELDS: tuple[str, ...] = ("x", "y", "sin_yaw", "cos_yaw", "failed", "energy")
"""Names of a state row's entries, in order: pose in the newest sample's base frame, failure flag, energy proxy."""
STATE_DIM = len(STATE_FIELDS)

GRAVITY = 9.81  # m/s^2, in the energy proxy's climbing term

# ---------------------------------------------------------------- time base

SAMPLE_PERIOD = 0.05  # s, proprio/state samples at 20 Hz
HISTORY = 10  # samples the model sees (0.5 s)
STEP_DT = 0.5  # s per command step
HORIZON = 10  # command steps predicted (5 s)
SAMPLES_PER_STEP = round(STEP_DT / SAMPLE_PERIOD)  # 20 Hz samples per command step (10)
CONTROL_RATE = 10.0  # Hz, how often the planner replans by default (the authors' 10 Hz)


@dataclass(frozen=True, kw_only=True)
class TimeBase:
    """The clock of one model's inputs and outputs (read from its card; defaults are this contract's)."""

    history: int = HISTORY
    """H: proprio/state samples the model sees, SAMPLE_PERIOD apart, newest last."""
    horizon: int = HORIZON
    """T: command steps the model predicts."""
    step_dt: float = STEP_DT
    """Seconds per command step."""

    @classmethod
    def of_model(cls, config: Mapping[str, Any], source: str) -> TimeBase:
        """The time base a model card's ``config`` declares; ValueError when the model observes other inputs.

        The planner and the node build inputs by this contract, so a model that
        expects another proprio layout, state layout or scan shape is refused
        here, naming ``source`` (the card) and the difference.
        """
        expected = {"proprio_dim": PROPRIO_DIM, "state_dim": STATE_DIM, "scan_shape": list(SCAN_SHAPE)}
        for key, want in expected.items():
            got = config.get(key)
            got = list(got) if isinstance(got, (list, tuple)) else got
            if got != want:
                raise ValueError(f"{source}: the model expects {key} {got}, the inputs built here have {want}")
        try:
            return cls(history=int(config["history"]), horizon=int(config["horizon"]), step_dt=float(config["step_dt"]))
        except KeyError as exc:
            raise ValueError(f"{source}: model config lacks {exc.args[0]!r} (history, horizon, step_dt)") from None


# ---------------------------------------------------------------- sampling the scan


class HeightGrid(Protocol):
    """What ``height_scan`` reads from a height map (``sim.height_map.HeightMap`` is one)."""

    heights: Tensor  # [H, W] ground height (m), index [i along x, j along y]
    resolution: float  # m
    origin: tuple[float, float]  # (x, y) of the centre of cell [0, 0]

    @property
    def shape(self) -> tuple[int, int]: ...


@dataclass(frozen=True, kw_only=True)
class HeightScanCfg:
    """Noise model of the height scan (what the simulator's datasets were made with)."""

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
    gx = SCAN_X.to(device)[None, :].expand(SCAN_ROWS, SCAN_COLS)
    gy = SCAN_Y.to(device)[:, None].expand(SCAN_ROWS, SCAN_COLS)
    return torch.stack((gx, gy), dim=-1)


def height_scan(
    height_map: HeightGrid,
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
