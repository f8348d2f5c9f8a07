"""The runner contract: what a simulator (or a robot) must publish and consume for ``fdm_planner`` to run unchanged.

Written once here and imported by the planner node (``fdm_nav.node``), the
embedded simulator node (``sim.terrain_node``), ``dynstack nav record`` and
the Isaac Sim runner (``sim/isaac/``), so a topic, type, frame or rate cannot
drift between them. Like ``fdm_nav.observation`` it is a leaf (it imports
only that module), so the simulators may import it without pulling in the
planner. Pure data: no ROS import; types are ROS 2 interface names.

Directions are seen from the simulator: ``out`` is published by it (and read
by the planner), ``in`` is read by it (published by the planner or rviz).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from fdm_nav.observation import CONTROL_RATE, SAMPLE_PERIOD

ODOM_FRAME = "odom"  # REP-105 fixed frame: odometry pose, elevation map points, goals, routes
BASE_FRAME = "base_link"  # REP-105 body frame: the odometry twist, stamped commands
CMD_TIMEOUT = 0.5  # s: a command older than this is replaced by zero (diff_drive_controller's default)


@dataclass(frozen=True, kw_only=True)
class TopicSpec:
    """One topic of the contract."""

    name: str
    """Topic name; relative names resolve in the node's namespace, '/' names are global."""
    type: str
    """ROS 2 interface name, ``package/msg/Type``."""
    direction: str
    """'out' (the simulator publishes it) or 'in' (the simulator reads it)."""
    frame: str
    """``header.frame_id`` of the message ('' for messages without a header)."""
    rate_hz: float
    """Nominal rate [Hz] (0: on demand, e.g. once per goal)."""
    min_rate_hz: float
    """Slowest rate the consumer still works with [Hz] (0: no minimum)."""
    reliable: bool
    """Publish with reliable QoS (a reliable publisher also serves best-effort subscribers)."""
    content: str
    """What the message holds, in the words the consumer relies on."""

    def __post_init__(self) -> None:
        if self.direction not in ("out", "in"):
            raise ValueError(f"{self.name}: direction must be 'out' or 'in', got {self.direction!r}")
        if self.type.count("/") != 2:
            raise ValueError(f"{self.name}: type must read package/msg/Type, got {self.type!r}")
        if not (math.isfinite(self.rate_hz) and self.rate_hz >= self.min_rate_hz >= 0):
            raise ValueError(f"{self.name}: need rate_hz >= min_rate_hz >= 0, got {self.rate_hz}, {self.min_rate_hz}")

    @property
    def msg_class(self) -> tuple[str, str]:
        """(python module, class) of the message: ``('nav_msgs.msg', 'Odometry')``."""
        package, kind, name = self.type.split("/")
        return f"{package}.{kind}", name


CLOCK = TopicSpec(
    name="/clock",
    type="rosgraph_msgs/msg/Clock",
    direction="out",
    frame="",
    rate_hz=50.0,  # once per published physics batch (terrain_sim: every 0.02 s step)
    min_rate_hz=0.0,
    reliable=True,
    content="simulated time; every other stamp is on this clock; nodes run with use_sim_time",
)
ODOMETRY = TopicSpec(
    name="odometry",
    type="nav_msgs/msg/Odometry",
    direction="out",
    frame=ODOM_FRAME,
    rate_hz=50.0,  # terrain_sim: every 0.02 s physics step; Isaac runner: every 0.02 s policy step
    # The planner's proprio history is sampled at 1 / SAMPLE_PERIOD = 20 Hz from it (fdm_nav.node_inputs).
    min_rate_hz=1.0 / SAMPLE_PERIOD,
    reliable=True,
    content=f"pose of {BASE_FRAME} in {ODOM_FRAME} (z = base height, full orientation); twist in {BASE_FRAME} "
    "(child_frame_id); the odom frame is the scenario's map frame (start pose = the scenario's start)",
)
ELEVATION_MAP = TopicSpec(
    name="elevation_map",
    type="sensor_msgs/msg/PointCloud2",
    direction="out",
    frame=ODOM_FRAME,
    rate_hz=5.0,  # terrain_sim's map_rate default; an elevation mapper's usual rate
    min_rate_hz=1.0,  # fdm_planner's max_map_age default is 1 s
    # Reliable: a 12 m map at 0.05 m is ~700 kB; best effort loses a whole sample when one UDP fragment drops.
    reliable=True,
    content="one point per grid cell: float32 x, y = cell centre, z = ground height [m], NaN = unknown; "
    "a square around the robot at the terrain's resolution",
)
CMD_VEL = TopicSpec(
    name="cmd_vel",
    type="geometry_msgs/msg/Twist",
    direction="in",
    frame="",  # Twist has no header; with cmd_vel_stamped it is TwistStamped in BASE_FRAME
    rate_hz=CONTROL_RATE,
    min_rate_hz=1.0 / CMD_TIMEOUT,  # slower than this and every command has timed out before the next
    reliable=True,
    content=f"body-frame command (linear.x, linear.y, angular.z); older than {CMD_TIMEOUT} s counts as zero",
)
GOAL_POSE = TopicSpec(
    name="goal_pose",
    type="geometry_msgs/msg/PoseStamped",
    direction="in",
    frame=ODOM_FRAME,
    rate_hz=0.0,
    min_rate_hz=0.0,
    reliable=True,
    content="the goal (rviz '2D Goal Pose'); the planner reads it too",
)

# What fdm_planner needs from a simulator: the four topics the issue names (clock only with use_sim_time).
REQUIRED = (CLOCK, ODOMETRY, ELEVATION_MAP, CMD_VEL)
TOPICS = (*REQUIRED, GOAL_POSE)
# Elevation-cloud point fields the planner reads (dynamics_stack.ros.nav_convert.elevation_cloud_to_grid).
ELEVATION_FIELDS = ("x", "y", "z")


def topic(name: str) -> TopicSpec:
    """The contract's entry for a topic name (without or with its leading '/')."""
    for spec in TOPICS:
        if spec.name.lstrip("/") == name.lstrip("/"):
            return spec
    raise KeyError(f"{name!r} is not in the runner contract ({', '.join(t.name for t in TOPICS)})")
