"""Fuzzing every message type the fdm_planner node subscribes: NaN, Inf, huge values, malformed layouts.

A running planner (active, a goal, a standing robot feeding good odometry and
maps) receives hypothesis-made Odometry, PointCloud2, PoseStamped (goal) and
Path (route) messages over real publishers, interleaved with the good stream.
After each one the node must still be alive and answering, and every command
it has published must be finite, inside the velocity bounds, and (unless it
is a stop) inside the acceleration bounds from the previous command. Each
example waits until the node has received the message and run two more
cycles (status messages), not for a span of time.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))  # the helper beside this file (no test packages here)
from nav_feed import RobotFeed, planner_node

pytestmark = pytest.mark.timeout(300)

BAD = [math.nan, math.inf, -math.inf, 1e308, -1e308, 1e30, -1e12, 3.4e38]
number = st.one_of(st.sampled_from(BAD), st.floats(allow_nan=True, allow_infinity=True), st.floats(-10, 10))
stamp_sec = st.one_of(st.just(None), st.integers(-(2**31), 2**31 - 1))  # None: now
frames = st.sampled_from(["odom", "", "map", "base_link"])
EXAMPLES = 25  # per message type; each example is one real publish + one control cycle


def _stamp(feed, sec):
    from builtin_interfaces.msg import Time

    from dynamics_stack.ros.nav_convert import sec_to_stamp

    return sec_to_stamp(feed.now()) if sec is None else Time(sec=sec, nanosec=0)


@st.composite
def odometry(draw):
    from nav_msgs.msg import Odometry

    msg = Odometry()
    msg.header.frame_id = draw(frames)
    msg.child_frame_id = "base_link"
    p, q = msg.pose.pose.position, msg.pose.pose.orientation
    p.x, p.y, p.z = draw(number), draw(number), draw(number)
    q.x, q.y, q.z, q.w = draw(number), draw(number), draw(number), draw(number)
    t = msg.twist.twist
    t.linear.x, t.linear.y, t.linear.z = draw(number), draw(number), draw(number)
    t.angular.x, t.angular.y, t.angular.z = draw(number), draw(number), draw(number)
    return msg, draw(stamp_sec)


@st.composite
def cloud(draw):
    from sensor_msgs.msg import PointCloud2, PointField

    from dynamics_stack.ros.pointcloud import array_to_pointcloud2

    n = draw(st.integers(0, 40))
    if draw(st.booleans()):  # well-formed layout, hostile values
        pts = np.array([[draw(number), draw(number), draw(number)] for _ in range(n)], dtype=np.float64)
        with np.errstate(over="ignore", invalid="ignore"):
            msg = array_to_pointcloud2(pts.reshape(n, 3).astype(np.float32))
    else:  # hostile layout
        msg = PointCloud2()
        msg.height = draw(st.integers(0, 3))
        msg.width = draw(st.integers(0, 50))
        msg.point_step = draw(st.integers(0, 32))
        msg.row_step = draw(st.integers(0, 2000))
        names = draw(st.lists(st.sampled_from(["x", "y", "z", "i"]), max_size=4))
        msg.fields = [
            PointField(
                name=nm,
                offset=draw(st.integers(0, 40)),
                datatype=draw(st.integers(0, 9)),
                count=draw(st.integers(0, 3)),
            )
            for nm in names
        ]
        msg.data = draw(st.binary(max_size=800))
    msg.header.frame_id = draw(frames)
    return msg, draw(stamp_sec)


@st.composite
def goal(draw):
    from geometry_msgs.msg import PoseStamped

    msg = PoseStamped()
    msg.header.frame_id = draw(frames)
    p, q = msg.pose.position, msg.pose.orientation
    p.x, p.y, p.z = draw(number), draw(number), draw(number)
    q.x, q.y, q.z, q.w = draw(number), draw(number), draw(number), draw(number)
    return msg, draw(stamp_sec)


@st.composite
def route(draw):
    from geometry_msgs.msg import PoseStamped
    from nav_msgs.msg import Path as PathMsg

    msg = PathMsg()
    msg.header.frame_id = draw(frames)
    for _ in range(draw(st.integers(0, 6))):
        pose = PoseStamped()
        pose.pose.position.x, pose.pose.position.y = draw(number), draw(number)
        msg.poses.append(pose)
    return msg, draw(stamp_sec)


def _check_commands(cmds: np.ndarray, planner) -> None:
    g = planner.settings.gate
    period = 1.0 / planner.settings.control_rate
    assert np.isfinite(cmds).all()
    assert (cmds[:, 0] >= g.vx_min - 1e-9).all() and (cmds[:, 0] <= g.vx_max + 1e-9).all()
    assert (np.abs(cmds[:, 1]) <= g.vy_max + 1e-9).all() and (np.abs(cmds[:, 2]) <= g.wz_max + 1e-9).all()
    step = np.diff(cmds, axis=0)
    stop = (cmds[1:] == 0).all(axis=1)  # safety stops may jump to zero
    lin_ok = (np.abs(step[:, :2]) <= g.accel_lin * period + 1e-9).all(axis=1)
    ang_ok = np.abs(step[:, 2]) <= g.accel_ang * period + 1e-9
    assert (stop | (lin_ok & ang_ok)).all()


@pytest.mark.parametrize("kind", ["odometry", "elevation_map", "goal_pose", "route"])
def test_fuzzed_messages_never_give_a_bad_command(ros_context, spin_until, kind):
    from rclpy.executors import SingleThreadedExecutor

    from dynamics_stack.ros.nav_convert import make_pose_stamped

    planner = planner_node(ros_context, **{"planner.mppi.num_samples": 32, "max_odom_age": 1.0})
    feed = RobotFeed(ros_context)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(planner)
    executor.add_node(feed)
    planner.trigger_configure()
    planner.trigger_activate()
    pubs = {
        "odometry": feed.pub_odom,
        "elevation_map": feed.pub_map,
        "goal_pose": feed.pub_goal,
        "route": feed.create_publisher(__import__("nav_msgs.msg").msg.Path, "route", 10),
    }
    strategy = {"odometry": odometry(), "elevation_map": cloud(), "goal_pose": goal(), "route": route()}[kind]
    try:

        def ok():
            feed.goal_until_taken(5.0, 0.0)
            return bool(feed.status) and feed.status[-1]["state"] == "ok"

        assert spin_until(executor, ok, 30.0), feed.status[-3:]

        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
        @given(item=strategy)
        def check(item):
            msg, sec = item
            if hasattr(msg, "header"):
                msg.header.stamp = _stamp(feed, sec)
            seen = planner.received[kind]
            pubs[kind].publish(msg)
            assert spin_until(executor, lambda: planner.received[kind] > seen)  # it arrived
            n_status = len(feed.status)
            assert spin_until(executor, lambda: len(feed.status) >= n_status + 2)  # a cycle after it: still answering
            if feed.commands:
                _check_commands(np.array(feed.commands), planner)
            if feed.status[-1]["state"] in ("idle", "goal_reached"):  # a fuzzed goal may be reached or replaced
                feed.send_goal(5.0, 0.0)

        check()
        dropped = feed.status[-1]["dropped"]
        assert sum(dropped.values()) > 0, "no fuzzed message was refused; the strategies are too tame"
        # Good messages still work afterwards: a fresh goal gets planned commands again.
        feed.pub_goal.publish(make_pose_stamped("odom", feed.now(), 5.0, 0.0))
        assert spin_until(executor, lambda: feed.status[-1]["state"] in ("ok", "blocked_by_risk"), 20.0)
    finally:
        executor.shutdown()
        planner.destroy_node()
        feed.destroy_node()
