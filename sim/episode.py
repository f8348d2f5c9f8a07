"""Episode bookkeeping shared by every simulator that runs a navigation scenario: one rule, one set of fields.

The embedded closed loop (``fdm_nav.closed_loop``) and the Isaac Sim runner
(``sim/isaac/``) both keep their episode in an ``EpisodeTracker``, so their
JSON has the same fields (``EPISODE_FIELDS``) with the same meaning and the
two can be compared scenario by scenario:

- **success**: the base's (x, y) is within the scenario's goal tolerance
  (``goal_reached``; the time is that of the pose that reached it);
- **failure**: the simulator reported a failure cause (``FAILURE_KINDS``:
  collision, fall, stuck, tipping). The embedded simulator labels them
  itself; a physics simulator derives them with ``PhysicsFailureRules``
  (base contact, free fall, base height, tilt);
- **aborted**: the planner's progress checker gave the goal up;
- **timeout**: none of these within the scenario's ``time_limit``
  (``time_s`` is then the time limit).

No torch, no ROS: plain floats, so a runner inside Isaac Sim's own Python can use it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

OUTCOMES = ("success", "failure", "timeout", "aborted")
# Failure causes; the embedded simulator numbers them 1.. after "none" (sim.terrain_sim.FAILURE_CAUSES).
FAILURE_KINDS = ("collision", "fall", "stuck", "tipping")
EPISODE_FIELDS = (
    "scenario",
    "planner",
    "simulator",
    "outcome",
    "failure_cause",
    "time_s",
    "path_length_m",
    "abort_reason",
    "trajectory",
)
EPISODE_FORMAT = "dynstack-nav-episode/1"  # the "format" of a runner's episode JSON file


@dataclass
class Episode:
    """Outcome of one episode: the fields every simulator reports."""

    scenario: str
    planner: str
    simulator: str = "embedded"  # 'embedded' (sim.terrain_sim) or 'isaac_sim'
    outcome: str = "timeout"  # one of OUTCOMES
    failure_cause: str | None = None  # one of FAILURE_KINDS when outcome == 'failure'
    time_s: float = 0.0
    path_length_m: float = 0.0
    trajectory: list[list[float]] = field(default_factory=list)  # [[x, y, yaw], ...] at each observed pose
    abort_reason: str = ""

    def summary(self) -> dict[str, Any]:
        """The shared fields (``EPISODE_FIELDS``) as a JSON-ready dict."""
        return {
            "scenario": self.scenario,
            "planner": self.planner,
            "simulator": self.simulator,
            "outcome": self.outcome,
            "failure_cause": self.failure_cause,
            "time_s": round(self.time_s, 2),
            "path_length_m": round(self.path_length_m, 3),
            "abort_reason": self.abort_reason,
            "trajectory": self.trajectory,
        }


class EpisodeTracker:
    """Keeps one episode: poses in, outcome out. The first decided outcome sticks."""

    def __init__(self, episode: Episode, goal_xy: tuple[float, float], tolerance: float, time_limit: float):
        if not (math.isfinite(tolerance) and tolerance > 0 and math.isfinite(time_limit) and time_limit > 0):
            raise ValueError(f"need a finite tolerance > 0 and time limit > 0, got {tolerance}, {time_limit}")
        self.episode = episode
        self.goal_xy = (float(goal_xy[0]), float(goal_xy[1]))
        self.tolerance = float(tolerance)
        self.time_limit = float(time_limit)
        self.episode.outcome, self.episode.time_s = "timeout", self.time_limit  # until something else is decided
        self.done = False
        self._last_xy: tuple[float, float] | None = None

    @classmethod
    def for_scenario(cls, scenario, planner: str, simulator: str = "embedded", episode: Episode | None = None):
        """A tracker for a ``sim.scenario.Scenario`` (goal, tolerance and time limit from it)."""
        ep = episode if episode is not None else Episode(scenario.name, planner, simulator)
        g = scenario.goal
        return cls(ep, (g.x, g.y), g.tolerance, scenario.time_limit)

    def goal_reached(self, x: float, y: float) -> bool:
        """Whether (x, y) is within the goal tolerance (the boundary counts)."""
        return math.hypot(x - self.goal_xy[0], y - self.goal_xy[1]) <= self.tolerance

    def observe(self, t: float, pose) -> bool:
        """Record the pose (x, y, yaw) at time t; decide success or timeout. Returns whether the episode is over."""
        if self.done:
            return True
        x, y, yaw = (float(v) for v in pose[:3])
        self.episode.trajectory.append([round(x, 4), round(y, 4), round(yaw, 4)])
        self._move_to(x, y)
        if self.goal_reached(x, y):
            self._finish("success", t)
        elif t >= self.time_limit - 1e-9:
            self._finish("timeout", self.time_limit)
        return self.done

    def moved(self, pose) -> None:
        """Count the path to a pose that is not a decision point (between observations)."""
        self._move_to(float(pose[0]), float(pose[1]))

    def fail(self, t: float, cause: str, pose=None) -> None:
        """The simulator reported a failure at time t (``cause`` in FAILURE_KINDS); ``pose`` ends the trajectory."""
        if self.done:
            return
        if cause not in FAILURE_KINDS:
            raise ValueError(f"unknown failure cause {cause!r}; known: {FAILURE_KINDS}")
        if pose is not None:
            self.moved(pose)
            self.episode.trajectory.append([round(float(v), 4) for v in pose[:3]])
        self.episode.failure_cause = cause
        self._finish("failure", t)

    def abort(self, t: float, reason: str) -> None:
        """The planner gave the goal up at time t."""
        if self.done:
            return
        self.episode.abort_reason = reason
        self._finish("aborted", t)

    def _move_to(self, x: float, y: float) -> None:
        if self._last_xy is not None:
            self.episode.path_length_m += math.hypot(x - self._last_xy[0], y - self._last_xy[1])
        self._last_xy = (x, y)

    def _finish(self, outcome: str, t: float) -> None:
        self.episode.outcome, self.episode.time_s, self.done = outcome, float(t), True
