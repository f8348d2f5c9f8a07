"""cmd_vel -> the locomotion policy's velocity command, with the contract's timeout and a refusal of bad numbers.

The planner's Twist (body frame: linear.x, linear.y, angular.z) is the
policy's command (vx, vy, wz) in the same frame, clamped to the ranges the
policy was trained on (``anymal_policy.COMMAND_RANGES``). A command older
than ``runner_contract.CMD_TIMEOUT`` by simulated time is zero, as in the
embedded ``terrain_sim``; a non-finite one is dropped and counted (the
previous command keeps its age and times out). Plain floats, no Isaac import.
"""

from __future__ import annotations

import math

import numpy as np

from fdm_nav.runner_contract import CMD_TIMEOUT
from sim.isaac.anymal_policy import COMMAND_RANGES


class CommandMap:
    """Holds the newest command from cmd_vel and its arrival time; ``command(t)`` is what the policy gets."""

    def __init__(self, timeout: float = CMD_TIMEOUT, ranges=COMMAND_RANGES):
        if not (math.isfinite(timeout) and timeout > 0):
            raise ValueError(f"timeout must be finite and > 0, got {timeout}")
        self.timeout = timeout
        self.low = np.array([r[0] for r in ranges])
        self.high = np.array([r[1] for r in ranges])
        self.cmd = np.zeros(3)
        self.received_at = -math.inf  # simulated time of the newest accepted command
        self.rejected = 0
        self.last_count = 0

    def take(self, t: float, linear: tuple[float, float, float], angular: tuple[float, float, float]) -> bool:
        """A Twist arrived at simulated time t (linear and angular vectors); returns whether it was accepted."""
        cmd = np.array([linear[0], linear[1], angular[2]], dtype=np.float64)
        if not np.isfinite(cmd).all():
            self.rejected += 1
            return False
        self.cmd, self.received_at = np.clip(cmd, self.low, self.high), t
        return True

    def poll(self, t: float, count: int, linear, angular) -> None:
        """Read the bridge's subscriber: a message counter that grew means a new Twist (even one equal to the last)."""
        if count != self.last_count:
            self.last_count = count
            self.take(t, linear, angular)

    def command(self, t: float) -> np.ndarray:
        """(vx, vy, wz) for the policy at simulated time t: the newest command, or zero once it is too old."""
        if t - self.received_at > self.timeout:
            return np.zeros(3)
        return self.cmd.copy()
