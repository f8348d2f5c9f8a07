"""Navigation critics for the MPPI engine: goal, failure risk, smoothness, command limits.

Each critic is a small object with ``name``, ``enabled``, ``weight`` and
``score(batch) -> [K]`` (lower is better), configured by its own frozen
``Cfg`` and chosen by name from ``NAV_CRITICS`` (as Nav2's MPPI critics).
All of them read one immutable ``NavRolloutBatch`` per planning iteration.
Poses are in the robot's base frame at planning time; the goal is given in
that frame too.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from dynamics_stack.mppi import CriticCfg, RolloutBatch
from fdm_nav.se2 import wrap_angle


@dataclass(frozen=True)
class NavRolloutBatch(RolloutBatch):
    """Rollout of K command sequences: actions [K, T, 3] commands, states [K, T, 3] poses (x, y, yaw)."""

    failure_prob: Tensor  # [K, T] probability of having failed by each step
    goal: Tensor  # [3] goal x, y, yaw in the base frame (yaw NaN: any heading)
    current_command: Tensor  # [3] the command being executed now (for smoothness)
    path: Tensor | None = None  # [M, 2] the route ahead of the robot in the base frame (None: no route)


@dataclass(frozen=True, kw_only=True)
class GoalCfg(CriticCfg):
    """Distance to the goal at the end and along the path, heading near the goal."""

    terminal: float = 10.0
    """Weight of the final distance to the goal (Roth et al.: x10)."""
    path: float = 1.0
    """Weight of the mean distance over the horizon (rewards getting closer early)."""
    heading: float = 1.0
    """Weight of the final heading error [rad] when the final pose is within heading_radius."""
    heading_radius: float = 1.0
    """Distance [m] to the goal below which the heading term applies."""


class GoalCritic:
    """Terminal and path distance to the goal, plus heading at the goal."""

    Cfg = GoalCfg
    name = "goal"

    def __init__(self, cfg: GoalCfg):
        self.cfg, self.enabled, self.weight = cfg, cfg.enabled, cfg.weight

    def score(self, batch: NavRolloutBatch) -> Tensor:
        dist = torch.linalg.vector_norm(batch.states[..., :2] - batch.goal[:2], dim=-1)  # [K, T]
        cost = self.cfg.terminal * dist[:, -1] + self.cfg.path * dist.mean(dim=1)
        yaw_err = wrap_angle(batch.states[:, -1, 2] - batch.goal[2]).abs()
        near = (dist[:, -1] < self.cfg.heading_radius) & ~torch.isnan(batch.goal[2])
        return cost + self.cfg.heading * torch.where(near, yaw_err, torch.zeros_like(yaw_err))


@dataclass(frozen=True, kw_only=True)
class RiskCfg(CriticCfg):
    """Hard penalty when any step's failure probability passes the threshold, plus expected risk."""

    threshold: float = 0.2
    """Failure probability above which a sample is 'risky'. Roth et al.: 0.5; 0.2 is where the shipped
    FDM reaches 0.9 failure recall on held-out terrain (benchmarks/results/fdm_eval.json)."""
    hard_penalty: float = 1000.0
    """Cost added to a risky sample (Roth et al.: +1000)."""
    expected: float = 10.0
    """Weight of the largest failure probability over the horizon."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"threshold must be in (0, 1), got {self.threshold}")


class RiskCritic:
    """Failure risk: a hard penalty above the threshold plus the expected (max) risk."""

    Cfg = RiskCfg
    name = "risk"

    def __init__(self, cfg: RiskCfg):
        self.cfg, self.enabled, self.weight = cfg, cfg.enabled, cfg.weight

    def score(self, batch: NavRolloutBatch) -> Tensor:
        peak = batch.failure_prob.max(dim=1).values  # [K]
        return self.cfg.hard_penalty * (peak > self.cfg.threshold).to(peak.dtype) + self.cfg.expected * peak


@dataclass(frozen=True, kw_only=True)
class SmoothnessCfg(CriticCfg):
    """Squared change between consecutive commands (and from the command now executing)."""

    scale: tuple[float, float, float] = (1.0, 2.0, 0.5)
    """Per-axis weight of (vx, vy, wz) changes."""


class SmoothnessCritic:
    """Sum of squared command changes, scaled per axis."""

    Cfg = SmoothnessCfg
    name = "smoothness"

    def __init__(self, cfg: SmoothnessCfg):
        self.cfg, self.enabled, self.weight = cfg, cfg.enabled, cfg.weight

    def score(self, batch: NavRolloutBatch) -> Tensor:
        a = batch.actions  # [K, T, 3]
        first = a[:, :1] - batch.current_command
        diffs = torch.cat([first, a[:, 1:] - a[:, :-1]], dim=1)  # [K, T, 3]
        return (diffs.square() * a.new_tensor(self.cfg.scale)).sum(dim=(1, 2))


@dataclass(frozen=True, kw_only=True)
class LimitsCfg(CriticCfg):
    """Soft command limits inside the sampler's hard bounds (e.g. slow backwards and sideways)."""

    vx: tuple[float, float] = (-0.3, 1.0)
    """Preferred forward speed range [m/s]."""
    vy: float = 0.3
    """Preferred largest sideways speed [m/s]."""
    wz: float = 1.0
    """Preferred largest yaw rate [rad/s]."""


class LimitsCritic:
    """Squared excess over the preferred command ranges, summed over the horizon."""

    Cfg = LimitsCfg
    name = "limits"

    def __init__(self, cfg: LimitsCfg):
        self.cfg, self.enabled, self.weight = cfg, cfg.enabled, cfg.weight

    def score(self, batch: NavRolloutBatch) -> Tensor:
        vx, vy, wz = batch.actions.unbind(-1)
        lo, hi = self.cfg.vx
        excess = (lo - vx).clamp(min=0) + (vx - hi).clamp(min=0)
        excess = excess.square() + (vy.abs() - self.cfg.vy).clamp(min=0).square()
        excess = excess + (wz.abs() - self.cfg.wz).clamp(min=0).square()
        return excess.sum(dim=1)


@dataclass(frozen=True, kw_only=True)
class RouteCfg(CriticCfg):
    """Distance of the rollout from the route ahead (Nav2's PathFollow idea): commits the robot to the opening
    a global route leads through, where the carrot alone pulls it toward the wall beside it."""

    weight: float = 1.0
    """Multiplier of the critic's cost."""
    deadband: float = 0.2
    """Distance [m] from the route that costs nothing (room to step around small things)."""


class RouteCritic:
    """Mean over the horizon of the distance [m] (beyond the deadband) from each pose to the nearest route point."""

    Cfg = RouteCfg
    name = "route"

    def __init__(self, cfg: RouteCfg):
        self.cfg, self.enabled, self.weight = cfg, cfg.enabled, cfg.weight

    def score(self, batch: NavRolloutBatch) -> Tensor:
        K = batch.states.shape[0]
        if batch.path is None or batch.path.shape[0] == 0:
            return batch.states.new_zeros(K)
        xy = batch.states[..., :2].reshape(-1, 2)  # [K T, 2]
        d = torch.cdist(xy, batch.path.to(xy.dtype)).amin(dim=-1).reshape(K, -1)  # [K, T]
        return (d - self.cfg.deadband).clamp(min=0.0).mean(dim=1)


NAV_CRITICS = {c.name: c for c in (GoalCritic, RiskCritic, SmoothnessCritic, LimitsCritic, RouteCritic)}
"""Critic registry for ``dynamics_stack.mppi.build_critics``."""
