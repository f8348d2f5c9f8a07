"""Platform parameters of the terrain surrogate, and what the surrogate is (and is not).

``PlatformCfg`` holds what ``sim.terrain_sim.TerrainSim`` needs to know about a
robot: footprint, contact points, speed/acceleration limits, tracking lag,
climbable step heights, tipping angle, noise. Values live in YAML files in
``sim/platforms/`` (``anymal_d.yaml``, ``wheeled_small.yaml``) with their sources.

What the surrogate models (per robot, all robots as one batch of tensors):

- the *base* of a robot under its locomotion controller: the commanded
  (vx, vy, wz) is clamped to the platform's limits and tracked by a first-order
  lag with acceleration limits and Ornstein-Uhlenbeck velocity noise;
- speed loss on inclines and rough ground (a factor from the base tilt and the
  deviation of the terrain from the plane through the contacts);
- contact points (feet or wheels) that follow the hips/axles and sit on the
  nearest height-map cell: a step up larger than ``max_step_up`` under one
  contact blocks the motion (the controller refuses it); a step down larger
  than ``max_step_down`` (a pit, a cliff) is a fall;
- the base as a box at ``body_clearance`` above the plane through the
  contacts: terrain reaching into it is a body collision (the authors'
  base-contact failure);
- base roll/pitch from that plane, low-passed by ``tilt_tau``; beyond
  ``max_tilt_deg`` the robot tips over;
- getting stuck: commanded to move but not moving for ``stuck_time``;
- after a failure the robot is frozen in place (the dataset relies on it).

What it does not model, compared with a physics simulator (Isaac Lab/PhysX):

- no joints, feet placement, gait, contact forces, friction or slipping; the
  legs are four points at fixed hip offsets, not footholds chosen by a policy;
- no rigid-body dynamics: no momentum, no bouncing, falls and tipping are
  labels, not simulated motions; after them the robot simply stops;
- obstacles are static heights (2.5D): no overhangs, nothing to crawl under,
  nothing that moves or yields; collisions are with the height map only, never
  between robots;
- gaps narrower than the spacing of the height samples are missed and
  stepping over a gap is not modelled (a contact that enters it falls);
- the locomotion policy's reactions (stumbling, recovering, trotting in place
  against a wall) are reduced to: track, slow down, block, or fail.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from dynamics_stack.config import ConfigError, load_cfg_yaml

PLATFORM_DIR = Path(__file__).parent / "platforms"


@dataclass(frozen=True, kw_only=True)
class PlatformCfg:
    """Geometry, limits and behaviour of one platform under its locomotion controller."""

    name: str
    """Platform name (the YAML file's stem by convention)."""
    kind: str = "legged"
    """'legged' or 'wheeled' (informational; behaviour comes from the numbers below)."""
    length: float = 0.93
    """Body length (m) along x: the collision box."""
    width: float = 0.53
    """Body width (m) along y: the collision box."""
    contact_x: float = 0.36
    """Half the distance (m) between front and hind contacts (feet under the hips, or axles)."""
    contact_y: float = 0.2
    """Half the distance (m) between left and right contacts."""
    base_height: float = 0.6
    """Nominal base height (m) above the plane through the contacts; the height scan is relative to it."""
    body_clearance: float = 0.35
    """Height (m) of the underside of the body above the contact plane; terrain above it is a collision."""
    mass: float = 50.0
    """Robot mass (kg), for the energy term."""
    vx_min: float = -1.0
    """Slowest (most negative) forward speed the controller tracks (m/s)."""
    vx_max: float = 1.0
    """Fastest forward speed (m/s)."""
    vy_max: float = 0.5
    """Largest lateral speed (m/s); 0 for a non-holonomic base."""
    wz_max: float = 1.0
    """Largest yaw rate (rad/s)."""
    accel_lin: float = 2.0
    """Linear acceleration limit (m/s^2)."""
    accel_ang: float = 4.0
    """Yaw acceleration limit (rad/s^2)."""
    tau: float = 0.25
    """Time constant (s) of the first-order command tracking lag."""
    vel_noise_std: float = 0.05
    """Stationary std (m/s, and rad/s for yaw) of the tracking noise around the commanded velocity."""
    max_step_up: float = 0.25
    """Highest step (m) a contact can climb in one go; higher edges block the motion."""
    max_step_down: float = 0.35
    """Deepest drop (m) a contact can step down; deeper is a fall."""
    max_tilt_deg: float = 40.0
    """Base roll or pitch (deg) beyond which the robot tips over."""
    tilt_tau: float = 0.3
    """Time constant (s) with which the base follows the contact plane's tilt."""
    slope_slowdown: float = 0.5
    """Fraction of speed lost at max_tilt_deg (linear in tilt)."""
    rough_slowdown: float = 0.5
    """Fraction of speed lost when the terrain deviates from the contact plane by rough_ref on average."""
    rough_ref: float = 0.15
    """Mean deviation (m) of the terrain from the contact plane that costs rough_slowdown."""
    min_speed_factor: float = 0.2
    """Lower bound of the combined slowdown factor."""
    stuck_time: float = 2.0
    """Seconds of commanded-but-not-moving after which the robot counts as stuck."""
    body_samples: tuple[int, int] = (5, 3)
    """Height samples along the body's length and width (perimeter + centre) for collisions."""
    source: str = ""
    """Where the numbers come from (datasheets, estimates)."""

    def __post_init__(self) -> None:
        positive = (
            "length", "width", "contact_x", "contact_y", "base_height", "body_clearance", "mass",
            "accel_lin", "accel_ang", "tau", "max_step_down", "tilt_tau", "rough_ref", "stuck_time",
        )  # fmt: skip
        for name in positive:
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"field '{name}': must be finite and > 0, got {value}")
        if self.kind not in ("legged", "wheeled"):
            raise ValueError(f"field 'kind': must be 'legged' or 'wheeled', got {self.kind!r}")
        if not self.vx_min <= 0.0 < self.vx_max:
            raise ValueError(f"fields 'vx_min'/'vx_max': need vx_min <= 0 < vx_max, got {self.vx_min}, {self.vx_max}")
        if self.vy_max < 0 or self.wz_max <= 0:
            raise ValueError("fields 'vy_max'/'wz_max': need vy_max >= 0 and wz_max > 0")
        if not 0.0 <= self.max_step_up < self.body_clearance + 1.0:
            raise ValueError(f"field 'max_step_up': must be >= 0, got {self.max_step_up}")
        if not 0.0 < self.max_tilt_deg < 90.0:
            raise ValueError(f"field 'max_tilt_deg': must be in (0, 90), got {self.max_tilt_deg}")
        if self.contact_x > self.length / 2 + 0.2 or self.contact_y > self.width / 2 + 0.2:
            raise ValueError("fields 'contact_x'/'contact_y': contacts lie far outside the body")
        for name in ("slope_slowdown", "rough_slowdown", "min_speed_factor"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"field '{name}': must be in [0, 1], got {getattr(self, name)}")
        if not self.vel_noise_std >= 0.0:
            raise ValueError(f"field 'vel_noise_std': must be >= 0, got {self.vel_noise_std}")
        if min(self.body_samples) < 2:
            raise ValueError(f"field 'body_samples': need at least 2 x 2, got {self.body_samples}")

    @property
    def radius(self) -> float:
        """Half the diagonal of the body box (m): a conservative clearance radius."""
        return 0.5 * math.hypot(self.length, self.width)


def available_platforms() -> list[str]:
    """Names of the shipped platform files."""
    return sorted(p.stem for p in PLATFORM_DIR.glob("*.yaml"))


def load_platform(name_or_path: str | Path) -> PlatformCfg:
    """Load a shipped platform by name (``anymal_d``) or any platform YAML by path."""
    text = str(name_or_path)
    path = Path(text)
    if not (text.endswith((".yaml", ".yml")) or path.exists()):
        path = PLATFORM_DIR / f"{text}.yaml"
        if not path.exists():
            raise ConfigError(f"unknown platform {text!r}; shipped: {', '.join(available_platforms())}")
    return load_cfg_yaml(PlatformCfg, path)
