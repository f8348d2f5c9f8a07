"""The terrain_sim node: what it publishes, how it takes commands and goals, and its errors.

The node runs in this process with a real subscriber/publisher node beside it
on one executor (loopback DDS); a separate-process run is in test_node_e2e.py.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(120)


def test_sim_node_topics_commands_timeout_and_route(ros_context, spin_until):
    from geometry_msgs.msg import PoseStamped, Twist
    from nav_msgs.msg import Odometry
    from nav_msgs.msg import Path as PathMsg
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node
    from rclpy.parameter import Parameter
    from rclpy.qos import DurabilityPolicy, QoSProfile
    from sensor_msgs.msg import PointCloud2
    from std_msgs.msg import String
    from visualization_msgs.msg import MarkerArray

    from dynamics_stack.ros.nav_convert import elevation_cloud_to_grid, make_pose_stamped, odometry_to_sample
    from sim.terrain_node import TerrainSimNode

    sim = TerrainSimNode(context=ros_context, parameter_overrides=[Parameter("scenario", value="flat_01")])
    probe = Node("probe", context=ros_context)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(sim)
    executor.add_node(probe)
    got = {"odom": [], "map": [], "status": [], "footprint": [], "route": []}
    probe.create_subscription(Odometry, "odometry", lambda m: got["odom"].append(odometry_to_sample(m)), 50)
    probe.create_subscription(PointCloud2, "elevation_map", lambda m: got["map"].append(m), 5)
    probe.create_subscription(String, "/terrain_sim/status", lambda m: got["status"].append(json.loads(m.data)), 10)
    probe.create_subscription(MarkerArray, "/terrain_sim/footprint", lambda m: got["footprint"].append(m), 10)
    latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
    probe.create_subscription(PathMsg, "route", lambda m: got["route"].append(m), latched)
    cmd_pub = probe.create_publisher(Twist, "cmd_vel", 10)
    goal_pub = probe.create_publisher(PoseStamped, "goal_pose", 10)
    try:
        assert spin_until(executor, lambda: len(got["odom"]) > 5 and got["map"] and got["footprint"], 20.0)
        first = got["odom"][-1]
        # flat_01: start (-8, 0, yaw 0); a standing ANYmal's base is 0.6 m above flat ground at z = 0.
        assert first.frame == "odom" and first.child_frame == "base_link"
        np.testing.assert_allclose(first.pose2d, [-8.0, 0.0, 0.0], atol=1e-6)
        assert first.position[2] == pytest.approx(0.6, abs=1e-3)
        grid = elevation_cloud_to_grid(got["map"][-1])
        assert grid.resolution == pytest.approx(0.05)  # the scenario's cells
        # 12 m square = 241 cells around x = -8 (cell 40 of the 20 m map from -9.975): x is clipped at the map border.
        assert grid.heights.shape == (161, 241)
        assert np.nanmax(np.abs(grid.heights)) == 0.0  # flat ground
        # Commands move it; a command that stops coming is replaced by zero after cmd_timeout.
        cmd = Twist()
        cmd.linear.x = 0.8

        def moving() -> bool:  # keeps commanding (each odometry message answers with a command) until it moves
            cmd_pub.publish(cmd)
            last = got["odom"][-1]
            return last.linear[0] > 0.3 and last.position[0] > first.position[0] + 0.1

        assert spin_until(executor, moving, 20.0)
        # No commands any more: after cmd_timeout (0.5 s of simulated time) the robot is commanded zero and stops.
        assert spin_until(executor, lambda: abs(got["odom"][-1].linear[0]) < 0.05, 20.0)
        # A non-finite command is rejected and counted, the robot does not move on it.
        bad = Twist()
        bad.linear.x = math.nan
        cmd_pub.publish(bad)
        assert spin_until(executor, lambda: got["status"][-1]["rejected_commands"] >= 1, 5.0)
        # A goal gets a route that ends there (the global-planner stand-in).
        goal_pub.publish(make_pose_stamped("odom", 0.0, 5.0, 2.0))
        assert spin_until(executor, lambda: bool(got["route"]), 20.0)
        end = got["route"][-1].poses[-1].pose.position
        assert (end.x, end.y) == pytest.approx((5.0, 2.0), abs=0.15)
        assert got["status"][-1]["failed"] is False
    finally:
        executor.shutdown()
        probe.destroy_node()
        sim.destroy_node()


def test_bad_scenario_is_a_clear_error():
    done = subprocess.run(
        [sys.executable, "-m", "sim.terrain_node", "--ros-args", "-p", "scenario:=no_such_scenario"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "no_such_scenario" in done.stderr and "Traceback" not in done.stderr
