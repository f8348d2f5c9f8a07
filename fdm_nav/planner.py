"""MPPI navigation planners on ``dynamics_stack.mppi``: the FDM planner and the heuristic baseline.

Each cycle (every ``period`` seconds: ``observation.CONTROL_RATE`` by default,
the node's ``control_rate`` on a robot) the planner gets the robot's history,
its height scan, its pose and the goal, and returns one command:

- FDM planner: encode the context once, roll K command sequences (T = 10 x
  0.5 s) through the model in one batched call, score them with the critics
  (goal, risk, smoothness, limits), update the plan by MPPI.
- Heuristic planner (the paper's baseline): constant-velocity rollouts (the
  commands integrated as if tracked perfectly) and a geometric traversability
  map from the height scan (step, slope and drop thresholds of the platform)
  standing in for the failure probability; same critics.

Safety belongs to the planner's answer: within the goal tolerance it returns
zero and ``goal_reached``; if neither the MPPI plan nor the best sample is
below the risk threshold, it returns zero and ``blocked_by_risk``. The control
cycle (``fdm_nav.control_cycle``) adds stale-input, overrun and limit gates on top.

Time base: the FDM planner takes horizon and step from its model card
(``observation.TimeBase.of_model``), the heuristic the contract's step; the warm
start shifts the plan by ``period / step_dt`` steps each cycle, so a period
longer than one step is refused, as is an MPPI horizon that is not the model's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import Tensor

from dynamics_stack.config import cfg_to_dict
from dynamics_stack.mppi import Mppi, MppiCfg, build_critics
from dynamics_stack.runtime import ModelRuntime
from fdm_nav.critics import NAV_CRITICS, GoalCfg, LimitsCfg, NavRolloutBatch, RiskCfg, RouteCfg, SmoothnessCfg
from fdm_nav.hazard_guard import HazardGuard, HazardGuardCfg, LocalMap
from fdm_nav.history import to_base_frame
from fdm_nav.observation import (
    CONTROL_RATE,
    SCAN_OFFSET,
    SCAN_RESOLUTION,
    SCAN_X0,
    SCAN_Y0,
    STEP_DT,
    TimeBase,
)
from fdm_nav.se2 import integrate_body_velocities


def default_mppi() -> MppiCfg:
    """The paper's defaults (K = 1024, T = 10, one iteration) with smoothed noise and safe samples kept."""
    return MppiCfg(
        num_samples=1024,
        horizon=10,
        noise_sigma=(0.5, 0.2, 0.6),
        temperature=0.3,
        iterations=1,
        noise_smoothing=0.5,
        action_min=(-0.5, -0.4, -1.0),
        action_max=(1.0, 0.4, 1.0),
        include_nominal=True,
        include_zero=True,
        critics=("goal", "risk", "smoothness", "limits"),
        seed=0,
    )


@dataclass(frozen=True, kw_only=True)
class PlannerCfg:
    """Settings of a navigation planner (the same fields become the node's ROS parameters)."""

    mppi: MppiCfg = field(default_factory=default_mppi)
    """Sampler settings; ``mppi.critics`` lists the critics in use."""
    goal: GoalCfg = field(default_factory=GoalCfg)
    """Goal critic."""
    risk: RiskCfg = field(default_factory=RiskCfg)
    """Failure-risk critic; its threshold also gates the final command."""
    smoothness: SmoothnessCfg = field(default_factory=lambda: SmoothnessCfg(weight=0.5))
    """Smoothness critic."""
    limits: LimitsCfg = field(default_factory=LimitsCfg)
    """Soft command limits critic."""
    route: RouteCfg = field(default_factory=RouteCfg)
    """Route critic (used when 'route' is in mppi.critics and a route is followed)."""
    guard: HazardGuardCfg = field(default_factory=HazardGuardCfg)
    """Geometric guard folded into the FDM's failure probability (FDM planner only)."""
    goal_tolerance: float = 0.5
    """Distance [m] at which the goal counts as reached (the authors' success radius)."""

    def __post_init__(self) -> None:
        if self.mppi.nu != 3 or self.mppi.horizon < 1:
            raise ValueError("mppi must plan 3-d commands (vx, vy, wz)")
        if not (self.goal_tolerance > 0 and math.isfinite(self.goal_tolerance)):
            raise ValueError(f"goal_tolerance must be > 0, got {self.goal_tolerance}")

    def critic_params(self) -> dict[str, dict]:
        """Keyword settings of each listed critic (unknown names are left to ``build_critics`` to refuse)."""
        return {name: cfg_to_dict(getattr(self, name)) for name in self.mppi.critics if hasattr(self, name)}


@dataclass(frozen=True)
class PlanResult:
    """What a planning cycle decided."""

    command: Tensor  # [3] (vx, vy, wz) to send now
    status: str  # 'ok', 'goal_reached', 'blocked_by_risk'
    risk: float  # peak failure probability of the executed plan (1.0 when blocked)
    plan_poses: Tensor  # [T, 3] predicted poses of the chosen plan (base frame)
    batch: NavRolloutBatch | None  # the sampled rollouts (for markers), None when no planning ran
    costs: Tensor | None  # [K]
    next_plan: Tensor | None = None  # [T, 3] the plan the next cycle starts from, one period later ('ok' only)


def check_period(period: float, time_base: TimeBase) -> None:
    """ValueError unless the planning period fits the model's step (the warm start shifts by at most one step)."""
    if not (math.isfinite(period) and 0 < period <= time_base.step_dt):
        raise ValueError(
            f"planning period {period:.3g} s (1 / control_rate) must be in (0, {time_base.step_dt:g}] s, "
            f"the model's command step: control_rate must be >= {1.0 / time_base.step_dt:g} Hz"
        )


class NavPlanner:
    """MPPI over a rollout supplied by the subclass; see the module docstring."""

    def __init__(self, cfg: PlannerCfg, device: str = "cpu", *, time_base: TimeBase, period: float):
        check_period(period, time_base)
        if cfg.mppi.horizon != time_base.horizon:
            raise ValueError(
                f"planner.mppi.horizon {cfg.mppi.horizon} != the model's horizon {time_base.horizon} "
                f"(steps of {time_base.step_dt:g} s)"
            )
        self.cfg = cfg
        self.time_base = time_base
        self.period = period  # s between planning cycles
        self.device = torch.device(device)
        critics = build_critics(cfg.mppi.critics, NAV_CRITICS, cfg.critic_params(), source="planner.critics")
        self.mppi = Mppi(cfg.mppi, critics, device=self.device)
        self.current = torch.zeros(3, device=self.device)

    def reset(self) -> None:
        self.mppi.reset()
        self.current = torch.zeros(3, device=self.device)

    def prepare(self, proprio: Tensor, state: Tensor, height_scan: Tensor, local_map: LocalMap | None = None):
        """Per-cycle precomputation (context encoding); returns an opaque context."""
        raise NotImplementedError

    def rollout(self, context, commands: Tensor) -> tuple[Tensor, Tensor]:
        """Poses [K, T, 3] and failure probabilities [K, T] of commands [K, T, 3]."""
        raise NotImplementedError

    def plan(
        self,
        proprio: Tensor,
        state: Tensor,
        height_scan: Tensor,
        pose: Tensor,
        goal: Tensor,
        local_map: LocalMap | None = None,
        path: Tensor | None = None,
    ) -> PlanResult:
        """One cycle: ``pose`` [3] and ``goal`` [3] (yaw NaN = any) in the same fixed frame.

        ``local_map``: heights all around the robot for the FDM planner's guard
        (``fdm_nav.hazard_guard``); without it the guard uses the height scan.
        ``path``: [M, 2] the route ahead in that frame, for the 'route' critic.
        """
        T = self.cfg.mppi.horizon
        pose = pose.to(self.device, torch.float32)
        goal_base = to_base_frame(goal.to(self.device, torch.float32), pose)
        path_base = None
        if path is not None and len(path):
            points = torch.nn.functional.pad(torch.as_tensor(path, dtype=torch.float32, device=self.device), (0, 1))
            path_base = to_base_frame(points, pose)[:, :2]
        if torch.linalg.vector_norm(goal_base[:2]) < self.cfg.goal_tolerance:
            self.reset()
            return PlanResult(torch.zeros(3), "goal_reached", 0.0, torch.zeros(T, 3), None, None)
        context = self.prepare(proprio.to(self.device), state.to(self.device), height_scan.to(self.device), local_map)

        def rollout(commands: Tensor) -> NavRolloutBatch:
            poses, prob = self.rollout(context, commands)
            return NavRolloutBatch(commands, poses, prob, goal_base, self.current, path_base)

        result = self.mppi.plan(rollout)
        # The weighted mean of two safe detours can be unsafe: check it, then fall back to the best sample.
        candidates = torch.stack([result.plan, result.batch.actions[result.best_index]])  # [2, T, 3]
        poses, prob = self.rollout(context, candidates)
        peak = prob.max(dim=1).values  # [2]
        threshold = self.cfg.risk.threshold
        shift = self.period / self.time_base.step_dt
        self.mppi.shift(shift)
        if peak[0] <= threshold:
            choice = 0
        elif peak[1] <= threshold:
            choice = 1
            self.mppi.reset(candidates[1])
            self.mppi.shift(shift)
        else:
            self.current = torch.zeros(3, device=self.device)
            return PlanResult(
                torch.zeros(3), "blocked_by_risk", float(peak.min()), poses[0].cpu(), result.batch, result.costs
            )
        command = candidates[choice, 0]
        self.current = command
        return PlanResult(
            command.cpu(), "ok", float(peak[choice]), poses[choice].cpu(), result.batch, result.costs, self.mppi.nominal
        )

    def check(
        self,
        proprio: Tensor,
        state: Tensor,
        height_scan: Tensor,
        commands: Tensor,
        local_map: LocalMap | None = None,
    ) -> PlanResult:
        """A fixed command sequence ``commands`` [T, 3] (a recovery behaviour) judged by the same model and guard.

        'ok' with its first command when its peak failure probability stays under the
        risk threshold, else zero and 'blocked_by_risk'. The MPPI plan is left alone.
        """
        context = self.prepare(proprio.to(self.device), state.to(self.device), height_scan.to(self.device), local_map)
        poses, prob = self.rollout(context, commands.to(self.device, torch.float32)[None])
        peak = float(prob.max())
        if peak > self.cfg.risk.threshold:
            self.current = torch.zeros(3, device=self.device)
            return PlanResult(torch.zeros(3), "blocked_by_risk", peak, poses[0].cpu(), None, None)
        self.current = commands[0].to(self.device, torch.float32)
        return PlanResult(commands[0].cpu().float(), "ok", peak, poses[0].cpu(), None, None)


class FdmPlanner(NavPlanner):
    """MPPI through the learned forward dynamics model (torch or ONNX backend); time base from its card."""

    def __init__(
        self,
        runtime: ModelRuntime,
        cfg: PlannerCfg | None = None,
        device: str = "cpu",
        *,
        period: float = 1.0 / CONTROL_RATE,
    ):
        card = runtime.card
        time_base = TimeBase.of_model(card.config, str(card.path))
        try:
            super().__init__(cfg or PlannerCfg(), device, time_base=time_base, period=period)
        except ValueError as exc:  # name the model whose time base the settings do not fit
            raise ValueError(f"{card.path}: {exc}") from None
        self.runtime = runtime
        dataset = card.data.get("training", {}).get("dataset", {})
        self.platform: str | None = dataset.get("platform", {}).get("name")  # the robot the model learned
        self.guard = HazardGuard(self.cfg.guard, self.device) if self.cfg.guard.enabled else None

    def prepare(self, proprio: Tensor, state: Tensor, height_scan: Tensor, local_map: LocalMap | None = None):
        (context,) = self.runtime.run_torch("encode_context", proprio[None], state[None], height_scan[None])
        if self.guard is None:
            return context, None
        grid = local_map or LocalMap(height_scan)
        grid = LocalMap(grid.heights.to(self.device, torch.float32), grid.x0, grid.y0, grid.cell)
        return context, self.guard.prepare(grid)

    def rollout(self, context, commands: Tensor) -> tuple[Tensor, Tensor]:
        encoded, faces = context
        poses, prob = self.runtime.run_torch("rollout", encoded, commands)
        if faces is not None:
            prob = torch.maximum(prob, self.guard.failure(faces, poses))
        return poses, prob


@dataclass(frozen=True, kw_only=True)
class TraversabilityCfg:
    """Geometric thresholds of the heuristic planner (from the platform file)."""

    max_step: float = 0.25
    """Largest height difference [m] between neighbouring scan cells (0.1 m) the robot can step."""
    max_drop: float = 0.35
    """Largest drop [m] below the ground under the robot before it is a pit."""
    max_slope_deg: float = 35.0
    """Steepest slope [deg] over 0.3 m."""
    inflation: float = 0.35
    """Obstacles grow by this radius [m] (half the robot's width plus a margin)."""
    base_height: float = 0.6
    """Nominal base height [m]: a scan cell of flat ground reads base_height - 0.5 (the scan's offset)."""
    substeps: int = 5
    """Poses checked per command step (so a thin wall between two steps is still seen)."""


class HeuristicPlanner(NavPlanner):
    """Constant-velocity rollouts scored against a traversability map from the height scan.

    It has no model: its steps are the contract's ``STEP_DT``, its horizon whatever ``cfg.mppi`` says.
    """

    def __init__(
        self,
        cfg: PlannerCfg | None = None,
        trav: TraversabilityCfg | None = None,
        device: str = "cpu",
        *,
        period: float = 1.0 / CONTROL_RATE,
    ):
        cfg = cfg or PlannerCfg()
        super().__init__(cfg, device, time_base=TimeBase(horizon=cfg.mppi.horizon, step_dt=STEP_DT), period=period)
        self.trav = trav or TraversabilityCfg()

    def prepare(self, proprio: Tensor, state: Tensor, height_scan: Tensor, local_map: LocalMap | None = None):
        return traversability(height_scan, self.trav)  # [60, 46] 1 = untraversable

    def rollout(self, context: Tensor, commands: Tensor) -> tuple[Tensor, Tensor]:
        n = self.trav.substeps
        fine = commands.repeat_interleave(n, dim=1)  # [K, T n, 3]
        poses_fine = integrate_body_velocities(fine, self.time_base.step_dt / n)  # [K, T n, 3]
        hit = lookup_scan(context, poses_fine[..., :2])  # [K, T n]
        hit = hit.reshape(commands.shape[0], -1, n).amax(dim=-1)  # [K, T]
        prob = torch.cummax(hit, dim=1).values  # once failed, failed
        return poses_fine[:, n - 1 :: n], prob


def traversability(scan: Tensor, cfg: TraversabilityCfg) -> Tensor:
    """1.0 where the robot cannot stand or pass (steps, steep slopes, pits), inflated: [60, 46]."""
    height = (cfg.base_height - SCAN_OFFSET) - scan  # terrain height relative to the ground under the robot
    pad = torch.nn.functional.pad(height[None, None], (1, 1, 1, 1), mode="replicate")[0, 0]
    step = torch.zeros_like(height)
    for di, dj in ((0, 1), (1, 0), (1, 2), (2, 1)):
        step = torch.maximum(step, (pad[di : di + height.shape[0], dj : dj + height.shape[1]] - height).abs())
    gy, gx = torch.gradient(height, spacing=SCAN_RESOLUTION)
    slope = torch.atan(torch.sqrt(gx.square() + gy.square()))
    bad = (step > cfg.max_step) | (slope > math.radians(cfg.max_slope_deg)) | (height < -cfg.max_drop)
    r = max(1, round(cfg.inflation / SCAN_RESOLUTION))
    grown = torch.nn.functional.max_pool2d(bad.float()[None, None], 2 * r + 1, stride=1, padding=r)[0, 0]
    return grown


def lookup_scan(grid: Tensor, xy: Tensor) -> Tensor:
    """Nearest scan cell's value at base-frame points xy [..., 2]; 0 outside the scan (unknown = free)."""
    col = torch.round((xy[..., 0] - SCAN_X0) / SCAN_RESOLUTION).long()
    row = torch.round((SCAN_Y0 - xy[..., 1]) / SCAN_RESOLUTION).long()
    inside = (col >= 0) & (col < grid.shape[1]) & (row >= 0) & (row < grid.shape[0])
    values = grid[row.clamp(0, grid.shape[0] - 1), col.clamp(0, grid.shape[1] - 1)]
    return torch.where(inside, values, torch.zeros_like(values))
