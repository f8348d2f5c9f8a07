"""A kinematic unicycle to a goal around a round obstacle: the MPPI engine's worked example.

Used by ``dynstack demo --example unicycle`` (the demo before navigation
existed), by the MPPI tests and by ``benchmarks/bench_mppi.py``. The rollout
integrates the whole horizon with cumulative sums (no Python loop over T),
which is the pattern the learned models follow.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch
from torch import Tensor

from dynamics_stack.mppi import Mppi, MppiCfg, RolloutBatch, build_critics


@dataclass(frozen=True, kw_only=True)
class UnicycleCfg:
    """The example problem: a unicycle (v, w) from start to goal past one disc obstacle."""

    dt: float = 0.1
    """Seconds per action step."""
    start: tuple[float, float, float] = (0.0, 0.0, 0.0)
    """Start pose x [m], y [m], yaw [rad]."""
    goal: tuple[float, float] = (4.0, 3.0)
    """Goal position x, y [m]."""
    obstacle: tuple[float, float, float] = (2.0, 1.4, 0.6)
    """Obstacle centre x, y and radius [m]."""
    goal_tolerance: float = 0.15
    """Distance [m] counted as reaching the goal."""


def unicycle_rollout(state: Tensor, actions: Tensor, dt: float) -> RolloutBatch:
    """Integrate (v, w) commands from ``state`` [3] over the whole horizon at once.

    actions: [K, T, 2]; returns states [K, T, 3] = pose after each step
    (explicit Euler with the heading before the step, as pytorch_mppi's examples).
    """
    v, w = actions[..., 0], actions[..., 1]  # [K, T]
    yaw_after = state[2] + torch.cumsum(w * dt, dim=1)  # [K, T]
    yaw_before = torch.cat([state[2].expand(yaw_after.shape[0], 1), yaw_after[:, :-1]], dim=1)
    x = state[0] + torch.cumsum(v * torch.cos(yaw_before) * dt, dim=1)
    y = state[1] + torch.cumsum(v * torch.sin(yaw_before) * dt, dim=1)
    return RolloutBatch(actions=actions, states=torch.stack([x, y, yaw_after], dim=-1))


def unicycle_step(state: Tensor, action: Tensor, dt: float) -> Tensor:
    """One Euler step for a batch of states [..., 3] under actions [..., 2] (the per-step form)."""
    x, y, yaw = state[..., 0], state[..., 1], state[..., 2]
    v, w = action[..., 0], action[..., 1]
    return torch.stack([x + v * torch.cos(yaw) * dt, y + v * torch.sin(yaw) * dt, yaw + w * dt], dim=-1)


class GoalCritic:
    """Distance to the goal: every step (weight 1) plus the final step (weight ``terminal``)."""

    def __init__(self, goal: tuple[float, float], weight: float = 1.0, terminal: float = 10.0, enabled: bool = True):
        self.name, self.enabled, self.weight, self.terminal = "goal", enabled, weight, terminal
        self.goal = goal

    def score(self, batch: RolloutBatch) -> Tensor:
        goal = batch.states.new_tensor(self.goal)
        dist = torch.linalg.vector_norm(batch.states[..., :2] - goal, dim=-1)  # [K, T]
        return dist.mean(dim=1) + self.terminal * dist[:, -1]


class ObstacleCritic:
    """A large cost for every step inside the disc (plus a margin), scaled by penetration."""

    def __init__(self, obstacle: tuple[float, float, float], weight: float = 100.0, margin: float = 0.1, enabled=True):
        self.name, self.enabled, self.weight, self.margin = "obstacle", enabled, weight, margin
        self.obstacle = obstacle

    def score(self, batch: RolloutBatch) -> Tensor:
        cx, cy, radius = self.obstacle
        centre = batch.states.new_tensor((cx, cy))
        dist = torch.linalg.vector_norm(batch.states[..., :2] - centre, dim=-1)  # [K, T]
        penetration = (radius + self.margin - dist).clamp(min=0)
        return (penetration > 0).float().sum(dim=1) + 10.0 * penetration.sum(dim=1)


class EffortCritic:
    """Squared action magnitude, to prefer gentle commands."""

    def __init__(self, weight: float = 0.01, enabled: bool = True):
        self.name, self.enabled, self.weight = "effort", enabled, weight

    def score(self, batch: RolloutBatch) -> Tensor:
        return batch.actions.square().sum(dim=(1, 2))


def make_unicycle_mppi(problem: UnicycleCfg, mppi_cfg: MppiCfg | None = None, device="cpu") -> Mppi:
    """The example's MPPI engine with its three critics built by name."""
    mppi_cfg = mppi_cfg or MppiCfg(
        num_samples=512,
        horizon=30,
        noise_sigma=(0.6, 1.2),
        temperature=0.5,
        noise_smoothing=0.5,
        action_min=(0.0, -2.0),
        action_max=(1.0, 2.0),
        seed=0,
        critics=("goal", "obstacle", "effort"),
    )
    registry = {
        "goal": lambda **kw: GoalCritic(problem.goal, **kw),
        "obstacle": lambda **kw: ObstacleCritic(problem.obstacle, **kw),
        "effort": EffortCritic,
    }
    return Mppi(mppi_cfg, build_critics(mppi_cfg.critics, registry), device=device)


@dataclass(frozen=True)
class EpisodeResult:
    """Closed-loop outcome of the unicycle example."""

    reached: bool
    steps: int
    final_distance: float
    min_clearance: float
    mean_plan_ms: float
    path: Tensor  # [steps + 1, 3]


def run_unicycle_episode(problem: UnicycleCfg, mppi: Mppi, max_steps: int = 150) -> EpisodeResult:
    """Plan, apply the first action, shift the plan; stop at the goal or after ``max_steps``."""
    state = torch.tensor(problem.start, dtype=mppi.dtype, device=mppi.device)
    goal = state.new_tensor(problem.goal)
    centre = state.new_tensor(problem.obstacle[:2])
    path = [state]
    plan_s = []
    for _ in range(max_steps):
        t0 = time.perf_counter()
        result = mppi.plan(lambda actions, s=state: unicycle_rollout(s, actions, problem.dt))
        plan_s.append(time.perf_counter() - t0)
        state = unicycle_step(state, result.action, problem.dt)
        mppi.shift(1.0)
        path.append(state)
        if torch.linalg.vector_norm(state[:2] - goal) < problem.goal_tolerance:
            break
    track = torch.stack(path)
    clearance = torch.linalg.vector_norm(track[:, :2] - centre, dim=-1).min() - problem.obstacle[2]
    final = float(torch.linalg.vector_norm(track[-1, :2] - goal))
    return EpisodeResult(
        reached=final < problem.goal_tolerance,
        steps=len(path) - 1,
        final_distance=final,
        min_clearance=float(clearance),
        mean_plan_ms=1000.0 * sum(plan_s) / max(len(plan_s), 1),
        path=track,
    )


def straight_line_blocked(problem: UnicycleCfg) -> bool:
    """True when the segment start -> goal passes through the obstacle (the example is non-trivial)."""
    (sx, sy, _), (gx, gy), (cx, cy, r) = problem.start, problem.goal, problem.obstacle
    dx, dy = gx - sx, gy - sy
    t = max(0.0, min(1.0, ((cx - sx) * dx + (cy - sy) * dy) / (dx * dx + dy * dy)))
    return math.hypot(sx + t * dx - cx, sy + t * dy - cy) < r
