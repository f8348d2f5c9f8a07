"""Oracle planner: MPPI whose rollouts run through the simulator itself (an upper bound, not a robot planner).

It is privileged: ``attach(sim)`` hands it the episode's simulator, and each
planning cycle copies the robot's full state (pose, velocity, tilt, contact
heights, timers...) into a second, batched simulator of K robots on the same
terrain, then plays the K command sequences through it. Its "failure
probability" is the simulator's own failure flag, its poses the simulated
ones: what a perfect forward dynamics model would predict (up to the
simulator's velocity noise). Critics, MPPI update and gates are the same as
the FDM planner's.

Simulating K x 10 x 25 physics steps costs far more than an FDM rollout, so
the oracle uses fewer samples (128) and replans every ``replan_every`` ticks,
following its shifted plan in between.
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import Tensor

from fdm_nav.history import to_base_frame
from fdm_nav.observation import CONTROL_RATE, STEP_DT, TimeBase
from fdm_nav.planner import NavPlanner, PlannerCfg, PlanResult, default_mppi
from sim.terrain_sim import TerrainSim

# Everything TerrainSim.step reads or integrates, per robot.
SIM_STATE = (
    "poses", "vel", "cmd", "prev_cmd", "contact_h", "ground_h", "support", "vz",
    "tilt", "tilt_rate", "rough", "energy", "failed", "failure_cause", "stuck_timer",
)  # fmt: skip


def oracle_cfg(num_samples: int = 128) -> PlannerCfg:
    """The default planner settings with fewer samples (each one is a full simulation)."""
    return PlannerCfg(mppi=replace(default_mppi(), num_samples=num_samples))


class OraclePlanner(NavPlanner):
    """MPPI through copies of the episode's simulator; call ``attach(sim)`` before each episode."""

    def __init__(
        self,
        cfg: PlannerCfg | None = None,
        replan_every: int = 5,
        device: str = "cpu",
        *,
        period: float = 1.0 / CONTROL_RATE,
    ):
        cfg = cfg or oracle_cfg()
        super().__init__(cfg, device, time_base=TimeBase(horizon=cfg.mppi.horizon, step_dt=STEP_DT), period=period)
        if replan_every < 1:
            raise ValueError(f"replan_every must be >= 1, got {replan_every}")
        self.replan_every = replan_every
        self.sim: TerrainSim | None = None
        self._worlds: dict[int, TerrainSim] = {}
        self._tick = 0
        self._last: PlanResult | None = None

    def attach(self, sim: TerrainSim) -> None:
        """Use ``sim`` (robot 0) as the world to copy from."""
        self.sim, self._worlds = sim, {}
        self.reset()

    def reset(self) -> None:
        super().reset()
        self._tick, self._last = 0, None

    def _world(self, n: int) -> TerrainSim:
        if n not in self._worlds:
            sim = self.sim
            self._worlds[n] = TerrainSim(sim.platform, sim.height_map, n, self.device, dt=sim.dt, seed=n)
        return self._worlds[n]

    def prepare(self, proprio: Tensor, state: Tensor, height_scan: Tensor, local_map=None) -> dict[str, Tensor]:
        if self.sim is None:
            raise RuntimeError("the oracle planner needs attach(sim) before planning")
        return {name: getattr(self.sim, name)[0].clone() for name in SIM_STATE}

    @torch.no_grad()
    def rollout(self, context: dict[str, Tensor], commands: Tensor) -> tuple[Tensor, Tensor]:
        K, T, _ = commands.shape
        world = self._world(K)
        for name, value in context.items():
            getattr(world, name)[:] = value.to(self.device)
        steps = round(self.time_base.step_dt / world.dt)
        poses, failed = [], []
        for t in range(T):
            for _ in range(steps):
                world.step(commands[:, t])
            poses.append(to_base_frame(world.poses, context["poses"]))
            failed.append(world.failed.to(commands.dtype))
        return torch.stack(poses, dim=1), torch.stack(failed, dim=1)

    def plan(self, proprio, state, height_scan, pose, goal, local_map=None, path=None) -> PlanResult:
        """Replan every ``replan_every`` ticks (or after a refusal); in between, follow the shifted plan."""
        self._tick += 1
        last = self._last
        if last is not None and last.status == "ok" and self._tick % self.replan_every:
            command = self.mppi.nominal[0].clone()
            self.mppi.shift(self.period / self.time_base.step_dt)
            self.current = command
            return PlanResult(command.cpu(), "ok", last.risk, last.plan_poses, None, None, self.mppi.nominal)
        self._last = super().plan(proprio, state, height_scan, pose, goal, local_map, path)
        return self._last
