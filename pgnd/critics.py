"""Manipulation critics for the MPPI engine: shape error to the target, workspace, table, effort.

Each critic has ``name``, ``enabled``, ``weight`` and ``score(batch) -> [K]``
(lower is better), a frozen ``Cfg`` of its own, and is chosen by name from
``MANIP_CRITICS`` in the same registry style as the navigation critics. They
read one immutable ``ManipRolloutBatch`` per planning iteration; positions
are in the table frame (z up, table top z = 0), metres.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from dynamics_stack.mppi import CriticCfg, RolloutBatch
from dynamics_stack.pointsets import chamfer


@dataclass(frozen=True)
class ManipRolloutBatch(RolloutBatch):
    """K sampled grasp-drag-release actions and what PGND predicts for them.

    actions [K, T, nu]; states [K, S, N*3] (flattened particles, the engine's generic field);
    particles [K, S, N, 3] after each of the S = T drag + settle steps; gripper [K, T+1, 3] the
    gripper centre from the grasp point through the drag; target [M, 3].
    """

    particles: Tensor
    gripper: Tensor
    target: Tensor
    matched: Tensor | None = None  # [N, 3] each particle's target point under an optimal one-to-one matching


@dataclass(frozen=True, kw_only=True)
class ShapeCfg(CriticCfg):
    """Chamfer distance of the predicted object to the target: at the end (settled), and along the drag."""

    weight: float = 100.0
    """cm-scale costs: 1 cm of Chamfer costs 1."""
    path: float = 0.1
    """Share of the mean Chamfer along the way added to the final one (rewards early progress)."""
    path_stride: int = 5
    """The mean along the way takes every this-many-th predicted step: a Chamfer per step and sample is the
    critics' main cost for a 400-particle cloth (K x S x N x M distances)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.path_stride < 1:
            raise ValueError(f"path_stride must be >= 1, got {self.path_stride}")


class ShapeCritic:
    """What the planner is for: the predicted final shape's Chamfer distance to the target (the anchor's reward)."""

    Cfg = ShapeCfg
    name = "shape"

    def __init__(self, cfg: ShapeCfg):
        self.cfg, self.enabled, self.weight = cfg, cfg.enabled, cfg.weight

    def score(self, batch: ManipRolloutBatch) -> Tensor:
        final = chamfer(batch.particles[:, -1], batch.target)  # [K]
        if self.cfg.path <= 0:
            return final
        stride = self.cfg.path_stride
        along = chamfer(batch.particles[:, stride - 1 :: stride], batch.target).mean(dim=1)  # [K]
        return final + self.cfg.path * along


@dataclass(frozen=True, kw_only=True)
class MatchedCfg(CriticCfg):
    """Mean distance of the predicted particles to their matched target points (at the end)."""

    weight: float = 100.0
    """cm-scale costs: 1 cm of mean distance costs 1."""


class MatchedCritic:
    """Progress by correspondence: each particle's distance to the target point an optimal one-to-one
    matching of the current shape gave it (``pgnd.planner.match_targets``, once per plan). Chamfer alone
    has flat stretches and local minima where one action cannot show progress (turning a rope: halfway
    it is no closer to the target line); the matched distance falls with every particle moved the
    right way."""

    Cfg = MatchedCfg
    name = "matched"

    def __init__(self, cfg: MatchedCfg):
        self.cfg, self.enabled, self.weight = cfg, cfg.enabled, cfg.weight

    def score(self, batch: ManipRolloutBatch) -> Tensor:
        if batch.matched is None:
            raise ValueError("critic 'matched' needs the batch's matched target points")
        return (batch.particles[:, -1] - batch.matched).norm(dim=-1).mean(dim=-1)


@dataclass(frozen=True, kw_only=True)
class WorkspaceCfg(CriticCfg):
    """Penalty for gripper positions outside the reachable box."""

    weight: float = 1000.0
    """Per metre outside the box, summed over the path: leaving it is never worth it."""
    box: tuple[float, float, float, float, float, float] = (-0.3, 0.3, -0.3, 0.3, 0.0, 0.25)
    """x min, x max, y min, y max, z min, z max of the gripper centre (m, table frame)."""


class WorkspaceCritic:
    """Sum over the path of how far the gripper centre is outside the workspace box."""

    Cfg = WorkspaceCfg
    name = "workspace"

    def __init__(self, cfg: WorkspaceCfg):
        self.cfg, self.enabled, self.weight = cfg, cfg.enabled, cfg.weight
        self.lo = torch.tensor(cfg.box[0::2])
        self.hi = torch.tensor(cfg.box[1::2])

    def score(self, batch: ManipRolloutBatch) -> Tensor:
        lo, hi = self.lo.to(batch.gripper), self.hi.to(batch.gripper)
        out = (lo - batch.gripper).clamp(min=0) + (batch.gripper - hi).clamp(min=0)  # [K, T+1, 3]
        return out.sum(dim=(1, 2))


@dataclass(frozen=True, kw_only=True)
class TableCfg(CriticCfg):
    """Penalty for a gripper that would touch the table, or particles predicted below it."""

    weight: float = 1000.0
    """Per metre below the limits, summed over the path."""
    min_gripper_height: float = 0.005
    """Lowest allowed gripper centre (m): the fingers close just above the table top."""


class TableCritic:
    """Gripper below ``min_gripper_height`` or particles below the table top."""

    Cfg = TableCfg
    name = "table"

    def __init__(self, cfg: TableCfg):
        self.cfg, self.enabled, self.weight = cfg, cfg.enabled, cfg.weight

    def score(self, batch: ManipRolloutBatch) -> Tensor:
        grip = (self.cfg.min_gripper_height - batch.gripper[..., 2]).clamp(min=0).sum(dim=1)  # [K]
        below = (-batch.particles[..., 2]).clamp(min=0).mean(dim=-1).sum(dim=1)  # [K]
        return grip + below


@dataclass(frozen=True, kw_only=True)
class EffortCfg(CriticCfg):
    """Prefers short, smooth gripper paths among equally good ones."""

    weight: float = 1.0
    """Per metre of path length: a 10 cm drag costs as much as 1 mm of Chamfer, so it only breaks ties
    (at 10 per metre the planner stalled where the model predicted small gains; rope tasks, measured)."""


class EffortCritic:
    """Length of the gripper's drag path."""

    Cfg = EffortCfg
    name = "effort"

    def __init__(self, cfg: EffortCfg):
        self.cfg, self.enabled, self.weight = cfg, cfg.enabled, cfg.weight

    def score(self, batch: ManipRolloutBatch) -> Tensor:
        return (batch.gripper[:, 1:] - batch.gripper[:, :-1]).norm(dim=-1).sum(dim=1)


MANIP_CRITICS = {c.name: c for c in (ShapeCritic, MatchedCritic, WorkspaceCritic, TableCritic, EffortCritic)}
