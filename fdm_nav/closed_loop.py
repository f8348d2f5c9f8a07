"""Closed-loop episodes: a planner drives one simulated robot through a scenario at the control rate.

Per planning tick (``1 / observation.CONTROL_RATE`` = 0.1 s): build the FDM inputs from the 20 Hz history, take a
fresh height scan (missing cells filled) and a local height map all around the
robot (for the FDM planner's guard), plan, hold the command for 5
physics steps (0.02 s), record proprio after physics steps 2 and 5 (the same
zero-order hold as the dataset). An episode ends at the goal (success, within
the scenario's tolerance), at the first failure (collision, fall, stuck,
tipping; its cause is kept), when the progress checker gives the goal up
(aborted: ``fdm_nav.recovery``, the same code as the ROS node's) or at the
time limit (timeout). The outcome is kept by ``sim.episode.EpisodeTracker``,
the bookkeeping the Isaac Sim runner shares, so both report the same fields.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from fdm_nav.carrot import Carrot
from fdm_nav.hazard_guard import LocalMap
from fdm_nav.history import HistoryBuffer
from fdm_nav.observation import CONTROL_RATE, PROPRIO_DIM, fill_nan_nearest
from fdm_nav.planner import NavPlanner
from fdm_nav.recovery import Recovery, RecoveryCfg, remaining_and_bearing, run_step
from sim.episode import Episode, EpisodeTracker
from sim.scenario import Scenario, make_sim
from sim.terrain_sim import FAILURE_CAUSES

TICK = 1.0 / CONTROL_RATE  # s, planning period
RECORD_AFTER = (2, 5)  # physics steps (0.02 s) inside a 0.1 s tick after which a 20 Hz sample is taken


@dataclass
class EpisodeResult(Episode):
    """Outcome of one closed-loop episode: the fields every simulator reports (``sim.episode``) and the planner's."""

    plan_ms: list[float] = field(default_factory=list)
    blocked_ticks: int = 0
    recoveries: int = 0  # recovery behaviours started
    recovery_ticks: int = 0  # cycles spent in a behaviour

    def summary(self) -> dict:
        ms = sorted(self.plan_ms) or [float("nan")]
        return {
            **super().summary(),
            "plan_ms_median": round(ms[len(ms) // 2], 3),
            "blocked_ticks": self.blocked_ticks,
            "recoveries": self.recoveries,
            "recovery_ticks": self.recovery_ticks,
        }


def local_map_of(sim) -> LocalMap:
    """Heights in a yaw-aligned square around robot 0 (what an elevation-mapping node would give)."""
    return LocalMap.from_height_map(sim.height_map, sim.poses[0].tolist())


def run_episode(
    scenario: Scenario,
    planner: NavPlanner,
    planner_name: str,
    seed: int = 0,
    height_map=None,
    route: np.ndarray | None = None,
    lookahead: float = 3.0,
    recovery: RecoveryCfg | None = None,
) -> EpisodeResult:
    """Drive one robot from the scenario's start toward its goal with ``planner``.

    With a ``route`` [N, 2] (map frame, see ``sim.route``) the planner
    chases a carrot ``lookahead`` metres along it; without, the goal itself.
    ``recovery``: the progress checker's settings (default ``RecoveryCfg()``,
    the node's). A nonzero ``seed`` turns the start heading by up to +-0.3 rad.
    """
    if abs(planner.period - TICK) > 1e-9:
        raise ValueError(f"the closed loop ticks every {TICK:g} s; the planner was made for {planner.period:g} s")
    sim = make_sim(scenario, num_robots=1, seed=seed, height_map=height_map)
    if seed:  # vary the start heading slightly between episodes of the same scenario
        g = torch.Generator().manual_seed(seed)
        start = sim.poses.clone()
        start[0, 2] += float(torch.empty(1).uniform_(-0.3, 0.3, generator=g))
        sim.reset(start)
    if hasattr(planner, "attach"):  # the oracle planner simulates from the episode's own state
        planner.attach(sim)
    planner.reset()
    history = HistoryBuffer(planner.time_base.history, PROPRIO_DIM)
    history.push(sim.proprio()[0], sim.poses[0], False, float(sim.energy[0]))
    final = torch.tensor([scenario.goal.x, scenario.goal.y, float("nan")])
    carrot = Carrot(route, lookahead) if route is not None else None
    watch = Recovery(recovery or RecoveryCfg(), TICK)
    result = EpisodeResult(scenario.name, planner_name)
    track = EpisodeTracker.for_scenario(scenario, planner_name, episode=result)  # success, failure, abort, timeout
    ticks = round(scenario.time_limit / TICK)
    for k in range(ticks):
        pose = sim.poses[0].clone()
        if track.observe(k * TICK, pose.tolist()):
            break
        proprio, state = history.inputs()
        goal = final if carrot is None else torch.cat([carrot.goal(pose[:2].cpu()), final[2:]])
        path = None if carrot is None else carrot.ahead()
        step = watch.step(k * TICK, *remaining_and_bearing(pose.cpu().numpy(), goal.numpy(), final.numpy(), carrot))
        if step.action == "abort":
            track.abort(k * TICK, step.reason)
            break
        if step.reset_planner:
            planner.reset()
        result.recoveries += step.status == "no_progress"
        result.recovery_ticks += step.action == "behaviour"
        if step.action == "behaviour" and not step.moving:
            command = torch.zeros(1, 3, device=sim.device)
        else:
            scan = fill_nan_nearest(sim.height_scan()[0])
            t0 = time.perf_counter()
            plan = run_step(planner, step, proprio, state, scan, pose, goal, local_map_of(sim), path)
            result.plan_ms.append(1000.0 * (time.perf_counter() - t0))
            result.blocked_ticks += plan.status == "blocked_by_risk" and step.action == "plan"
            if step.action == "behaviour" and plan.status == "blocked_by_risk":
                watch.refused()
            command = plan.command.to(sim.device)[None]
        for s in range(1, round(TICK / sim.dt) + 1):
            sim.step(command)
            if s in RECORD_AFTER:
                history.push(sim.proprio()[0], sim.poses[0], bool(sim.failed[0]), float(sim.energy[0]))
        track.moved(sim.poses[0].tolist())
        if bool(sim.failed[0]):
            track.fail((k + 1) * TICK, FAILURE_CAUSES[int(sim.failure_cause[0])], sim.poses[0].tolist())
            break
    return result
