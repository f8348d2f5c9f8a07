"""Failure labels for a physics simulator (Isaac Sim): the embedded simulator's causes, from what physics measures.

The embedded simulator (``sim.terrain_sim``) decides collision, fall, stuck
and tipping from its height-map geometry. A rigid-body simulator has no such
labels; these rules give them from the robot's measured state so that its
episodes report the same causes (``sim.episode.FAILURE_KINDS``), with the
platform's own thresholds (``sim/platforms/*.yaml``):

- **collision**: the base touches anything, i.e. the net contact force on the
  base body exceeds ``contact_force`` (Isaac Lab's locomotion tasks end an
  episode on this "base_contact" term, threshold 1 N);
- **fall**: the base drops faster than a free fall from ``max_step_down``
  reaches (v = sqrt(2 g h): a legged robot walking down stairs descends far
  slower), or the base sinks below ``min_base_height`` above the ground
  under it (a collapsed or lying robot);
- **tipping**: roll or pitch beyond ``max_tilt_deg``;
- **stuck**: a command of at least ``stuck_speed`` while the base moves
  slower than that for ``stuck_time`` seconds.

Checked in this order; the first that holds is the cause. Plain floats, no
torch, so a runner inside Isaac Sim's Python can use it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sim.episode import FAILURE_KINDS

GRAVITY = 9.81  # m/s^2
CONTACT_FORCE = 1.0  # N: Isaac Lab velocity tasks, termination "base_contact" (illegal_contact threshold 1.0)
STUCK_SPEED = 0.1  # m/s: the embedded simulator counts commands above 0.1 m/s as "commanded" (sim.terrain_sim)


@dataclass(frozen=True, kw_only=True)
class PhysicsFailureRules:
    """Thresholds of the four causes; ``from_platform`` takes them from a platform file."""

    contact_force: float = CONTACT_FORCE
    """Net contact force on the base [N] above which it counts as a collision."""
    fall_speed: float
    """Downward base speed [m/s] above which the robot is falling."""
    min_base_height: float
    """Base height above the ground under it [m] below which the robot has collapsed."""
    max_tilt: float
    """Largest |roll| or |pitch| [rad]."""
    stuck_speed: float = STUCK_SPEED
    """Command and motion threshold of the stuck rule [m/s]."""
    stuck_time: float
    """Seconds commanded without moving before the robot is stuck."""

    def __post_init__(self) -> None:
        for name in ("contact_force", "fall_speed", "min_base_height", "max_tilt", "stuck_speed", "stuck_time"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be finite and > 0, got {value}")

    @classmethod
    def from_platform(cls, platform) -> PhysicsFailureRules:
        """Thresholds of a ``sim.platform.PlatformCfg``: free fall from max_step_down, half the base height, max tilt."""
        return cls(
            fall_speed=math.sqrt(2.0 * GRAVITY * platform.max_step_down),
            # Half the nominal base height: ANYmal's base stands 0.6 m up; at 0.3 m its knees are on the ground.
            min_base_height=0.5 * platform.base_height,
            max_tilt=math.radians(platform.max_tilt_deg),
            stuck_time=platform.stuck_time,
        )


class FailureMonitor:
    """Applies ``PhysicsFailureRules`` once per control step; remembers the stuck timer."""

    def __init__(self, rules: PhysicsFailureRules):
        self.rules = rules
        self.stuck_for = 0.0

    def check(
        self,
        dt: float,
        *,
        base_contact_force: float,
        vertical_speed: float,
        base_height: float,
        roll: float,
        pitch: float,
        commanded_speed: float,
        planar_speed: float,
    ) -> str | None:
        """The failure cause (a name of FAILURE_KINDS) after a step of ``dt`` seconds, or None.

        ``base_height`` is the base above the ground directly under it,
        ``vertical_speed`` is positive upward (world z), speeds in m/s.
        A non-finite measurement is a failure of the simulation, reported as
        a fall: a robot whose state is NaN is not standing anywhere.
        """
        values = (base_contact_force, vertical_speed, base_height, roll, pitch, commanded_speed, planar_speed)
        if not all(math.isfinite(v) for v in values):
            return "fall"
        r = self.rules
        commanded = commanded_speed >= r.stuck_speed and planar_speed < r.stuck_speed
        self.stuck_for = self.stuck_for + dt if commanded else 0.0
        if base_contact_force > r.contact_force:
            cause = "collision"
        elif -vertical_speed > r.fall_speed or base_height < r.min_base_height:
            cause = "fall"
        elif max(abs(roll), abs(pitch)) > r.max_tilt:
            cause = "tipping"
        elif self.stuck_for >= r.stuck_time:
            cause = "stuck"
        else:
            return None
        assert cause in FAILURE_KINDS  # the episode's names, nothing else
        return cause
