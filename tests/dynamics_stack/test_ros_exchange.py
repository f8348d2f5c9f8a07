"""Real rclpy nodes over real DDS (loopback only): Twist and PointCloud2, in one process and across two."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
from geometry_msgs.msg import Twist
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import PointCloud2
from std_msgs.msg import String

from dynamics_stack.ros.pointcloud import array_to_pointcloud2, pointcloud2_to_array

RELIABLE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)


def test_environment_keeps_dds_on_loopback():
    assert os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "LOCALHOST"
    profile = Path(os.environ["FASTDDS_DEFAULT_PROFILES_FILE"])
    assert "<address>127.0.0.1</address>" in profile.read_text()
    assert 1 <= int(os.environ["ROS_DOMAIN_ID"]) <= 101


def test_two_nodes_exchange_twist_and_pointcloud(ros_context, spin_until):
    talker = Node("talker", context=ros_context)
    listener = Node("listener", context=ros_context)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(talker)
    executor.add_node(listener)
    got_twist: list[Twist] = []
    got_cloud: list[PointCloud2] = []
    listener.create_subscription(Twist, "cmd_vel", got_twist.append, RELIABLE)
    listener.create_subscription(PointCloud2, "elevation", got_cloud.append, RELIABLE)
    twist_pub = talker.create_publisher(Twist, "cmd_vel", RELIABLE)
    cloud_pub = talker.create_publisher(PointCloud2, "elevation", RELIABLE)
    points = np.array([[0.1, 0.2, 0.3], [1.0, np.nan, 2.0], [-1.0, 4.0, 0.05]], dtype=np.float32)
    twist = Twist()
    twist.linear.x, twist.angular.z = 0.8, -0.3

    def publish_and_check() -> bool:
        if not got_twist:
            twist_pub.publish(twist)
        if not got_cloud:
            cloud_pub.publish(array_to_pointcloud2(points, frame_id="odom"))
        return bool(got_twist and got_cloud)

    try:
        assert spin_until(executor, publish_and_check), "messages did not arrive over DDS"
        assert got_twist[0].linear.x == 0.8 and got_twist[0].angular.z == -0.3
        assert got_cloud[0].header.frame_id == "odom"
        np.testing.assert_array_equal(pointcloud2_to_array(got_cloud[0]), points)
    finally:
        executor.shutdown()
        talker.destroy_node()
        listener.destroy_node()


PUBLISHER = textwrap.dedent(
    """
    import sys, time
    import rclpy
    from geometry_msgs.msg import Twist
    from std_msgs.msg import String
    rclpy.init()
    node = rclpy.create_node("remote_talker")
    pub = node.create_publisher(Twist, "remote_cmd", 10)
    done = []
    node.create_subscription(String, "ack", lambda m: done.append(m.data), 10)
    msg = Twist()
    msg.linear.y = 0.25
    deadline = time.monotonic() + 20.0
    while not done and time.monotonic() < deadline:
        pub.publish(msg)
        rclpy.spin_once(node, timeout_sec=0.05)
    node.destroy_node()
    rclpy.shutdown()
    sys.exit(0 if done else 3)
    """
)


def test_twist_crosses_process_boundary(ros_context, spin_until):
    remote = subprocess.Popen([sys.executable, "-c", PUBLISHER], env=os.environ.copy())
    node = Node("local_listener", context=ros_context)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(node)
    got: list[Twist] = []
    node.create_subscription(Twist, "remote_cmd", got.append, 10)
    ack = node.create_publisher(String, "ack", 10)
    try:
        assert spin_until(executor, lambda: bool(got), timeout_s=20.0), "no Twist from the other process"
        assert got[0].linear.y == 0.25
        assert spin_until(executor, lambda: (ack.publish(String(data="ok")), remote.poll() is not None)[1], 20.0)
        assert remote.returncode == 0
    finally:
        if remote.poll() is None:
            remote.kill()
        executor.shutdown()
        node.destroy_node()
