"""The navigation control cycle without ROS: from the latest inputs to this cycle's command, and why.

The ``fdm_planner`` node (``fdm_nav.node``) only converts messages: it hands
every parsed input to a ``ControlCycle`` and publishes what ``tick`` decides.
Each tick decides, in this order (the status names are those of ~/status):

1. no goal: publish nothing (``idle``; after a goal, ``goal_reached`` stays shown).
2. odometry or map missing or older than its limit (by stamp), or no proprio
   history yet: zero for ``stale_hold`` s, then nothing (``stale_input``).
3. a plan of an earlier cycle still running: ``overrun`` (see 5).
4. within ``planner.goal_tolerance`` of the goal: zero, goal cleared (``goal_reached``).
5. the progress checker (``fdm_nav.recovery``): no progress for ``recovery.window``
   s starts a recovery behaviour (``no_progress``, then ``recovering``); too many
   in a row give the goal up (``aborted``: zero, goal cleared).
6. plan (or judge a moving behaviour's commands), waiting at most ``plan_budget``
   s. Not in time: the previous plan, shifted to now, for ``max_overrun_cycles``
   cycles, then zero (``overrun``).
7. the planner's answer: ``goal_reached`` (zero, goal cleared),
   ``blocked_by_risk`` (zero: no plan under the risk threshold) or ``ok`` (its
   first command; the plan is kept for overruns).

Every command then passes ``gate`` (``fdm_nav.safety.CommandGate``): non-finite
-> zero, velocity bounds always, acceleration bounds between planned commands;
a safety stop passes as exact zero.

Goals, maps and routes must be in the odometry's frame (no tf2 here) or carry
an empty frame; anything else is refused with a reason (``InputRefused``).
A goal and the route to it come on two topics, from two publishers, in either
order: the newest route is kept, and followed as soon as (and as long as) it
ends at the current goal, whichever of the two came first.

When a cycle runs is the node's timer (every period, so stale input is still
answered) or fresh odometry once most of a period has passed
(``due_on_odometry``), so a command answers the newest odometry rather than one
that waited for the timer.
"""

from __future__ import annotations

import concurrent.futures
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from dynamics_stack.paths import resolve_package_file
from dynamics_stack.ros.nav_types import ElevationGrid, OdomSample
from fdm_nav.carrot import Carrot
from fdm_nav.hazard_guard import LocalMap
from fdm_nav.node_cfg import PlannerNodeCfg
from fdm_nav.node_inputs import OdomHistory, grid_height_map, scan_from_map
from fdm_nav.planner import FdmPlanner, HeuristicPlanner, NavPlanner, PlanResult, check_period
from fdm_nav.recovery import Recovery, remaining_and_bearing, run_step
from fdm_nav.safety import CommandGate, OverrunFallback, StaleHold

ZERO = np.zeros(3)
MODEL_KEYS = ("model", "backend", "planner_type", "device", "control_rate")  # a change rebuilds the planner


class InputRefused(ValueError):
    """An input the cycle will not use (wrong frame, a route to another goal); the message says why."""


def build_planner(cfg: PlannerNodeCfg) -> NavPlanner:
    """The planner ``cfg`` names, planning every ``1 / control_rate`` s (an FDM's card is verified on load).

    Raises ValueError (settings that do not fit the model: horizon, period, inputs), OSError or
    ``ModelFileError`` (a missing or damaged model file), naming the cause.
    """
    if cfg.device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {cfg.device!r}: CUDA is not available on this machine")
    period = 1.0 / cfg.control_rate
    if cfg.planner_type == "heuristic":
        return HeuristicPlanner(cfg.planner, cfg.traversability, device=cfg.device, period=period)
    from dynamics_stack.runtime import load_runtime

    runtime = load_runtime(resolve_package_file(cfg.model), backend=cfg.backend, device=cfg.device)
    return FdmPlanner(runtime, cfg.planner, cfg.device, period=period)


class PlanWorker:
    """Runs one planning job at a time on its own thread; the cycle waits for it at most a budget."""

    def __init__(self) -> None:
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="fdm_plan")
        self._future: concurrent.futures.Future | None = None

    @property
    def busy(self) -> bool:
        """A job is still running (one that missed its budget goes on until it ends)."""
        return self._future is not None and not self._future.done()

    def run(self, job: Callable[[], Any], budget: float) -> Any | None:
        """``job()``'s result, or None when it did not finish within ``budget`` seconds."""
        self._future = self._pool.submit(job)
        try:
            return self._future.result(timeout=budget)
        except concurrent.futures.TimeoutError:
            return None

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._future = None


@dataclass(frozen=True)
class Decision:
    """What one cycle decided: the command before the gate (None: publish nothing), why, and the plan made."""

    command: np.ndarray | None  # [3] vx, vy, wz
    stop: bool  # a safety stop: the gate passes exact zero
    plan: PlanResult | None = None  # this cycle's plan (for the path and markers); None when none was made
    origin: OdomSample | None = None  # the odometry the plan was made from


class ControlCycle:
    """The planner node's inputs, safety state and decisions; see the module docstring.

    ``configure(cfg)`` (at configure and for live parameter updates) builds the
    planner; inputs come through ``take_odometry``, ``take_map``, ``set_goal`` and
    ``set_route``; ``tick(now, mono)`` runs one cycle; ``gate(command, stop)`` is
    the last step before publishing. ``status`` and ``reason`` say what the last
    cycle did. Inputs may arrive on other threads than the cycle: a lock guards them.
    """

    def __init__(self, runner: PlanWorker | None = None) -> None:
        self.runner = runner or PlanWorker()
        self.cfg: PlannerNodeCfg | None = None
        self.planner: NavPlanner | None = None
        self.gate_rule: CommandGate | None = None
        self.stale: StaleHold | None = None
        self.fallback: OverrunFallback | None = None
        self.recovery: Recovery | None = None
        self._lock = threading.Lock()
        self._reset_requested = False
        self._last_cycle = -math.inf  # monotonic time of the last cycle
        self.status, self.reason = "unconfigured", ""
        self.last_plan_ms = math.nan
        self.last_risk = math.nan
        self.last_odom_t: float | None = None  # stamp of the odometry the last plan answered
        self.last_target: np.ndarray | None = None  # [2] where the last cycle steered: the carrot or the goal
        self.clear_inputs()

    def clear_inputs(self) -> None:
        """Forget every input and the commands sent (a fresh start)."""
        self.odom: OdomSample | None = None
        self.grid: ElevationGrid | None = None
        self.height_map = None  # sim.height_map.HeightMap view of ``grid``
        self.goal: np.ndarray | None = None  # [3] x, y, yaw (NaN: any heading) in the odometry frame
        self.carrot: Carrot | None = None
        self.route: np.ndarray | None = None  # [N, 2] the newest route received, whichever goal it leads to
        history = self.planner.time_base.history if self.planner is not None else None
        self.history = OdomHistory(history) if history is not None else None
        self.cmd_now = ZERO.copy()  # the command being tracked (last published)
        self.cmd_prev = ZERO.copy()

    # ------------------------------------------------------------------ settings

    @property
    def period(self) -> float:
        return 1.0 / self.cfg.control_rate

    @property
    def busy(self) -> bool:
        return self.runner.busy

    def check(self, cfg: PlannerNodeCfg) -> None:
        """ValueError when ``cfg`` cannot run with the current model (so a live update is refused, with the reason)."""
        if self.planner is not None and cfg.model == self.cfg.model and cfg.planner_type == self.cfg.planner_type:
            check_period(1.0 / cfg.control_rate, self.planner.time_base)

    def configure(self, cfg: PlannerNodeCfg) -> None:
        """Take new settings between cycles; rebuild what they change. Raises before anything changed."""
        old = self.cfg
        rebuild = (
            old is None
            or any(getattr(old, k) != getattr(cfg, k) for k in MODEL_KEYS)
            or (old.planner, old.traversability) != (cfg.planner, cfg.traversability)
        )
        planner = build_planner(cfg) if rebuild else self.planner
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        new_history = self.planner is None or planner.time_base.history != self.planner.time_base.history
        self.cfg, self.planner = cfg, planner
        if new_history:
            self.history = OdomHistory(planner.time_base.history)
        last = self.gate_rule.last if self.gate_rule is not None else ZERO.copy()
        self.gate_rule = CommandGate(cfg.gate, self.period)
        self.gate_rule.last = last
        since = self.stale.since if self.stale is not None else None
        self.stale = StaleHold(cfg.stale_hold)
        self.stale.since = since  # a stale period in progress keeps its start
        previous = self.fallback
        self.fallback = OverrunFallback(cfg.max_overrun_cycles, planner.time_base.step_dt)
        if previous is not None and old is not None and old.planner == cfg.planner:
            # Same planner settings: the last plan stays valid for overrun cycles (and the counters go on).
            self.fallback.plan, self.fallback.t0, self.fallback.total = previous.plan, previous.t0, previous.total
        if self.recovery is None or old is None or old.recovery != cfg.recovery or old.control_rate != cfg.control_rate:
            self.recovery = Recovery(cfg.recovery, self.period)

    def close(self) -> None:
        """Stop the planning thread; the cycle is unconfigured afterwards."""
        self.runner.close()
        self.cfg = self.planner = None
        self.gate_rule = self.stale = self.fallback = self.recovery = None
        self.clear_inputs()

    # ------------------------------------------------------------------ inputs

    def check_frame(self, name: str, frame: str) -> None:
        """InputRefused unless ``frame`` is empty or the odometry's (no tf2 here)."""
        if self.odom is not None and frame and frame != self.odom.frame:
            raise InputRefused(
                f"{name} frame '{frame}' is not the odometry frame '{self.odom.frame}' (no tf2 here: "
                "send it in the odometry frame)"
            )

    def take_odometry(self, sample: OdomSample) -> None:
        """The newest odometry: the robot's pose and one proprio sample (20 Hz by stamp)."""
        with self._lock:
            self.odom = sample
            if self.cfg is None:
                return
            ground = self.grid.height_at(sample.position[0], sample.position[1]) if self.grid is not None else math.nan
            base_height = sample.position[2] - ground if math.isfinite(ground) else self.cfg.base_height
            self.history.add(
                sample.t,
                sample.pose2d,
                sample.position[2],
                sample.quaternion,
                sample.linear,
                sample.angular,
                self.cmd_now,
                self.cmd_prev,
                float(np.clip(base_height, 0.0, 2.0 * self.cfg.base_height)),
            )

    def take_map(self, grid: ElevationGrid) -> None:
        """The newest elevation map (already checked; its frame with ``check_frame`` first)."""
        height_map = grid_height_map(grid.heights, grid.origin, grid.resolution)
        with self._lock:
            self.grid, self.height_map = grid, height_map

    def set_goal(self, frame: str, goal: np.ndarray) -> None:
        """A new goal (x, y in ``frame``; the heading is left free). The planner starts afresh next cycle.

        A route that came before its goal (another topic, another publisher: either order) is followed now.
        """
        self.check_frame("goal_pose", frame)
        with self._lock:
            self.goal = np.array([goal[0], goal[1], math.nan])  # the planner reaches positions; heading is free
            self.carrot = self._carrot_for(self.route, self.goal)
            self._reset_requested = True  # planner, fallback plan and progress window are reset by the next cycle

    def set_route(self, frame: str, xy: np.ndarray) -> None:
        """A global route [N, 2]: followed (a carrot ``lookahead`` m along it) while it ends at the current goal.

        A route that ends elsewhere is kept, not used: its goal may still be on its way (a
        global planner publishes a route once, and DDS orders nothing across topics).
        """
        self.check_frame("route", frame)
        route = np.asarray(xy, dtype=np.float32).copy()
        with self._lock:
            if self.carrot is not None and self.route is not None and np.array_equal(route, self.route):
                return  # the same route again (a second subscription, a re-send): keep the carrot's progress
            self.route = route
            carrot = self._carrot_for(route, self.goal)
            if carrot is not None:
                self.carrot = carrot

    def _carrot_for(self, route: np.ndarray | None, goal: np.ndarray | None) -> Carrot | None:
        """A carrot along ``route`` when it ends at ``goal`` (within ``max(1 m, goal_tolerance)``), else None."""
        if route is None or goal is None or self.cfg is None:
            return None
        if math.hypot(route[-1, 0] - goal[0], route[-1, 1] - goal[1]) > max(1.0, self.cfg.planner.goal_tolerance):
            return None
        return Carrot(route, self.cfg.lookahead)

    # ------------------------------------------------------------------ when

    def due_on_timer(self, mono: float) -> bool:
        """The timer runs a cycle unless odometry started one within the last period (``mono``: monotonic s)."""
        return mono - self._last_cycle >= 0.9 * self.period

    def due_on_odometry(self, mono: float, now: float, stamp: float) -> bool:
        """Fresh odometry (stamped ``stamp``, clock ``now``) starts a cycle once most of a period has passed.

        Messages that queued up during a cycle are too old to start one; the newest of them will.
        """
        return mono - self._last_cycle >= 0.85 * self.period and now - stamp < 0.5 * self.period

    # ------------------------------------------------------------------ the cycle

    def tick(self, now: float, mono: float | None = None) -> Decision:
        """One control cycle at stamp-clock time ``now``; sets ``status`` and ``reason``."""
        self._last_cycle = time.monotonic() if mono is None else mono
        busy = self.runner.busy
        if self._reset_requested and not busy:
            self._reset_requested = False
            self.planner.reset()
            self.fallback.forget()
            self.recovery.restart()
        return self._decide(now, busy)

    def _stale_reason(self, now: float) -> str | None:
        cfg = self.cfg
        if self.odom is None:
            return "no odometry received"
        if now - self.odom.t > cfg.max_odom_age:
            return f"odometry is {now - self.odom.t:.2f} s old (max_odom_age {cfg.max_odom_age} s)"
        if self.grid is None:
            return "no elevation map received"
        if now - self.grid.t > cfg.max_map_age:
            return f"elevation map is {now - self.grid.t:.2f} s old (max_map_age {cfg.max_map_age} s)"
        if not self.history.ready:
            return "no proprio history yet"
        return None

    def _decide(self, now: float, busy: bool) -> Decision:
        if self.goal is None:
            if self.status not in ("goal_reached", "aborted"):  # a goal's end stays shown until the next goal
                self.status, self.reason = "idle", "no goal"
            return Decision(None, False)
        stale = self._stale_reason(now)
        if stale is not None:
            self.status, self.reason = "stale_input", stale
            self.fallback.forget()
            self.recovery.pause()
            return Decision(self.stale.stale(now), True)
        self.stale.fresh()
        if busy:
            return self._overrun(now, "previous plan still running")
        tolerance = self.cfg.planner.goal_tolerance
        with self._lock:  # one consistent snapshot of the inputs
            odom, height_map, final, carrot = self.odom, self.height_map, self.goal, self.carrot
            pose = odom.pose2d
            pose_t = torch.as_tensor(pose, dtype=torch.float32)
            goal = torch.as_tensor(final, dtype=torch.float32)
            path = None
            if carrot is not None:
                goal = torch.cat([carrot.goal(pose_t[:2]), goal[2:]])
                path = carrot.ahead()
            remaining, bearing = remaining_and_bearing(pose, goal.numpy(), final, carrot)
            self.last_target = goal.numpy()[:2].copy()
            proprio, state_rows = self.history.inputs()
            reached = math.hypot(final[0] - pose[0], final[1] - pose[1]) < tolerance
            if reached:
                self.goal, self.carrot = None, None
        if reached:
            self.status, self.reason = "goal_reached", f"within {tolerance} m of the goal"
            self.planner.reset()
            return Decision(ZERO.copy(), True)
        step = self.recovery.step(now, remaining, bearing)
        if step.action == "abort":
            self.status, self.reason = step.status, step.reason
            self.planner.reset()
            self.fallback.forget()
            with self._lock:
                self.goal, self.carrot = None, None
            return Decision(ZERO.copy(), True)
        if step.reset_planner:  # a behaviour ended: plan afresh ("wait and replan")
            self.planner.reset()
        if step.action == "behaviour" and not step.moving:  # waiting: a stop needs no model
            self.status, self.reason = step.status, step.reason
            self.fallback.forget()
            return Decision(ZERO.copy(), True)
        scan = scan_from_map(height_map, pose, odom.position[2])
        local_map = LocalMap.from_height_map(height_map, pose)  # the FDM planner's hazard guard sees all around
        planner = self.planner
        t_start = time.perf_counter()
        result = self.runner.run(
            lambda: run_step(planner, step, proprio, state_rows, scan, pose_t, goal, local_map, path),
            self.cfg.plan_budget,
        )
        if result is None:
            return self._overrun(now, f"planning took longer than plan_budget {self.cfg.plan_budget} s")
        self.last_plan_ms = 1000.0 * (time.perf_counter() - t_start)
        self.last_odom_t = odom.t  # the odometry this command was planned from (latency measurements)
        self.last_risk = result.risk
        if step.action == "behaviour":
            self.fallback.forget()  # an overrun during a behaviour stops rather than replay it
            if result.status == "blocked_by_risk":
                self.recovery.refused()
                self.status = "recovering"
                self.reason = (
                    f"{step.reason}: refused, predicted failure risk {result.risk:.2f} > "
                    f"threshold {self.cfg.planner.risk.threshold}"
                )
                return Decision(ZERO.copy(), True, result, odom)
            self.status, self.reason = step.status, step.reason
            return Decision(result.command.double().numpy(), False, result, odom)
        if result.status == "goal_reached":
            self.status, self.reason = "goal_reached", "planner: within goal tolerance"
            with self._lock:
                self.goal, self.carrot = None, None
            return Decision(ZERO.copy(), True, result, odom)
        if result.status == "blocked_by_risk":
            threshold = self.cfg.planner.risk.threshold
            self.status = "blocked_by_risk"
            self.reason = f"best plan's failure risk {result.risk:.2f} > threshold {threshold}"
            self.fallback.forget()
            return Decision(ZERO.copy(), True, result, odom)
        command = result.command.double().numpy()
        # ``next_plan`` starts one period after now: prepend the command sent now for the fallback.
        self.fallback.store(np.concatenate([command[None], result.next_plan.detach().double().cpu().numpy()]), now)
        self.status, self.reason = "ok", ""
        return Decision(command, False, result, odom)

    def _overrun(self, now: float, why: str) -> Decision:
        command, stopped = self.fallback.overrun(now)
        self.status = "overrun"
        n = self.fallback.consecutive
        self.reason = f"{why}; " + (
            f"zero after {n} overrun cycles" if stopped else f"previous plan shifted ({n}/{self.fallback.max_cycles})"
        )
        return Decision(command, stopped)

    # ------------------------------------------------------------------ output

    def gate(self, command: np.ndarray, stop: bool) -> np.ndarray:
        """The command to publish now (``CommandGate``), remembered as the command the robot tracks."""
        out = self.gate_rule.apply(command, stop=stop)
        if not np.array_equal(out, self.cmd_now):
            self.cmd_prev, self.cmd_now = self.cmd_now, out
        return out

    def report(self) -> dict[str, Any]:
        """The status fields of ~/status and /diagnostics (the node adds its drop counts)."""
        return {
            "state": self.status,
            "reason": self.reason,
            "risk": None if not math.isfinite(self.last_risk) else round(self.last_risk, 4),
            "plan_ms": None if not math.isfinite(self.last_plan_ms) else round(self.last_plan_ms, 2),
            "odom_stamp": self.last_odom_t,
            "overruns": self.fallback.total if self.fallback is not None else 0,
            "route": self.carrot is not None,  # following a route to the current goal
            "target": None if self.last_target is None else [round(float(v), 3) for v in self.last_target],
            "recoveries": self.recovery.total if self.recovery is not None else 0,  # behaviours for this goal
        }
