"""A real rclpy node that plays a standing robot for the planner node's tests.

It publishes odometry (50 Hz) and a flat elevation map (5 Hz) stamped with the
current time (or with an age the test chooses), records every cmd_vel and
status message, and sends goals. Nothing in it is a stand-in for ROS: the
planner receives real messages over loopback DDS.

Tests wait on conditions, never on time: ``cycles_since`` counts the planner's
status messages (one per control cycle), ``commands_at`` how many commands had
arrived when each status came, so "quiet for n cycles" is a condition too.
"""

from __future__ import annotations

import json

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseStamped, Twist, TwistStamped
from nav_msgs.msg import Odometry
from nav_msgs.msg import Path as PathMsg
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile
from sensor_msgs.msg import PointCloud2
from std_msgs.msg import String

from dynamics_stack.ros.nav_convert import grid_to_elevation_cloud, make_odometry, make_path, make_pose_stamped

FAST = {  # small planning problems: these tests check the node's behaviour, not the planner's quality
    "planner.mppi.num_samples": 64,
    "rollout_markers": 8,
    "autostart": False,
}


def planner_node(context, **overrides):
    """A PlannerNode in this process with FAST settings plus ``overrides`` (parameter name -> value)."""
    from fdm_nav.node import PlannerNode

    params = {**FAST, **overrides}
    return PlannerNode(context=context, parameter_overrides=[Parameter(k, value=v) for k, v in params.items()])


class RobotFeed(Node):
    """Publishes a standing robot's odometry and a flat map; records commands and status."""

    def __init__(self, context, stamped: bool = False):
        super().__init__("robot_feed", context=context)
        self.pub_odom = self.create_publisher(Odometry, "odometry", 10)
        self.pub_map = self.create_publisher(PointCloud2, "elevation_map", 10)
        self.pub_goal = self.create_publisher(PoseStamped, "goal_pose", QoSProfile(depth=10))
        self.pub_route = self.create_publisher(PathMsg, "route", QoSProfile(depth=1))
        self.commands: list[list[float]] = []
        self.status: list[dict] = []
        self.stamped_msgs: list[TwistStamped] = []
        if stamped:
            self.create_subscription(TwistStamped, "cmd_vel", self._on_stamped, 50)
        else:
            self.create_subscription(Twist, "cmd_vel", self._on_cmd, 50)
        self.commands_at: list[int] = []  # len(commands) when each status arrived
        self.create_subscription(String, "fdm_planner/status", self._on_status, 50)
        self.diagnostics: list = []
        self.create_subscription(DiagnosticArray, "/diagnostics", lambda m: self.diagnostics.extend(m.status), 10)
        self.odom_age = 0.0  # s subtracted from the stamps
        self.map_age = 0.0
        self.odom_on = True
        self.map_on = True
        self.maps_sent = 0
        self.position = (0.0, 0.0, 0.6)
        heights = np.zeros((121, 121), np.float32)  # 12 m x 12 m of flat ground at z = 0
        self.heights, self.origin = heights, (-6.0, -6.0)
        self.create_timer(0.02, self._odom)
        self.create_timer(0.2, self._map)

    def now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_status(self, msg: String) -> None:
        self.status.append(json.loads(msg.data))
        self.commands_at.append(len(self.commands))

    def quiet_for(self, cycles: int) -> bool:
        """The last ``cycles`` statuses came with no new command (the planner is running but publishes nothing)."""
        return len(self.commands_at) > cycles and self.commands_at[-1] == self.commands_at[-1 - cycles]

    def _on_cmd(self, msg: Twist) -> None:
        self.commands.append([msg.linear.x, msg.linear.y, msg.angular.z])

    def _on_stamped(self, msg: TwistStamped) -> None:
        self.stamped_msgs.append(msg)
        self._on_cmd(msg.twist)

    def _odom(self) -> None:
        if self.odom_on:
            msg = make_odometry(
                "odom", "base_link", self.now() - self.odom_age, self.position, (0, 0, 0), (0, 0, 0), (0, 0, 0)
            )
            self.pub_odom.publish(msg)

    def _map(self) -> None:
        if self.map_on:
            self.pub_map.publish(
                grid_to_elevation_cloud(self.heights, self.origin, 0.1, "odom", self.now() - self.map_age)
            )
            self.maps_sent += 1

    def send_goal(self, x: float, y: float, frame: str = "odom") -> None:
        self.pub_goal.publish(make_pose_stamped(frame, self.now(), x, y))

    def send_route(self, xy: list[tuple[float, float]], frame: str = "odom") -> None:
        """One nav_msgs/Path through ``xy``, as a global planner publishes a route: once."""
        poses = np.array([[x, y, 0.0] for x, y in xy])
        self.pub_route.publish(make_path(poses, frame, self.now()))

    def goal_until_taken(self, x: float, y: float) -> None:
        """Re-send the goal every 0.5 s while the planner reports no goal (DDS discovery may drop the first)."""
        import time

        idle = not self.status or self.status[-1]["state"] == "idle"
        if idle and time.monotonic() - getattr(self, "_goal_sent", -1.0) > 0.5:
            self._goal_sent = time.monotonic()
            self.send_goal(x, y)


ZERO = [0.0, 0.0, 0.0]
