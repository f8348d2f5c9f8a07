"""The manipulation planner node's decisions on plain numbers: observe, plan, execute an action, settle, repeat.

No rclpy: ``pgnd.planner_node`` turns messages into the arguments of ``tick``
and its ``Command`` back into messages, and tests drive every state with
explicit times. States (the ``state`` of ``~/status``):

- ``idle``: no target yet;
- ``observing``: waiting for H+1 object clouds stamped after the perception
  was restarted (the planner needs the object's recent history);
- ``planning``: ``ManipPlanner.plan`` runs on a worker; the gripper holds;
- ``executing``: one waypoint per tick: above the grasp point (open), down
  to it, close, the planned path, open, rise, park;
- ``settling``: ``settle_s`` with the gripper parked, then the shape is
  checked against the target: ``done``, or ``observing`` again while the
  action budget lasts (``budget_spent`` when it does not);
- ``stale_input``: the gripper state or (while observing) the object cloud is
  older than ``max_age``: hold where the gripper is, open or closed as it
  is (nothing is dropped mid-air); the cycle resumes where it was once fresh
  input arrives;
- ``plan_failed``: the planner raised; hold, then observe again.

Every pose leaves through ``clamp_action`` with the planner's limits
(``ManipPlannerCfg.limits``: workspace box, table clearance); non-finite
targets are refused and the gripper holds instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from dynamics_stack.pointsets import chamfer
from pgnd.manip_safety import GripperLimitsCfg, UnsafeTarget, clamp_action

STATES = (
    "idle", "observing", "planning", "executing", "settling", "done", "budget_spent", "stale_input", "plan_failed",
)  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class ManipCycleCfg:
    """Timing and motion of the planner node's action cycle."""

    max_age: float = 1.0
    """Inputs older than this (s, by stamp) are stale: the gripper holds. Perceiving four cameras takes a few
    tenths of a second per frame on a CPU, and the object rests while it is observed."""
    settle_s: float = 0.6
    """Seconds the gripper stays parked after an action before the shape is checked."""
    approach_height: float = 0.05
    """The open gripper comes down onto the grasp point from this high above it (m)."""
    rise: float = 0.1
    """After opening, the gripper rises this far before parking (m)."""
    park: tuple[float, float, float] = (0.0, 0.0, 0.2)
    """Where the gripper waits between actions (m, table frame): above the table, out of the way."""
    success_chamfer: float = 0.02
    """Chamfer (m) of the observed object to the target that counts as done (a task file's value replaces it)."""
    max_actions: int = 10
    """Actions per target before giving up (``budget_spent``)."""
    reach_tolerance: float = 0.005
    """The gripper has reached a waypoint it must wait for within this distance (m)."""
    reach_timeout: float = 5.0
    """Seconds a waypoint is held at most before the cycle moves on (a gripper that cannot get there)."""

    def __post_init__(self) -> None:
        if not (self.max_age > 0 and self.settle_s >= 0 and self.approach_height >= 0 and self.rise >= 0):
            raise ValueError("max_age > 0, settle_s >= 0, approach_height >= 0 and rise >= 0 required")
        if not (self.reach_tolerance > 0 and self.reach_timeout > 0):
            raise ValueError("reach_tolerance and reach_timeout must be > 0")
        if not 0 < self.success_chamfer < 1 or self.max_actions < 1:
            raise ValueError("success_chamfer in (0, 1) m and max_actions >= 1 required")
        if not all(math.isfinite(v) for v in self.park):
            raise ValueError(f"park must be finite, got {self.park}")


@dataclass(frozen=True)
class Command:
    """What to send this tick: a gripper pose target (None = send nothing) and whether it is closed."""

    pose: np.ndarray | None
    closed: bool
    state: str
    reason: str = ""


@dataclass
class Waypoint:
    """A gripper target; ``wait``: hold it until the gripper is there (and closed or open as asked) before the
    next one. Drag waypoints do not wait: they are the model's 0.1 s steps, streamed at the control rate."""

    pose: np.ndarray
    closed: bool
    wait: bool = False


class PlanRunner:
    """Runs plans synchronously (tests); the node passes one that uses a worker thread."""

    def __init__(self, plan_fn: Callable) -> None:
        self.plan_fn = plan_fn
        self._result = None

    def start(self, history: np.ndarray, target: np.ndarray) -> None:
        try:
            self._result = ("ok", self.plan_fn(history, target))
        except Exception as exc:  # the cycle reports it; the node keeps running
            self._result = ("error", exc)

    def poll(self):
        """None while running, else ('ok', plan) or ('error', exception)."""
        out, self._result = self._result, None
        return out

    def busy(self) -> bool:
        return False

    def shutdown(self) -> None:
        """Nothing runs in the background."""


class ThreadPlanRunner(PlanRunner):
    """Runs plans on one worker thread so the node keeps holding the gripper and answering while it plans."""

    def __init__(self, plan_fn: Callable) -> None:
        import concurrent.futures

        super().__init__(plan_fn)
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="manip_plan")
        self._future = None

    def start(self, history: np.ndarray, target: np.ndarray) -> None:
        self._future = self._pool.submit(self.plan_fn, history, target)

    def poll(self):
        if self._future is None or not self._future.done():
            return None
        future, self._future = self._future, None
        exc = future.exception()
        return ("error", exc) if exc is not None else ("ok", future.result())

    def busy(self) -> bool:
        return self._future is not None and not self._future.done()

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class ManipCycle:
    """One decision per tick; inputs are pushed with their stamps as they arrive."""

    def __init__(
        self, cfg: ManipCycleCfg, runner: PlanRunner, limits: GripperLimitsCfg | None = None, history: int = 2
    ) -> None:
        self.cfg, self.runner, self.history = cfg, runner, history
        self.limits = limits or GripperLimitsCfg()
        self.state = "idle"
        self.resume = "idle"
        self.target: np.ndarray | None = None
        self.clouds: list[tuple[float, np.ndarray]] = []
        self.gripper: tuple[float, np.ndarray, bool] | None = None  # stamp, pose, closed
        self.observe_after = -math.inf
        self.queue: list[Waypoint] = []
        self.waiting_since: float | None = None
        self.settle_until = 0.0
        self.actions = 0
        self.last_plan = None
        self.clamped = 0
        self.chamfer = math.nan
        self.success = cfg.success_chamfer
        self.reset_requested = False

    # --- inputs -------------------------------------------------------------------------------------
    def set_target(self, target: np.ndarray, success_chamfer: float | None = None, now: float = 0.0) -> None:
        target = np.asarray(target, dtype=np.float64)
        if target.ndim != 2 or target.shape[-1] != 3 or len(target) < 1 or not np.isfinite(target).all():
            raise ValueError(f"target must be a finite [M >= 1, 3] cloud, got {target.shape}")
        self.target = target
        self.success = self.cfg.success_chamfer if success_chamfer is None else float(success_chamfer)
        self.actions = 0
        self._observe(now)

    def add_cloud(self, stamp: float, points: np.ndarray) -> None:
        """An object cloud [N, 3] of the perception (stamp in seconds); clouds before a restart are ignored."""
        if stamp <= self.observe_after:
            return
        if self.clouds and points.shape != self.clouds[-1][1].shape:
            self.clouds = []  # the particle set changed (perception restarted): a new history
        self.clouds.append((stamp, np.asarray(points, dtype=np.float64)))
        self.clouds = self.clouds[-(self.history + 1) :]

    def set_gripper(self, stamp: float, pose: np.ndarray, closed: bool) -> None:
        self.gripper = (stamp, np.asarray(pose, dtype=np.float64), bool(closed))

    # --- the cycle ----------------------------------------------------------------------------------
    def tick(self, now: float) -> Command:
        """Decide what to send at time ``now`` (s)."""
        if self.target is None:
            return Command(None, False, "idle", "no target")
        stale = self._stale(now)
        if stale:
            if self.state != "stale_input":
                self.resume = self.state
            self.state = "stale_input"
            return self.hold(stale)
        if self.state == "stale_input":
            self.state = self.resume
        return getattr(self, f"_{self.state}")(now)

    def _observing(self, now: float) -> Command:
        if len(self.clouds) < self.history + 1:
            return self.hold("waiting for the object's history", "observing")
        current = self.clouds[-1][1]
        self.chamfer = float(chamfer(_t(current), _t(self.target)))
        if self.chamfer <= self.success:
            self.state = "done"
            return self.hold(f"object within {self.success:.3f} m Chamfer of the target", "done")
        if self.actions >= self.cfg.max_actions:
            self.state = "budget_spent"
            return self.hold(f"{self.actions} actions spent, Chamfer {self.chamfer:.3f} m", "budget_spent")
        history = np.stack([c for _, c in self.clouds])
        self.runner.start(history, self.target)
        self.state = "planning"
        return self._planning(now)

    def _planning(self, now: float) -> Command:
        out = self.runner.poll()
        if out is None:
            return self.hold("planning", "planning")
        kind, value = out
        if kind == "error":
            self.state = "plan_failed"
            return self.hold(f"planner failed: {value}", "plan_failed")
        self.last_plan = value
        try:
            self.queue = self._waypoints(value)
        except UnsafeTarget as exc:
            self.state = "plan_failed"
            return self.hold(f"refused plan: {exc}", "plan_failed")
        self.actions += 1
        self.state = "executing"
        return self._executing(now)

    def _plan_failed(self, now: float) -> Command:
        self._observe(now)  # try again with fresh observations
        return self.hold("planner failed; observing again", "plan_failed")

    def _executing(self, now: float) -> Command:
        while self.queue and self.queue[0].wait and self._reached(self.queue[0], now):
            self.queue.pop(0)
            self.waiting_since = None
        if not self.queue:
            self.settle_until = now + self.cfg.settle_s
            self.state = "settling"
            return self._settling(now)
        w = self.queue[0]
        if not w.wait:
            self.queue.pop(0)
        left = f"action {self.actions}, {len(self.queue)} waypoints left"
        return Command(w.pose, w.closed, "executing", left + (", waiting for the gripper" if w.wait else ""))

    def _reached(self, w: Waypoint, now: float) -> bool:
        """Whether the gripper is at ``w`` (as open or closed as asked), or has had ``reach_timeout`` to get there."""
        if self.waiting_since is None:
            self.waiting_since = now
        _, pose, closed = self.gripper
        there = np.linalg.norm(pose - w.pose) <= self.cfg.reach_tolerance and closed == w.closed
        return bool(there) or now - self.waiting_since > self.cfg.reach_timeout

    def _settling(self, now: float) -> Command:
        if now < self.settle_until:
            return Command(self._park(), False, "settling", "object settling")
        self._observe(now)
        return self._observing(now)

    def _done(self, now: float) -> Command:
        return self.hold("target reached", "done")

    def _budget_spent(self, now: float) -> Command:
        return self.hold("action budget spent", "budget_spent")

    def _idle(self, now: float) -> Command:
        return self.hold("idle", "idle")

    # --- pieces -------------------------------------------------------------------------------------
    def _observe(self, now: float) -> None:
        """Ask for a fresh history: clouds stamped before ``now`` no longer count."""
        self.observe_after = now
        self.clouds = []
        self.reset_requested = True
        self.state = "observing"

    def _stale(self, now: float) -> str:
        if self.gripper is None or now - self.gripper[0] > self.cfg.max_age:
            return "gripper state missing or stale"
        current = self.resume if self.state == "stale_input" else self.state
        if current == "observing" and self.clouds and now - self.clouds[-1][0] > self.cfg.max_age:
            return "object cloud stale"
        return ""

    def hold(self, reason: str, state: str | None = None) -> Command:
        """Keep the gripper where it is, open or closed as it is; nothing if its state is unknown."""
        state = state or self.state
        if self.gripper is None:
            return Command(None, False, state, reason)
        _, pose, closed = self.gripper
        try:
            grasp, _, _ = clamp_action(pose, np.zeros((0, 3)), self.limits)
        except UnsafeTarget:
            return Command(None, closed, state, reason + "; gripper pose non-finite")
        return Command(grasp, closed, state, reason)

    def _park(self) -> np.ndarray:
        return clamp_action(np.array(self.cfg.park), np.zeros((0, 3)), self.limits)[0]

    def _waypoints(self, plan) -> list[Waypoint]:
        grasp, path, moved = clamp_action(plan.grasp, plan.path, self.limits)
        self.clamped += moved
        up = np.array([0.0, 0.0, 1.0])
        above = clamp_action(grasp + self.cfg.approach_height * up, np.zeros((0, 3)), self.limits)[0]
        rise = clamp_action(path[-1] + self.cfg.rise * up, np.zeros((0, 3)), self.limits)[0]
        w = [Waypoint(above, False, True), Waypoint(grasp, False, True), Waypoint(grasp, True, True)]
        w += [Waypoint(p, True) for p in path]
        w += [Waypoint(path[-1], True, True), Waypoint(path[-1], False, True), Waypoint(rise, False, True)]
        return [*w, Waypoint(self._park(), False, True)]


def _t(a: np.ndarray):
    import torch

    return torch.from_numpy(np.asarray(a, dtype=np.float64))
