"""Progress checker and recovery behaviours: what the planner does when it drives but stops getting closer.

A planner can run, every cycle answering ``ok`` or ``blocked_by_risk``, and
yet not advance: stopped in front of a passage its model judges too tight, or
swinging between two headings. Nav2 watches for that with a progress checker
(``SimpleProgressChecker``: 0.5 m within 10 s) and answers with recovery
behaviours (wait, back up, spin) before giving the goal up. ``Recovery`` is
that, on plain numbers, shared by the ``fdm_planner`` node (through
``fdm_nav.control_cycle``) and the closed-loop benchmark (``fdm_nav.closed_loop``):

- progress is the distance still to go: along the route from the robot's
  route position when there is a route, else straight to the goal. It counts
  when it has shrunk by ``min_progress`` since the window started; then the
  window starts again.
- no progress for ``window`` s: state ``no_progress`` and a stop for that
  cycle, then the next behaviour of ``behaviours`` (``recovering`` while it runs):
  ``wait`` (zero, then the planner starts afresh), ``backup`` (straight back)
  or ``rotate`` (in place, toward the goal's side). A moving behaviour's
  commands are first rolled out through the planner's model and hazard guard
  (``fdm_nav.planner.NavPlanner.check``); one predicted to fail is refused and
  the next behaviour is tried. After a behaviour, planning resumes with a
  fresh window and a fresh plan.
- ``max_recoveries`` behaviours in a row without progress in between: state
  ``aborted``, zero, the goal is given up.

Times are arguments; nothing here reads a clock or imports ROS.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

BEHAVIOURS = ("wait", "backup", "rotate")


@dataclass(frozen=True, kw_only=True)
class RecoveryCfg:
    """Progress checker and recovery behaviours of the planner (Nav2's progress checker and recovery server)."""

    enabled: bool = True
    """Watch progress and recover; false: plan every cycle whatever happens (the state before recovery existed)."""
    window: float = 10.0
    """Seconds [s] within which the robot must make min_progress (Nav2 SimpleProgressChecker: 10 s)."""
    min_progress: float = 0.5
    """Distance [m] the remaining way to the goal must shrink within the window (Nav2: 0.5 m)."""
    behaviours: tuple[str, ...] = ("wait", "backup", "rotate")
    """Recovery behaviours, tried in this order, then from the start again: 'wait', 'backup', 'rotate'."""
    max_recoveries: int = 3
    """Behaviours in a row without progress in between; after that many the goal is aborted."""
    wait_time: float = 2.0
    """Seconds [s] of zero command of 'wait' before planning starts afresh."""
    backup_distance: float = 0.3
    """Distance [m] of 'backup' (Nav2's BackUp default: 0.3 m)."""
    backup_speed: float = 0.15
    """Speed [m/s] of 'backup' (slow: the FDM's scan reaches 0.5 m behind the base; the guard's map all around)."""
    rotate_angle: float = 1.57
    """Angle [rad] of 'rotate' (Nav2's Spin default: 1.57 rad)."""
    rotate_speed: float = 0.5
    """Yaw rate [rad/s] of 'rotate'."""

    def __post_init__(self) -> None:
        for name in ("window", "min_progress", "wait_time", "backup_distance", "backup_speed"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be finite and > 0, got {value}")
        for name in ("rotate_angle", "rotate_speed"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0 < value <= 2 * math.pi):
                raise ValueError(f"{name} must be in (0, 2 pi], got {value}")
        bad = [b for b in self.behaviours if b not in BEHAVIOURS]
        if not self.behaviours or bad:
            raise ValueError(f"behaviours must be a non-empty list of {BEHAVIOURS}, got {list(self.behaviours)}")
        if not 0 <= self.max_recoveries <= 20:
            raise ValueError(f"max_recoveries must be in [0, 20], got {self.max_recoveries}")


@dataclass(frozen=True)
class RecoveryStep:
    """What this cycle should do: plan as usual, run a behaviour's commands, or give the goal up."""

    action: str  # 'plan', 'behaviour' or 'abort'
    status: str = ""  # 'no_progress', 'recovering' or 'aborted' ('' for 'plan': the planner's answer says)
    reason: str = ""
    commands: np.ndarray | None = None  # [n, 3] the rest of the behaviour, one row per cycle ('behaviour')
    reset_planner: bool = False  # a behaviour just ended: the planner starts from a fresh plan

    @property
    def moving(self) -> bool:
        """A behaviour that moves the robot (its commands are checked by the planner's model first)."""
        return self.commands is not None and bool(np.any(self.commands))


PLAN = RecoveryStep("plan")


class Recovery:
    """See the module docstring. ``step`` once per control cycle that has usable inputs and a goal."""

    def __init__(self, cfg: RecoveryCfg, period: float):
        self.cfg, self.period = cfg, period
        self.total = 0  # behaviours started since the last goal (reported)
        self.restart()

    def restart(self) -> None:
        """A new goal: no window yet, no behaviour, no recoveries."""
        self.recoveries = 0  # behaviours since the last progress
        self.total = 0
        self._ref: tuple[float, float] | None = None  # (time, remaining) where the window started
        self._behaviour: tuple[str, float, np.ndarray, str] | None = None  # name, start, commands, description

    def pause(self) -> None:
        """The cycle cannot drive now (stale input): a running behaviour ends, the window restarts on return."""
        self._ref, self._behaviour = None, None

    @property
    def recovering(self) -> bool:
        return self._behaviour is not None

    def step(self, now: float, remaining: float, bearing: float) -> RecoveryStep:
        """This cycle's step at time ``now`` [s], ``remaining`` m to go, the goal ``bearing`` [rad] in the body frame."""
        cfg = self.cfg
        if not cfg.enabled:
            return PLAN
        if self._behaviour is not None:
            name, t0, commands, what = self._behaviour
            rest = commands[round((now - t0) / self.period) :]
            if len(rest):
                return RecoveryStep(
                    "behaviour", "recovering", f"{what} (recovery {self.recoveries}/{cfg.max_recoveries})", rest
                )
            self._behaviour = None
            self._ref = (now, remaining)
            return RecoveryStep("plan", reset_planner=True)
        if self._ref is None or remaining <= self._ref[1] - cfg.min_progress:
            if self._ref is not None:
                self.recoveries = 0
            self._ref = (now, remaining)
            return PLAN
        if now - self._ref[0] < cfg.window:
            return PLAN
        gained = self._ref[1] - remaining
        stalled = f"{gained:.2f} m of progress in {now - self._ref[0]:.1f} s (needs {cfg.min_progress:g} m)"
        if self.recoveries >= cfg.max_recoveries:
            tried = ", ".join(self._names(self.recoveries))
            reason = f"{stalled} after {self.recoveries} recoveries ({tried}): goal given up"
            total = self.total
            self.restart()
            self.total = total  # still reported until the next goal
            return RecoveryStep("abort", "aborted", reason)
        name = cfg.behaviours[self.recoveries % len(cfg.behaviours)]
        self.recoveries += 1
        self.total += 1
        commands, what = self._commands(name, bearing)
        self._behaviour = (name, now + self.period, commands, what)  # it starts next cycle, from a stop
        reason = f"{stalled}; recovery {self.recoveries}/{cfg.max_recoveries}: {what}"
        return RecoveryStep("behaviour", "no_progress", reason, np.zeros((1, 3)))

    def refused(self) -> None:
        """The running behaviour was judged unsafe: drop it; the next cycle starts the next one (or aborts)."""
        self._behaviour = None

    def _names(self, n: int) -> list[str]:
        return [self.cfg.behaviours[i % len(self.cfg.behaviours)] for i in range(n)]

    def _commands(self, name: str, bearing: float) -> tuple[np.ndarray, str]:
        """A behaviour's commands [n, 3], one per cycle, and its description."""
        cfg = self.cfg
        if name == "wait":
            n, command, what = cfg.wait_time / self.period, (0.0, 0.0, 0.0), f"wait {cfg.wait_time:g} s"
        elif name == "backup":
            n = cfg.backup_distance / cfg.backup_speed / self.period
            command, what = (-cfg.backup_speed, 0.0, 0.0), f"back up {cfg.backup_distance:g} m"
        else:
            sign = 1.0 if bearing >= 0 else -1.0  # toward the goal's side
            n = cfg.rotate_angle / cfg.rotate_speed / self.period
            command = (0.0, 0.0, sign * cfg.rotate_speed)
            what = f"rotate {'left' if sign > 0 else 'right'} {cfg.rotate_angle:g} rad"
        return np.tile(np.array(command), (max(1, math.ceil(n - 1e-9)), 1)), what


def as_steps(commands: np.ndarray, period: float, step_dt: float, horizon: int) -> torch.Tensor:
    """Per-cycle commands [n, 3] as the model's sequence [horizon, 3] of ``step_dt`` steps, zero after their end."""
    out = torch.zeros(horizon, 3)
    for k in range(horizon):
        i = math.floor(k * step_dt / period + 1e-9)
        if i < len(commands):
            out[k] = torch.as_tensor(commands[i], dtype=torch.float32)
    return out


def remaining_and_bearing(pose: np.ndarray, target: np.ndarray, final: np.ndarray, carrot=None) -> tuple[float, float]:
    """Metres still to go (along the route of ``carrot`` when given, else straight to ``final``) and the bearing
    [rad] of ``target`` (the carrot or the goal) in the body frame of ``pose`` (x, y, yaw)."""
    x, y, yaw = (float(v) for v in pose[:3])
    straight = math.hypot(float(final[0]) - x, float(final[1]) - y)
    remaining = carrot.remaining if carrot is not None else straight
    bearing = math.atan2(float(target[1]) - y, float(target[0]) - x) - yaw
    return remaining, math.atan2(math.sin(bearing), math.cos(bearing))


def run_step(planner, step: RecoveryStep, proprio, state, scan, pose, goal, local_map, path=None):
    """This cycle's planning job for ``step``: the planner's MPPI plan, or its verdict on a moving behaviour
    (a standing one, ``step.moving`` false, needs none: the caller stops the robot)."""
    if step.action == "plan":
        return planner.plan(proprio, state, scan, pose, goal, local_map, path)
    horizon = planner.cfg.mppi.horizon
    commands = as_steps(step.commands, planner.period, planner.time_base.step_dt, horizon)
    return planner.check(proprio, state, scan, commands, local_map)
