"""End to end over real ROS 2 topics: the terrain_sim node and the fdm_planner node as two processes.

The test sends a goal on goal_pose (as rviz's "2D Goal Pose" does) and watches
the simulator's status: on flat ground the robot reaches the goal; on a
scenario whose straight line crosses a trench it must not fail (reaching the
goal within the test's time is not required there). Runs in real time, so
the goals are a few metres away; K = 256 keeps the 10 Hz cycle on a busy CPU.
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the helper beside this file (no test packages here)
from nav_feed import ZERO, RobotFeed
from ros_procs import start_node, stop_node

pytestmark = pytest.mark.timeout(240)


def _spin_until(executor, predicate, timeout_s: float = 10.0) -> bool:
    """Spin until ``predicate()`` holds (the timeout only bounds a hang; nothing is asserted on time)."""
    deadline = time.monotonic() + timeout_s
    while not predicate() and time.monotonic() < deadline:
        executor.spin_once(timeout_sec=0.05)
    return predicate()


def _drive(ros_context, scenario: str, goal: tuple[float, float], wall_s: float, planner_params: dict):
    from geometry_msgs.msg import PoseStamped, Twist
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node
    from rclpy.qos import QoSProfile
    from std_msgs.msg import String

    from dynamics_stack.ros.nav_convert import make_pose_stamped

    # The parameter files of launch/navigation_sim.launch.py, as that launch file passes them.
    files = ("config/navigation.yaml", "config/navigation_sim.yaml")
    sim, sim_log = start_node("sim.terrain_node", {"scenario": scenario}, "terrain_sim", files[1:])
    planner, planner_log = start_node(
        "fdm_nav.node", {"planner.mppi.num_samples": 256, "rollout_markers": 16, **planner_params}, "fdm_planner", files
    )
    node = Node("e2e_test", context=ros_context)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(node)
    sim_status, planner_status, commands = [], [], []
    node.create_subscription(String, "/terrain_sim/status", lambda m: sim_status.append(json.loads(m.data)), 10)
    node.create_subscription(String, "/fdm_planner/status", lambda m: planner_status.append(json.loads(m.data)), 10)
    node.create_subscription(
        Twist, "cmd_vel", lambda m: commands.append([m.linear.x, m.linear.y, m.angular.z]), QoSProfile(depth=50)
    )
    goal_pub = node.create_publisher(PoseStamped, "goal_pose", QoSProfile(depth=1))
    try:
        # The planner answers on its status topic once it is active; then the goal goes out until it is taken.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (planner_status and sim_status):
            executor.spin_once(timeout_sec=0.1)
        assert planner_status, f"planner never became active; log:\n{planner_log.read_text()[-3000:]}"
        while time.monotonic() < deadline and planner_status[-1]["state"] == "idle":
            goal_pub.publish(make_pose_stamped("odom", 0.0, *goal))
            end = time.monotonic() + 0.5
            while time.monotonic() < end:
                executor.spin_once(timeout_sec=0.05)
        assert planner_status[-1]["state"] != "idle", "goal never accepted"
        end = time.monotonic() + wall_s
        while time.monotonic() < end:
            executor.spin_once(timeout_sec=0.05)
            last = sim_status[-1]
            reached = math.hypot(last["pose"][0] - goal[0], last["pose"][1] - goal[1]) <= 0.5
            if last["failed"] or (reached and planner_status[-1]["state"] in ("goal_reached", "idle")):
                break
        if planner_status[-1]["state"] in ("goal_reached", "idle"):  # goal reached: it answers with a zero
            _spin_until(executor, lambda: bool(commands) and commands[-1] == ZERO)
        n_before_stop = len(commands)
    finally:
        codes = stop_node(planner), stop_node(sim)
        n_stopped = len(commands)  # what the planner sent last (its exit zero) may still be on its way:
        _spin_until(executor, lambda: len(commands) > n_stopped and commands[-1] == ZERO, 5.0)
        executor.shutdown()
        node.destroy_node()
    commands = np.array(commands)
    return sim_status, planner_status, commands, codes, (sim_log, planner_log, n_before_stop)


def test_robot_reaches_a_goal_on_flat_ground(ros_context):
    # flat_01 starts at (-8, 0) facing +x; the goal is 4 m ahead and 1 m to the side.
    sim_status, planner_status, commands, codes, logs = _drive(ros_context, "flat_01", (-4.0, 1.0), 60.0, {})
    last = sim_status[-1]
    assert not last["failed"], last
    assert math.hypot(last["pose"][0] + 4.0, last["pose"][1] - 1.0) <= 0.5, (last, logs[1].read_text()[-2000:])
    assert any(s["state"] == "goal_reached" for s in planner_status)
    assert len(commands) > 10 and np.isfinite(commands).all()
    assert (np.abs(commands[:, 0]) <= 1.0 + 1e-9).all()
    # Goal reached: the last command before the processes were stopped is a zero (then the planner is quiet),
    # and the planner's shutdown sent a zero too.
    assert commands[logs[2] - 1].tolist() == [0.0, 0.0, 0.0]
    assert commands[-1].tolist() == [0.0, 0.0, 0.0]
    assert codes == (0, 0)


def test_deadly_direct_path_does_not_fail(ros_context):
    # pits_trench_01: the straight line from the start to the goal runs into a trench; the simulator
    # publishes a route over the bridge. Within the time given the robot must not fall.
    sim_status, planner_status, commands, codes, _ = _drive(ros_context, "pits_trench_01", (8.0, 0.0), 45.0, {})
    assert not any(s["failed"] for s in sim_status), sim_status[-1]
    moved = math.hypot(
        sim_status[-1]["pose"][0] - sim_status[0]["pose"][0], sim_status[-1]["pose"][1] - sim_status[0]["pose"][1]
    )
    assert moved > 1.0  # it did drive (a robot that never moves trivially never fails)
    assert np.isfinite(commands).all()
    assert codes == (0, 0)
    assert {s["state"] for s in planner_status} <= {
        "idle",
        "ok",
        "stale_input",
        "overrun",
        "blocked_by_risk",
        "goal_reached",
        "inactive",  # its shutdown
    }


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_planner_process_sends_zero_when_stopped(ros_context, spin_until, sig):
    """Ctrl-C (SIGINT) or SIGTERM (how launch stops a node) while driving: the last command is zero."""
    import signal

    from rclpy.executors import SingleThreadedExecutor

    planner, log = start_node("fdm_nav.node", {"planner.mppi.num_samples": 64}, "fdm_planner")
    feed = RobotFeed(ros_context)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(feed)
    try:

        def driving():
            feed.goal_until_taken(5.0, 0.0)
            return len(feed.commands) >= 3 and max(abs(v) for v in feed.commands[-1]) > 0

        assert spin_until(executor, driving, 60.0), log.read_text()[-2000:]
        planner.send_signal(getattr(signal, sig))
        assert spin_until(executor, lambda: planner.poll() is not None, 20.0)
        assert planner.returncode == 0, log.read_text()[-2000:]
        assert spin_until(executor, lambda: feed.commands[-1] == ZERO, 5.0), feed.commands[-3:]
    finally:
        stop_node(planner)
        executor.shutdown()
        feed.destroy_node()
