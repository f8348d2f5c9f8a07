"""MPPI over grasp-drag-release actions with PGND rollouts: the object's particles -> a gripper action.

One action (the anchor's end-effector planning, 1 s of motion): the gripper
closes on a particle, drags it through T waypoints of 0.1 s, opens and lifts
away while the object settles. The shared engine (``dynamics_stack.mppi``)
samples K action sequences of shape [T, 5]:

- ``[:, :, 0:3]``: the gripper's displacement over each 0.1 s step (m);
- ``[:, 0, 3:5]``: where to grasp, as an offset (m) from the object's centroid
  in the table plane; the gripper closes on the particle nearest to it (later
  steps of these two columns are ignored).

The noise is piecewise constant over ``noise_hold`` steps and annealed over
the iterations (the anchor's sampling). The grasp is a discrete choice that a
softmax average would blur between particles, so it is made first, with the
model: K candidate particles (the heuristic's, then particles spread over
the object) are each dragged straight to their matched target point in one
batched rollout, and the best becomes the plan MPPI refines with the grasp
held fixed. Large objects are rolled out on ``rollout_particles`` of their
particles (farthest-point samples, and as many of the target's): PGND's grid
averages the features it gathers, so a subset moves as it would among all. Every sample is rolled out through
PGND in one batch (T drag steps with a closed gripper, then
``release_steps`` with it open and rising); the critics of
``pgnd.critics`` score the predicted particles against the target.

No rclpy and no simulator: the planner node and the in-process benchmark
call the same ``ManipPlanner.plan``.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch import Tensor

from dynamics_stack.mppi import Mppi, MppiCfg, build_critics
from dynamics_stack.pointsets import chamfer
from pgnd.critics import (
    MANIP_CRITICS,
    EffortCfg,
    ManipRolloutBatch,
    MatchedCfg,
    ShapeCfg,
    TableCfg,
    WorkspaceCfg,
)
from pgnd.manip_safety import GripperLimitsCfg
from pgnd.model import GRIPPER_DIM, Pgnd
from pgnd.sampling import farthest_point_indices

NU = 5  # dx, dy, dz per step; grasp offset x, y (first step only)


@dataclass(frozen=True, kw_only=True)
class ManipPlannerCfg:
    """Sizes, noise and limits of the manipulation planner (defaults: the anchor's sizes where it has them)."""

    samples: int = 32
    """K: actions sampled per iteration (anchor: 32)."""
    horizon: int = 10
    """T: drag steps of 0.1 s (anchor: 10 = 1 s)."""
    iterations: int = 3
    """MPPI iterations per plan after the grasp choice (anchor: 20 on a GPU; 3 keep a cloth plan within
    seconds on a CPU; 0 = the best straight drag)."""
    temperature: float = 0.3
    """Softmax temperature on costs (costs are ~1 per cm of Chamfer)."""
    noise_step: float = 0.004
    """Standard deviation (m) of the horizontal displacement noise per step; held over ``noise_hold``
    steps it moves a drag's end point by ~3 cm (1 sigma): a refinement of the chosen straight drag."""
    noise_lift: float = 0.003
    """Standard deviation (m) of the vertical displacement noise per step."""
    noise_hold: int = 5
    """Steps each noise draw is held (piecewise-constant noise, anchor)."""
    noise_decay: float = 0.6
    """Noise scale multiplier per iteration (annealing, anchor)."""
    max_step: float = 0.025
    """Largest horizontal gripper displacement per 0.1 s step (m): 25 cm/s, the data's fastest drags."""
    max_lift: float = 0.015
    """Largest vertical gripper displacement per step (m)."""
    grasp_reach: float = 0.25
    """Largest grasp offset from the object's centroid (m)."""
    grasp_radius: float = 0.02
    """Radius (m) within which a closing gripper holds particles (the simulated gripper's)."""
    release_steps: int = 3
    """Steps predicted after the gripper opens (the object settles)."""
    release_lift: float = 0.02
    """Upward gripper motion per step after release (m)."""
    rollout_particles: int = 100
    """Roll out at most this many particles (farthest-point samples; 0 = all): a cloth's 400 cost 4x the
    time, and PGND's grid averages features, so the subset moves as it would among all 400 (held-out cloth,
    1 s: 0.06 mm between the two, against 6 mm of model error)."""
    seed: int = 0
    """Seed of the sampling noise."""
    critics: tuple[str, ...] = ("shape", "workspace", "table", "effort")
    """Critics in use (pgnd.critics.MANIP_CRITICS)."""
    shape: ShapeCfg = field(default_factory=ShapeCfg)
    """Chamfer to the target."""
    matched: MatchedCfg = field(default_factory=MatchedCfg)
    """Distance to the matched target points."""
    workspace: WorkspaceCfg = field(default_factory=WorkspaceCfg)
    """Gripper workspace box."""
    table: TableCfg = field(default_factory=TableCfg)
    """Table clearance."""
    effort: EffortCfg = field(default_factory=EffortCfg)
    """Path length."""

    def __post_init__(self) -> None:
        if (
            self.samples < 3
            or self.horizon < 1
            or self.iterations < 0
            or self.release_steps < 0
            or self.rollout_particles < 0
        ):
            raise ValueError("samples >= 3, horizon >= 1, iterations >= 0 and release_steps >= 0 required")
        if min(self.max_step, self.max_lift, self.grasp_reach, self.grasp_radius, self.temperature) <= 0:
            raise ValueError("max_step, max_lift, grasp_reach, grasp_radius and temperature must be > 0")
        if min(self.noise_step, self.noise_lift) < 0:
            raise ValueError("noise standard deviations must be >= 0")
        unknown = [c for c in self.critics if c not in MANIP_CRITICS]
        if unknown:
            raise ValueError(f"unknown critic(s) {unknown}; available: {sorted(MANIP_CRITICS)}")

    @property
    def limits(self) -> GripperLimitsCfg:
        """The limits applied last to every gripper target: the workspace critic's box and the table critic's
        clearance (one source: the planner avoids what the limits would clamp)."""
        return GripperLimitsCfg(box=self.workspace.box, min_height=self.table.min_gripper_height)

    def mppi(self) -> MppiCfg:
        """The engine's settings for these sizes."""
        s, L = self.max_step, self.max_lift
        return MppiCfg(
            num_samples=self.samples,
            horizon=self.horizon,
            noise_sigma=(self.noise_step, self.noise_step, self.noise_lift, 0.0, 0.0),  # the grasp is chosen first
            temperature=self.temperature,
            iterations=max(1, self.iterations),  # the planner runs the iterations itself
            noise_hold=min(self.noise_hold, self.horizon),
            noise_decay=self.noise_decay,
            action_min=(-s, -s, -L, -self.grasp_reach, -self.grasp_reach),
            action_max=(s, s, L, self.grasp_reach, self.grasp_reach),
            include_nominal=True,
            seed=self.seed,
            critics=self.critics,
        )


@dataclass(frozen=True)
class ManipPlan:
    """One planned grasp-drag-release action and what the model predicts for it (table frame, m)."""

    grasp_index: int  # particle the gripper closes on
    grasp: np.ndarray  # [3] gripper centre when it closes
    path: np.ndarray  # [T, 3] gripper centre after each 0.1 s drag step
    predicted: np.ndarray  # [T + R, n, 3] the rolled-out particles (all, or rollout_particles of them) after each step
    predicted_chamfer: float  # Chamfer of the predicted settled object to the target
    cost: float  # total cost of the plan
    critic_costs: dict[str, float] = field(default_factory=dict)
    samples_final: np.ndarray | None = None  # [K, N, 3] the last iteration's predicted final clouds
    plan_s: float = 0.0  # wall time of the planning call


def match_targets(particles: np.ndarray, target: np.ndarray) -> np.ndarray:  # [N, 3], [M, 3] -> [N, 3]
    """For each particle, the target point of an optimal one-to-one matching (targets repeated or
    subsampled when M != N)."""
    reps = int(np.ceil(len(particles) / len(target)))
    pool = np.tile(target, (reps, 1))
    cost = np.linalg.norm(particles[:, None, :] - pool[None], axis=-1)
    rows, cols = linear_sum_assignment(cost)
    out = np.empty_like(particles)
    out[rows] = pool[cols]
    return out


def straight_drag(start: np.ndarray, goal: np.ndarray, cfg: ManipPlannerCfg) -> np.ndarray:  # [3] x2 -> [T, 3]
    """Equal steps in the table plane from ``start`` towards ``goal``, each at most ``max_step`` long."""
    d = goal - start
    d[2] = 0.0  # drag in the table plane; the grasp height is kept
    per_step = d / cfg.horizon
    norm = np.linalg.norm(per_step[:2])
    if norm > cfg.max_step:
        per_step *= cfg.max_step / norm
    return np.repeat(per_step[None], cfg.horizon, axis=0)


def heuristic_action(
    particles: np.ndarray, target: np.ndarray, cfg: ManipPlannerCfg
) -> tuple[int, np.ndarray]:  # -> (particle index, displacements [T, 3])
    """Grasp the particle farthest from its matched target point and drag it straight there."""
    matched = match_targets(particles, target)
    i = int(np.argmax(np.linalg.norm(matched - particles, axis=-1)))
    return i, straight_drag(particles[i], matched[i], cfg)


def grasp_candidates(particles: np.ndarray, target: np.ndarray, cfg: ManipPlannerCfg) -> np.ndarray:
    """K candidate actions [K, T, 5]: the heuristic's particle first, then particles spread over the object
    (farthest-point order), each dragged straight to its matched target point."""
    matched = match_targets(particles, target)
    first, _ = heuristic_action(particles, target, cfg)
    spread = farthest_point_indices(torch.from_numpy(particles), min(len(particles), cfg.samples)).numpy()
    order = [first, *[int(i) for i in spread if i != first]][: cfg.samples]
    order += [first] * (cfg.samples - len(order))  # fewer particles than samples: repeat the heuristic's
    centroid = particles[:, :2].mean(axis=0)
    out = np.zeros((cfg.samples, cfg.horizon, NU), np.float32)
    for k, i in enumerate(order):
        out[k, :, 0:3] = straight_drag(particles[i], matched[i], cfg)
        out[k, 0, 3:5] = particles[i, :2] - centroid
    return out


class ManipPlanner:
    """Plans one grasp-drag-release action for the current particles and a target cloud."""

    def __init__(self, model: Pgnd, cfg: ManipPlannerCfg | None = None, device: str | torch.device = "cpu") -> None:
        self.cfg = cfg or ManipPlannerCfg()
        self.model = model.to(device).eval()
        self.model.compact_grid = True  # active-node evaluation: the planning batch's speed
        self.device = torch.device(device)
        params = {name: dataclasses.asdict(getattr(self.cfg, name)) for name in self.cfg.critics}
        critics = build_critics(self.cfg.critics, MANIP_CRITICS, params, "ManipPlannerCfg.critics")
        self.mppi = Mppi(self.cfg.mppi(), critics, device=self.device)

    @property
    def history(self) -> int:
        return self.model.cfg.history

    def gripper_inputs(self, grasp: Tensor, steps: Tensor) -> tuple[Tensor, Tensor]:
        """grasp [K, 3], steps [K, T, 3] -> gripper centres [K, T+1, 3] and model inputs [K, T+R, 15]."""
        cfg, dt = self.cfg, self.model.cfg.dt
        K, T, _ = steps.shape
        centre = torch.cat((grasp[:, None], grasp[:, None] + torch.cumsum(steps, dim=1)), dim=1)  # [K, T+1, 3]
        R = cfg.release_steps
        rise = torch.tensor([0.0, 0.0, cfg.release_lift], dtype=steps.dtype, device=steps.device)
        after = centre[:, -1:] + rise * torch.arange(R + 1, dtype=steps.dtype, device=steps.device)[None, :, None]
        pos = torch.cat((centre[:, :-1], after), dim=1)  # [K, T+R+1, 3]: positions at the start of each step
        g = torch.zeros(K, T + R, GRIPPER_DIM, dtype=steps.dtype, device=steps.device)
        g[..., 0:3] = pos[:, :-1]
        g[..., 3:6] = (pos[:, 1:] - pos[:, :-1]) / dt
        g[..., 6] = 1.0  # identity orientation: the planner does not turn the gripper
        g[..., 13] = cfg.grasp_radius
        g[:, T:, 14] = 1.0  # open after the drag
        return centre, g

    def grasp_points(self, particles: Tensor, offsets: Tensor) -> tuple[Tensor, Tensor]:
        """particles [N, 3], offsets [K, 2] -> index [K] of the particle nearest (in the plane) to the
        centroid + offset, and where the gripper closes [K, 3]."""
        target = particles[:, :2].mean(dim=0) + offsets  # [K, 2]
        index = torch.cdist(target, particles[:, :2]).argmin(dim=-1)  # [K]
        grasp = particles[index].clone()
        grasp[:, 2] = grasp[:, 2].clamp(min=self.cfg.table.min_gripper_height)
        return index, grasp

    def rollout_fn(self, history: Tensor, target: Tensor, matched: Tensor | None = None):
        """The engine's batched rollout for particles ``history`` [H+1, N, 3] and ``target`` [M, 3]
        (``matched`` [N, 3]: each particle's matched target point, for the 'matched' critic)."""
        current = history[-1]

        def rollout(actions: Tensor) -> ManipRolloutBatch:  # [K, T, 5]
            K = actions.shape[0]
            _, grasp = self.grasp_points(current, actions[:, 0, 3:5])
            centre, g = self.gripper_inputs(grasp, actions[..., 0:3])
            with torch.inference_mode():
                pred = self.model.rollout(history[None].expand(K, -1, -1, -1), g)  # [K, T+R, N, 3]
            return ManipRolloutBatch(
                actions=actions, states=pred.flatten(2), particles=pred, gripper=centre, target=target, matched=matched
            )

        return rollout

    def plan(self, history: np.ndarray, target: np.ndarray) -> ManipPlan:
        """history [H+1, N, 3] (oldest first; at least the model's history + 1 frames), target [M, 3]."""
        t0 = time.perf_counter()
        hist = np.asarray(history, dtype=np.float32)
        if hist.ndim != 3 or hist.shape[-1] != 3 or hist.shape[0] < self.history + 1:
            raise ValueError(f"history must be [>= {self.history + 1}, N, 3], got {hist.shape}")
        target = np.asarray(target, dtype=np.float32)
        if target.ndim != 2 or target.shape[-1] != 3 or len(target) < 1:
            raise ValueError(f"target must be [M >= 1, 3], got {target.shape}")
        if not (np.isfinite(hist).all() and np.isfinite(target).all()):
            raise ValueError("history and target must be finite")
        hist = hist[-(self.history + 1) :]
        cfg = self.cfg
        keep = np.arange(hist.shape[1])
        if 0 < cfg.rollout_particles < hist.shape[1]:  # fewer particles, the same object (module docstring)
            keep = farthest_point_indices(torch.from_numpy(hist[-1]), cfg.rollout_particles).numpy()
            hist = hist[:, keep]
        if 0 < cfg.rollout_particles < len(target):
            target = target[farthest_point_indices(torch.from_numpy(target), cfg.rollout_particles).numpy()]
        current = hist[-1]
        h = torch.from_numpy(hist).to(self.device)
        tgt = torch.from_numpy(target).to(self.device)
        matched = torch.from_numpy(match_targets(current.astype(np.float64), target.astype(np.float64))).float()
        rollout = self.rollout_fn(h, tgt, matched.to(self.device))
        # 1. the grasp: every candidate particle dragged straight to its matched target point, one batch
        candidates = grasp_candidates(current, target, cfg)
        first = torch.from_numpy(candidates).to(self.device)
        self.mppi.reset(first[0])  # (the engine's nominal only sizes the update below)
        choice = self.mppi.update(rollout(first))
        # 2. MPPI over the drag with that grasp fixed (no noise on the grasp columns)
        best_cost, best = float(choice.costs[choice.best_index]), first[choice.best_index]
        self.mppi.reset(best)
        scale, last = 1.0, choice
        for _ in range(cfg.iterations):
            last = self.mppi.update(rollout(self.mppi.sample(scale)))
            if float(last.costs[last.best_index]) < best_cost:
                best_cost, best = float(last.costs[last.best_index]), last.batch.actions[last.best_index]
            scale *= cfg.noise_decay
        # 3. the final average plan, unless a sample seen on the way was better: more iterations never
        # return a worse plan (each iteration's first sample is the previous plan)
        plan = self.mppi.nominal
        final = rollout(plan[None])
        costs = {c.name: float(c.weight * c.score(final)[0]) for c in self.mppi.critics}
        if sum(costs.values()) > best_cost:
            plan = best.clone()
            final = rollout(plan[None])
            costs = {c.name: float(c.weight * c.score(final)[0]) for c in self.mppi.critics}
        idx, grasp = self.grasp_points(h[-1], plan[None, 0, 3:5])
        return ManipPlan(
            grasp_index=int(keep[int(idx[0])]),
            grasp=grasp[0].cpu().numpy().astype(np.float64),
            path=final.gripper[0, 1:].cpu().numpy().astype(np.float64),
            predicted=final.particles[0].cpu().numpy(),
            predicted_chamfer=float(chamfer(final.particles[:, -1], tgt)[0]),
            cost=float(sum(costs.values())),
            critic_costs=costs,
            samples_final=last.batch.particles[:, -1].cpu().numpy(),
            plan_s=time.perf_counter() - t0,
        )


class HeuristicPlanner:
    """The scripted baseline: the heuristic action (``heuristic_action``) as is, no model."""

    def __init__(self, cfg: ManipPlannerCfg | None = None, history: int = 2) -> None:
        self.cfg = cfg or ManipPlannerCfg()
        self.history = history

    def plan(self, history: np.ndarray, target: np.ndarray) -> ManipPlan:
        t0 = time.perf_counter()
        current = np.asarray(history, dtype=np.float64)[-1]
        index, steps = heuristic_action(current, np.asarray(target, dtype=np.float64), self.cfg)
        grasp = current[index].copy()
        grasp[2] = max(grasp[2], self.cfg.table.min_gripper_height)
        return ManipPlan(
            grasp_index=index,
            grasp=grasp,
            path=grasp + np.cumsum(steps, axis=0),
            predicted=np.zeros((0, *current.shape)),
            predicted_chamfer=float("nan"),
            cost=float("nan"),
            plan_s=time.perf_counter() - t0,
        )
