"""The small safety rules of the planner node, one class each, free of rclpy so each is tested on its own.

- ``CommandGate``: the last step before cmd_vel. Non-finite -> zero; velocity
  bounds always; acceleration bounds between planned commands (a safety stop
  jumps to zero: stopping is never limited, as in Nav2's collision monitor).
- ``StaleHold``: while an input is stale, publish zero for ``hold`` seconds,
  then go quiet.
- ``OverrunFallback``: the shifted previous plan serves at most
  ``max_cycles`` consecutive overruns, then zero.
- ``DropCounter``: counts dropped messages per input and rate-limits the log
  line about them to one per second (a NaN flood must not flood the log too).

``fdm_nav.control_cycle`` decides when each applies; other nodes use them as they are.
"""

from __future__ import annotations

import math
import time
from collections import Counter

import numpy as np

from fdm_nav.node_cfg import CommandGateCfg

ZERO = np.zeros(3)


class CommandGate:
    """Clamp (vx, vy, wz) to the velocity bounds and, for planned commands, to the acceleration bounds."""

    def __init__(self, cfg: CommandGateCfg, period: float):
        self.lo = np.array([cfg.vx_min, -cfg.vy_max, -cfg.wz_max])
        self.hi = np.array([cfg.vx_max, cfg.vy_max, cfg.wz_max])
        self.step = np.array([cfg.accel_lin, cfg.accel_lin, cfg.accel_ang]) * period  # largest change per cycle
        self.last = ZERO.copy()  # the last command published

    def apply(self, command, stop: bool = False) -> np.ndarray:
        """The command to publish; ``stop`` (or any non-finite entry) gives exact zero."""
        cmd = np.asarray(command, dtype=np.float64).reshape(-1)
        if stop or cmd.shape != (3,) or not np.isfinite(cmd).all():
            out = ZERO.copy()
        else:
            out = np.clip(cmd, self.last - self.step, self.last + self.step)
            out = np.clip(out, self.lo, self.hi)  # velocity bounds win over the acceleration window
        self.last = out
        return out.copy()


class StaleHold:
    """Zero for ``hold`` seconds after input went stale, then quiet (None) until it is fresh again."""

    def __init__(self, hold: float):
        self.hold = hold
        self.since: float | None = None

    def fresh(self) -> None:
        self.since = None

    def stale(self, now: float) -> np.ndarray | None:
        if self.since is None:
            self.since = now
        return ZERO.copy() if now - self.since <= self.hold else None


class OverrunFallback:
    """The previous plan (commands [T, 3] of ``step_dt`` s, starting at ``t0``) replayed during overruns."""

    def __init__(self, max_cycles: int, step_dt: float):
        self.max_cycles, self.step_dt = max_cycles, step_dt
        self.plan: np.ndarray | None = None
        self.t0 = 0.0
        self.consecutive = 0
        self.total = 0

    def store(self, commands: np.ndarray, t0: float) -> None:
        """A fresh plan arrived in time: remember it and end any overrun streak."""
        self.plan, self.t0, self.consecutive = np.asarray(commands, dtype=np.float64), t0, 0

    def forget(self) -> None:
        self.plan, self.consecutive = None, 0

    def overrun(self, now: float) -> tuple[np.ndarray, bool]:
        """(command, stopped): the previous plan shifted to ``now``, or zero after too many overruns."""
        self.consecutive += 1
        self.total += 1
        if self.plan is None or self.consecutive > self.max_cycles:
            return ZERO.copy(), True
        k = min(max(0, math.floor((now - self.t0) / self.step_dt)), len(self.plan) - 1)
        return self.plan[k].copy(), False


class DropCounter:
    """Dropped-message counts per input; ``should_log`` allows one log line per input per second."""

    def __init__(self, period: float = 1.0):
        self.counts: Counter[str] = Counter()
        self.period = period
        self._last_log: dict[str, float] = {}

    def drop(self, name: str, now: float | None = None) -> bool:
        """Count one dropped ``name`` message; True when a log line is due (``now``: monotonic seconds)."""
        self.counts[name] += 1
        now = time.monotonic() if now is None else now
        if now - self._last_log.get(name, -math.inf) >= self.period:
            self._last_log[name] = now
            return True
        return False
