"""A geometric safety layer under the learned risk: never plan the body across a tall face.

The FDM's failure probability is learned, and a learned model misses some
cases (held-out failure recall ~0.9 at the planner's threshold). In the
closed-loop benchmark without this guard its four failures were two falls at
pit rims (a trench corner, a bridge) and two collisions while reversing (the
scan sees only 0.5 m behind the base, about the body's half length).

The guard marks in a robot-centric height map only what no legged robot
crosses: *faces*, cells whose height differs from a neighbour's by more than
``face_height``, on the side away from the robot's ground level (a wall's
edge, a pillar's rim, the first cell inside a pit). Stair risers and rough
blocks stay below that height, so stairs remain the model's call. It then
checks the robot's whole body footprint along each rollout (interpolated
between the model's 0.5 s poses), using a configuration-space map of face
cells under the body (weighted by how deep inside the outline they lie) per
heading and cell, so one pose costs one lookup. A step fails when the body
covers more, or deeper, face cells than it does now: that lets a robot that
already stands close to a wall (in a door, say) move away from it or along
it, but not further into it.

The map is a ``LocalMap``: a height grid all around the robot (what an
elevation-mapping node provides and the embedded simulator samples), or, when
the caller has none, the FDM's own height scan (then the rear is blind).

The planner folds the guard into the failure probability (max of the two), so
the risk critic's hard penalty and the blocked-by-risk gate apply unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.nn import functional as F

from fdm_nav.observation import SCAN_RESOLUTION, SCAN_X0, SCAN_Y0, fill_nan_nearest
from fdm_nav.se2 import wrap_angle
from sim.height_map import HeightMap

LOCAL_MAP_HALF_SIZE = 4.0  # m, the square around the robot the closed loop and the node give the guard


@dataclass(frozen=True)
class LocalMap:
    """A yaw-aligned grid around the robot: row r is y = y0 - cell r, column c is x = x0 + cell c (base frame).

    ``heights`` may be any height-like value (terrain height, or the scan's
    sensor-minus-terrain reading): only differences between cells matter.
    """

    heights: Tensor  # [H, W]
    x0: float = SCAN_X0
    y0: float = SCAN_Y0
    cell: float = SCAN_RESOLUTION

    @classmethod
    def around(cls, height_at, half_size: float = 3.0, cell: float = SCAN_RESOLUTION) -> LocalMap:
        """Sample ``height_at(xy [H, W, 2] base frame) -> [H, W]`` on a square of +-half_size metres."""
        n = round(half_size / cell)
        axis = torch.arange(-n, n + 1, dtype=torch.float32) * cell
        xy = torch.stack(torch.meshgrid(axis, -axis, indexing="xy"), dim=-1)  # [2n+1, 2n+1, 2]: rows +y -> -y
        return cls(height_at(xy), x0=-n * cell, y0=n * cell, cell=cell)

    @classmethod
    def from_height_map(cls, hm: HeightMap, pose, half_size: float = LOCAL_MAP_HALF_SIZE) -> LocalMap:
        """Nearest-cell heights of ``hm`` on a yaw-aligned square around ``pose`` (x, y, yaw in its frame).

        What an elevation-mapping node gives around the robot; both the closed loop
        (simulator map) and the ROS node (elevation cloud) build the guard's map here.
        Unknown cells (NaN) take their nearest known neighbour, as the scan's do.
        """
        x, y, yaw = (float(v) for v in pose)
        c, s = math.cos(yaw), math.sin(yaw)

        def height_at(xy: Tensor) -> Tensor:
            world = torch.stack([x + c * xy[..., 0] - s * xy[..., 1], y + s * xy[..., 0] + c * xy[..., 1]], dim=-1)
            heights = hm.sample_nearest(world.to(hm.device)).cpu()
            return fill_nan_nearest(heights) if torch.isnan(heights).any() else heights

        return cls.around(height_at, half_size)


@dataclass(frozen=True, kw_only=True)
class HazardGuardCfg:
    """Geometric guard of the FDM planner (see ``fdm_nav.hazard_guard``)."""

    enabled: bool = True
    """Whether the guard adds to the model's failure probability."""
    face_height: float = 0.35
    """Height difference [m] between neighbouring 0.1 m cells that marks a face (ANYmal: body clearance 0.35 m)."""
    inflation: float = 0.0
    """Faces grow by this radius [m]. The footprint already has half a cell of slack; a 0.1 m inflation left a
    0.53 m wide body stuck at 1 m doors and 1.2 m bridges in the benchmark."""
    body_length: float = 0.93
    """Length [m] of the body outline checked (ANYmal D)."""
    body_width: float = 0.53
    """Width [m] of the body outline checked (ANYmal D)."""
    substeps: int = 3
    """Poses checked per 0.5 s plan step (linear interpolation between the model's poses)."""
    heading_bins: int = 32
    """Headings at which the body's footprint is precomputed (32: corners within ~0.05 m of the true pose)."""

    def __post_init__(self) -> None:
        for name in ("face_height", "body_length", "body_width"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be finite and > 0, got {value}")
        if not (math.isfinite(self.inflation) and 0 <= self.inflation <= 1.0):
            raise ValueError(f"inflation must be in [0, 1] m, got {self.inflation}")
        if not 1 <= self.substeps <= 20:
            raise ValueError(f"substeps must be in [1, 20], got {self.substeps}")
        if not 4 <= self.heading_bins <= 360:
            raise ValueError(f"heading_bins must be in [4, 360], got {self.heading_bins}")


def face_map(
    heights: Tensor, cfg: HazardGuardCfg, cell: float = SCAN_RESOLUTION, ground: float | Tensor = 0.0
) -> Tensor:
    """1.0 on the far side of every height jump above ``face_height`` (then inflated): [H, W] -> [H, W].

    Of the two cells of a jump, the one further in height from ``ground`` (the
    level the robot stands on) is marked: the wall's top, the pit's floor, not
    the free cell beside them, so a 1 m door stays 1 m wide. NaN cells make no jump.
    """
    pad = F.pad(heights[None, None], (1, 1, 1, 1), mode="replicate")[0, 0]
    H, W = heights.shape
    off_ground = (heights - ground).abs()
    face = torch.zeros(H, W, dtype=torch.bool, device=heights.device)
    for di, dj in ((0, 1), (1, 0), (1, 2), (2, 1)):  # the four neighbours
        other = pad[di : di + H, dj : dj + W]
        face |= ((other - heights).abs() > cfg.face_height) & (off_ground > (other - ground).abs())
    face = face.to(heights.dtype)
    r = round(cfg.inflation / cell)
    if r > 0:
        face = F.max_pool2d(face[None, None], 2 * r + 1, stride=1, padding=r)[0, 0]
    return face


def footprint_kernels(cfg: HazardGuardCfg, cell: float) -> Tensor:
    """The body's footprint on the grid for each heading bin: [bins, k, k], 0 outside, >= 1 under the body.

    Kernel cell (u, v) is the map cell ``u - k // 2`` rows and ``v - k // 2`` columns away from the base's
    cell (rows run towards -y, columns towards +x), so a 2-D correlation of the face map with kernel b sums
    the face cells under a body centred on each cell with heading ``b * 2 pi / bins``. A cell under the body
    weighs 1 plus its depth inside the outline in cells, so moving deeper into even a one-cell-thin wall
    raises the sum, while sliding along it keeps it. The outline is grown by half a cell: the base's own
    position is rounded to its cell, so the body may reach that much further.
    """
    r = math.ceil(0.5 * math.hypot(cfg.body_length, cfg.body_width) / cell) + 1
    offsets = torch.arange(-r, r + 1, dtype=torch.float32) * cell
    px = offsets[None, :].expand(2 * r + 1, -1)  # column offset -> +x
    py = -offsets[:, None].expand(-1, 2 * r + 1)  # row offset -> -y
    yaw = torch.arange(cfg.heading_bins, dtype=torch.float32)[:, None, None] * (2 * math.pi / cfg.heading_bins)
    c, s = torch.cos(yaw), torch.sin(yaw)
    bx, by = c * px + s * py, -s * px + c * py  # cell centres in the body frame
    slack = cell / 2 + 1e-6
    depth = torch.minimum(cfg.body_length / 2 + slack - bx.abs(), cfg.body_width / 2 + slack - by.abs())
    return torch.where(depth >= 0, 1.0 + depth / cell, torch.zeros_like(depth))


def footprint_counts(faces: Tensor, kernels: Tensor) -> Tensor:
    """Depth-weighted face cells under the body for every heading bin and centre cell: [H, W] -> [bins, H, W]."""
    k = kernels.shape[-1]
    return F.conv2d(faces[None, None], kernels[:, None].to(faces), padding=k // 2)[0]


def interpolate_poses(poses: Tensor, substeps: int) -> Tensor:
    """Poses [K, T, 3] from the origin -> [K, T * substeps, 3], linear in x, y and (wrapped) yaw."""
    start = torch.zeros_like(poses[:, :1])
    prev = torch.cat([start, poses[:, :-1]], dim=1)  # [K, T, 3]
    frac = torch.arange(1, substeps + 1, dtype=poses.dtype, device=poses.device) / substeps  # [n]
    delta = poses - prev
    delta = torch.cat([delta[..., :2], wrap_angle(delta[..., 2:])], dim=-1)
    fine = prev[:, :, None] + frac[None, None, :, None] * delta[:, :, None]  # [K, T, n, 3]
    return fine.flatten(1, 2)


def lookup_counts(counts: Tensor, poses: Tensor, grid: LocalMap) -> Tensor:
    """Face cells under the body at each pose (nearest cell and heading bin): poses [..., 3] -> [...].

    Poses off the local map read 0 (unknown counts as free).
    """
    bins, H, W = counts.shape
    col = torch.round((poses[..., 0] - grid.x0) / grid.cell).long()
    row = torch.round((grid.y0 - poses[..., 1]) / grid.cell).long()
    b = torch.round(poses[..., 2] * (bins / (2 * math.pi))).long().remainder(bins)
    inside = (col >= 0) & (col < W) & (row >= 0) & (row < H)
    values = counts[b, row.clamp(0, H - 1), col.clamp(0, W - 1)]
    return torch.where(inside, values, torch.zeros_like(values))


class HazardGuard:
    """Per-cycle guard: ``prepare(local_map)`` once, then ``failure(prepared, poses)`` for every batch of rollouts."""

    def __init__(self, cfg: HazardGuardCfg, device: torch.device | str = "cpu"):
        self.cfg = cfg
        self.device = torch.device(device)
        self._kernels: dict[float, Tensor] = {}

    def prepare(self, grid: LocalMap) -> tuple[Tensor, Tensor, LocalMap]:
        """Face counts under the body per heading and cell, and the count where the robot stands now."""
        if grid.cell not in self._kernels:
            self._kernels[grid.cell] = footprint_kernels(self.cfg, grid.cell).to(self.device)
        ground = grid.heights[round(grid.y0 / grid.cell), round(-grid.x0 / grid.cell)]  # the cell under the base
        faces = face_map(grid.heights, self.cfg, grid.cell, ground.nan_to_num(0.0))
        counts = footprint_counts(faces, self._kernels[grid.cell])
        now = lookup_counts(counts, torch.zeros(3, dtype=counts.dtype, device=counts.device), grid)
        return counts, now, grid

    def failure(self, prepared: tuple[Tensor, Tensor, LocalMap], poses: Tensor) -> Tensor:
        """1.0 from the first step whose body covers more (or deeper) face cells than now: [K, T, 3] -> [K, T]."""
        counts, now, grid = prepared
        n = self.cfg.substeps
        hits = lookup_counts(counts, interpolate_poses(poses, n), grid)  # [K, T n]
        worse = (hits > now + 0.5).to(poses.dtype).reshape(poses.shape[0], -1, n).amax(dim=-1)  # [K, T]
        return torch.cummax(worse, dim=1).values
