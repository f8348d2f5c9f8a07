"""Settings of the ``fdm_planner`` ROS 2 node: ``PlannerNodeCfg`` is every parameter it has.

Its own fields are ROS parameters without a prefix; its nested configs are
declared under their field names: ``gate.*`` (``CommandGateCfg``), ``planner.*``
(``fdm_nav.planner.PlannerCfg``), ``traversability.*`` (the heuristic
planner's ``TraversabilityCfg``) and ``recovery.*`` (``fdm_nav.recovery.RecoveryCfg``). ``config/navigation.yaml`` and the table in
docs/ros_nodes.md are generated from it (``dynstack params --write``). No rclpy
here, so the settings can be validated and tested without ROS.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from fdm_nav.observation import CONTROL_RATE
from fdm_nav.planner import PlannerCfg, TraversabilityCfg
from fdm_nav.recovery import RecoveryCfg
from fdm_nav.runner_contract import BASE_FRAME

BACKENDS = ("torch", "onnx")
PLANNER_TYPES = ("fdm", "heuristic")
MARKER_COLORS = ("risk", "cost")
MAP_TYPES = ("auto", "gridmap", "pointcloud2")


def _positive(name: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be finite and > 0, got {value}")


@dataclass(frozen=True, kw_only=True)
class CommandGateCfg:
    """The last gate before cmd_vel: every published command is finite and inside these bounds."""

    vx_min: float = -0.5
    """Slowest (most backwards) forward speed [m/s]; the FDM's training range starts at -0.5."""
    vx_max: float = 1.0
    """Fastest forward speed [m/s] (ANYmal D spec sheet, sim/platforms/anymal_d.yaml)."""
    vy_max: float = 0.4
    """Largest sideways speed [m/s] either way (FDM training range)."""
    wz_max: float = 1.0
    """Largest yaw rate [rad/s] either way (FDM training range)."""
    accel_lin: float = 2.0
    """Largest change of vx or vy per second [m/s^2] between planned commands (platform accel_lin)."""
    accel_ang: float = 4.0
    """Largest change of wz per second [rad/s^2] between planned commands (platform accel_ang)."""

    def __post_init__(self) -> None:
        for name in ("vx_max", "vy_max", "wz_max", "accel_lin", "accel_ang"):
            _positive(name, getattr(self, name))
        if not (math.isfinite(self.vx_min) and self.vx_min <= 0):
            raise ValueError(f"vx_min must be finite and <= 0, got {self.vx_min}")


@dataclass(frozen=True, kw_only=True)
class PlannerNodeCfg:
    """Every parameter of the fdm_planner node: model, rates, input ages, overrun handling, frames, outputs, gate, planner."""

    model: str = "models/fdm_anymal_d.card.json"
    """Model card of the FDM (relative paths: working directory, then the package's own files)."""
    backend: str = "onnx"
    """Model runtime: 'onnx' (ONNX Runtime, the robot's path; fastest on a CPU) or 'torch'."""
    planner_type: str = "fdm"
    """'fdm' (MPPI through the learned model) or 'heuristic' (geometric baseline, no model)."""
    device: str = "cpu"
    """Torch device of the planner and the torch backend: 'cpu', 'cuda' or 'cuda:N'."""
    threads: int = 1
    """Torch CPU threads for planning (0 keeps torch's default)."""
    control_rate: float = CONTROL_RATE
    """Planning and command rate [Hz] (the authors' 10 Hz); the warm start shifts by 1/control_rate, which must not
    exceed the model's command step."""
    max_odom_age: float = 0.5
    """Oldest usable odometry [s] by its stamp (diff_drive_controller's 0.5 s command timeout)."""
    max_map_age: float = 1.0
    """Oldest usable elevation map [s] by its stamp."""
    stale_hold: float = 1.0
    """While input is stale, zero commands are published for this long [s], then the node goes quiet."""
    plan_budget: float = 0.1
    """Seconds a cycle waits for its plan before it counts as an overrun."""
    max_overrun_cycles: int = 3
    """Consecutive overruns served from the shifted previous plan before the node publishes zero."""
    cmd_vel_stamped: bool = False
    """Publish geometry_msgs/TwistStamped instead of Twist on cmd_vel (takes effect at configure)."""
    base_frame: str = BASE_FRAME
    """frame_id of TwistStamped commands (REP-105); empty: the odometry's child_frame_id."""
    map_type: str = "auto"
    """Elevation map message: 'auto' (grid_map_msgs/GridMap when that package is importable, else
    sensor_msgs/PointCloud2), 'gridmap' or 'pointcloud2' (takes effect at configure)."""
    map_layer: str = "elevation"
    """GridMap layer holding the ground height [m] (GridMap input only)."""
    map_resolution: float = 0.0
    """Cell size [m] of the elevation cloud's grid; 0: taken from the cloud (smallest spacing of its points)."""
    map_max_cells: int = 4_000_000
    """Largest elevation grid accepted (cells); a bigger cloud is dropped (memory bound)."""
    base_height: float = 0.6
    """Nominal base height [m] used for proprio when the ground under the robot is unknown."""
    lookahead: float = 3.0
    """Carrot distance [m] along a route received on the route topic."""
    rollout_markers: int = 64
    """Sampled rollouts drawn on the rollouts topic (0: none)."""
    marker_color: str = "risk"
    """Colour rollouts by 'risk' (peak failure probability) or 'cost' (MPPI cost, normalised)."""
    autostart: bool = True
    """Configure and activate at start-up (the role of Nav2's lifecycle manager with autostart)."""
    gate: CommandGateCfg = field(default_factory=CommandGateCfg)
    """The last gate before cmd_vel: velocity and acceleration bounds."""
    planner: PlannerCfg = field(default_factory=PlannerCfg)
    """The MPPI planner: sampler, critics, hazard guard, goal tolerance."""
    traversability: TraversabilityCfg = field(default_factory=TraversabilityCfg)
    """Thresholds of the heuristic planner (planner_type 'heuristic')."""
    recovery: RecoveryCfg = field(default_factory=RecoveryCfg)
    """Progress checker and recovery behaviours (fdm_nav.recovery)."""

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {self.backend!r}")
        if self.planner_type not in PLANNER_TYPES:
            raise ValueError(f"planner_type must be one of {PLANNER_TYPES}, got {self.planner_type!r}")
        if self.map_type not in MAP_TYPES:
            raise ValueError(f"map_type must be one of {MAP_TYPES}, got {self.map_type!r}")
        if not self.map_layer:
            raise ValueError("map_layer must name the GridMap layer of the ground height")
        if self.marker_color not in MARKER_COLORS:
            raise ValueError(f"marker_color must be one of {MARKER_COLORS}, got {self.marker_color!r}")
        if self.planner_type == "fdm" and not self.model:
            raise ValueError("model must name a model card when planner_type is 'fdm'")
        if not re.fullmatch(r"cpu|cuda(:\d+)?", self.device):
            raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N', got {self.device!r}")
        if self.threads < 0:
            raise ValueError(f"threads must be >= 0, got {self.threads}")
        for name in ("control_rate", "max_odom_age", "max_map_age", "plan_budget", "lookahead"):
            _positive(name, getattr(self, name))
        if self.control_rate > 100:
            raise ValueError(f"control_rate must be <= 100 Hz, got {self.control_rate}")
        if not (math.isfinite(self.map_resolution) and self.map_resolution >= 0):
            raise ValueError(f"map_resolution must be finite and >= 0 (0: from the cloud), got {self.map_resolution}")
        if not (math.isfinite(self.stale_hold) and self.stale_hold >= 0):
            raise ValueError(f"stale_hold must be finite and >= 0, got {self.stale_hold}")
        if not 0 <= self.max_overrun_cycles <= 10:
            raise ValueError(f"max_overrun_cycles must be in [0, 10], got {self.max_overrun_cycles}")
        if not 1 <= self.map_max_cells <= 50_000_000:
            raise ValueError(f"map_max_cells must be in [1, 5e7], got {self.map_max_cells}")
        if not (math.isfinite(self.base_height) and 0 < self.base_height < 5):
            raise ValueError(f"base_height must be in (0, 5) m, got {self.base_height}")
        if not 0 <= self.rollout_markers <= 4096:
            raise ValueError(f"rollout_markers must be in [0, 4096], got {self.rollout_markers}")
