"""Settings of the ``terrain_sim`` ROS 2 node (``sim.terrain_node``): ``TerrainSimNodeCfg`` is every parameter it has.

``config/navigation_sim.yaml`` and the node's table in docs/ros_nodes.md are
generated from it (``dynstack params --write``). Defaults of rates, frames and
the command timeout are the runner contract's (``fdm_nav.runner_contract``). No rclpy here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from fdm_nav.runner_contract import BASE_FRAME, CMD_TIMEOUT, ELEVATION_MAP, ODOM_FRAME


@dataclass(frozen=True, kw_only=True)
class TerrainSimNodeCfg:
    """Every parameter of the ``terrain_sim`` node."""

    scenario: str = "flat_01"
    """Scenario: a name in sim/scenarios/nav/ or a path to a scenario YAML."""
    seed: int = 0
    """Simulator seed (velocity noise)."""
    real_time_factor: float = 1.0
    """Simulated seconds per wall-clock second (above 1 only makes sense with publish_clock)."""
    publish_clock: bool = False
    """Publish /clock and stamp messages with simulated time (nodes then need use_sim_time)."""
    map_rate: float = ELEVATION_MAP.rate_hz
    """Elevation map, footprint and status rate [Hz] (by the stamp clock: wall time, or simulated with /clock)."""
    map_size: float = 12.0
    """Edge [m] of the square elevation map around the robot (0: the whole scenario map)."""
    cmd_timeout: float = CMD_TIMEOUT
    """A command older than this [s] is replaced by zero (diff_drive_controller's default)."""
    cmd_vel_stamped: bool = False
    """Subscribe geometry_msgs/TwistStamped instead of Twist on cmd_vel."""
    odom_frame: str = ODOM_FRAME
    """Fixed frame of odometry, map, route and markers (REP-105)."""
    base_frame: str = BASE_FRAME
    """Body frame of the odometry twist (REP-105)."""
    publish_route: bool = True
    """On goal_pose, publish a geometric route to it on the route topic (global-planner stand-in)."""
    publish_goal: bool = False
    """Publish the scenario's goal on goal_pose once, goal_delay s after start (demo without rviz)."""
    goal_delay: float = 3.0
    """Seconds (simulated) before the scenario goal is published when publish_goal is set."""
    record: str = ""
    """rosbag2 folder to record into (empty: no recording); must not exist yet."""
    record_storage: str = "mcap"
    """rosbag2 storage of the recording: 'mcap' or 'sqlite3'."""

    def __post_init__(self) -> None:
        for name in ("real_time_factor", "map_rate", "cmd_timeout"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be finite and > 0, got {value}")
        if not self.real_time_factor <= 50:
            raise ValueError(f"real_time_factor must be <= 50, got {self.real_time_factor}")
        if not (math.isfinite(self.map_size) and self.map_size >= 0):
            raise ValueError(f"map_size must be finite and >= 0, got {self.map_size}")
        if not (math.isfinite(self.goal_delay) and self.goal_delay >= 0):
            raise ValueError(f"goal_delay must be finite and >= 0, got {self.goal_delay}")
        if self.record_storage not in ("mcap", "sqlite3"):
            raise ValueError(f"record_storage must be 'mcap' or 'sqlite3', got {self.record_storage!r}")
        if not self.odom_frame or not self.base_frame:
            raise ValueError("odom_frame and base_frame must not be empty")
