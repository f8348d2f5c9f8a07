"""Safety behaviours of the fdm_planner node, each driven by real rclpy publishers over loopback DDS.

The planner node and a standing "robot" (tests/fdm_nav/nav_feed.py) run in
this process on one executor. Timing parameters are chosen so that each
behaviour shows within a few cycles; tests wait on conditions and count
cycles (status messages), never sleep or assert on how long something took.
The decisions themselves are unit-tested without DDS in test_control_cycle.py.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the helper beside this file (no test packages here)
from nav_feed import ZERO, RobotFeed, planner_node

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def rig(ros_context):
    """(planner, feed, executor) factory; everything is torn down after the test."""
    from rclpy.executors import SingleThreadedExecutor

    made = []

    def make(stamped: bool = False, activate: bool = True, **overrides):
        planner = planner_node(ros_context, **overrides)
        feed = RobotFeed(ros_context, stamped=stamped)
        executor = SingleThreadedExecutor(context=ros_context)
        executor.add_node(planner)
        executor.add_node(feed)
        made.append((planner, feed, executor))
        if activate:
            assert planner.trigger_configure().value == 0 or planner.settings is not None
            planner.trigger_activate()
        return planner, feed, executor

    yield make
    for planner, feed, executor in made:
        executor.shutdown()
        planner.destroy_node()
        feed.destroy_node()


def _drive_until_ok(planner, feed, executor, spin_until, goal=(5.0, 0.0)):
    """Give the robot a goal and wait until the planner publishes planned commands."""

    def ok():
        feed.goal_until_taken(*goal)
        return bool(feed.status) and feed.status[-1]["state"] == "ok" and len(feed.commands) >= 3

    assert spin_until(executor, ok, 30.0), feed.status[-3:]


def _in_limits(commands: np.ndarray, planner) -> bool:
    g = planner.settings.gate
    return bool(
        np.isfinite(commands).all()
        and (commands[:, 0] >= g.vx_min - 1e-9).all()
        and (commands[:, 0] <= g.vx_max + 1e-9).all()
        and (np.abs(commands[:, 1]) <= g.vy_max + 1e-9).all()
        and (np.abs(commands[:, 2]) <= g.wz_max + 1e-9).all()
    )


def test_planned_commands_move_toward_the_goal_within_limits(rig, spin_until):
    planner, feed, executor = rig()
    _drive_until_ok(planner, feed, executor, spin_until)
    n = len(feed.commands)
    assert spin_until(executor, lambda: len(feed.commands) >= n + 8)  # eight more planned cycles
    cmds = np.array(feed.commands)
    assert _in_limits(cmds, planner)
    assert cmds[-5:, 0].mean() > 0.05  # goal straight ahead: it walks forward
    # Acceleration bound between consecutive planned commands (one control period apart).
    g, period = planner.settings.gate, 1.0 / planner.settings.control_rate
    assert (np.abs(np.diff(cmds[:, :2], axis=0)) <= g.accel_lin * period + 1e-9).all()
    assert (np.abs(np.diff(cmds[:, 2])) <= g.accel_ang * period + 1e-9).all()


@pytest.mark.parametrize("which", ["odometry", "elevation map"])
def test_stale_input_gives_zero_then_quiet_with_reason(rig, spin_until, which):
    planner, feed, executor = rig(max_odom_age=0.3, max_map_age=0.6, stale_hold=0.4)
    _drive_until_ok(planner, feed, executor, spin_until)
    n_before = len(feed.commands)
    if which == "odometry":
        feed.odom_age = 2.0  # messages keep coming, but with old stamps
    else:
        feed.map_on = False  # the map stops
    assert spin_until(executor, lambda: feed.status[-1]["state"] == "stale_input", 10.0)
    assert which in feed.status[-1]["reason"]
    # Zero commands first, then quiet: cycles go on (status) but the command count stops growing.
    assert spin_until(executor, lambda: len(feed.commands) > n_before and feed.commands[-1] == ZERO, 5.0)
    assert spin_until(executor, lambda: feed.quiet_for(6), 10.0)  # six cycles without a command (hold is 4)
    assert feed.status[-1]["state"] == "stale_input"
    # Diagnostics say the same (1 Hz), as a warning.
    from diagnostic_msgs.msg import DiagnosticStatus

    assert spin_until(executor, lambda: any("stale_input" in d.message for d in feed.diagnostics), 5.0)
    stale_diag = next(d for d in feed.diagnostics if "stale_input" in d.message)
    assert stale_diag.level == DiagnosticStatus.WARN and which in stale_diag.message
    stale_cmds = feed.commands[n_before:]
    first_zero = next(i for i, c in enumerate(stale_cmds) if c == ZERO)
    assert all(c == ZERO for c in stale_cmds[first_zero:])
    # Fresh input again: planning resumes.
    feed.odom_age, feed.map_on = 0.0, True
    assert spin_until(executor, lambda: feed.status[-1]["state"] == "ok", 10.0)


def test_overrun_replays_the_shifted_plan_then_stops(rig, spin_until):
    from rclpy.parameter import Parameter

    planner, feed, executor = rig(max_overrun_cycles=3)
    _drive_until_ok(planner, feed, executor, spin_until)
    last_planned = feed.commands[-1]
    assert max(abs(v) for v in last_planned) > 0
    # No plan can meet a 0.1 ms budget: every cycle from now on overruns.
    result = planner.set_parameters([Parameter("plan_budget", value=1e-4)])[0]
    assert result.successful, result.reason
    n0 = len(feed.status)
    assert spin_until(executor, lambda: any("zero after" in s["reason"] for s in feed.status[n0:]), 10.0)
    overruns = [s for s in feed.status[n0:] if s["state"] == "overrun"]
    shifted = [s for s in overruns if "previous plan shifted" in s["reason"]]
    assert [s["reason"].split("(")[-1] for s in shifted[:3]] == ["1/3)", "2/3)", "3/3)"]
    assert spin_until(executor, lambda: feed.commands[-1] == ZERO)
    assert feed.status[-1]["overruns"] >= 4


def test_high_risk_publishes_zero_and_says_so(rig, spin_until):
    # Every sample's failure probability is above a threshold this low, so no plan is acceptable.
    _planner, feed, executor = rig(**{"planner.risk.threshold": 1e-9})

    def blocked():
        feed.goal_until_taken(5.0, 0.0)
        return bool(feed.status) and feed.status[-1]["state"] == "blocked_by_risk" and len(feed.commands) >= 3

    assert spin_until(executor, blocked, 30.0), feed.status[-3:]
    assert "risk" in feed.status[-1]["reason"]
    assert all(c == ZERO for c in feed.commands)


def test_wall_ahead_blocks_the_heuristic_planner(rig, spin_until):
    # A 1 m wall all around the robot at 0.3 m: no command sequence is safe, the robot must stay.
    _planner, feed, executor = rig(planner_type="heuristic")
    h = feed.heights
    ii, jj = np.meshgrid(np.arange(h.shape[0]), np.arange(h.shape[1]), indexing="ij")
    r = np.hypot(ii * 0.1 + feed.origin[0], jj * 0.1 + feed.origin[1])
    h[(r > 0.3) & (r < 0.6)] = 1.0

    def blocked():
        feed.goal_until_taken(5.0, 0.0)
        return bool(feed.status) and feed.status[-1]["state"] == "blocked_by_risk" and len(feed.commands) >= 3

    assert spin_until(executor, blocked, 30.0), feed.status[-3:]
    assert all(c == ZERO for c in feed.commands)


def test_non_finite_inputs_are_dropped_and_counted(rig, spin_until):
    from dynamics_stack.ros.nav_convert import make_odometry, make_pose_stamped

    planner, feed, executor = rig()
    _drive_until_ok(planner, feed, executor, spin_until)
    bad_odom = make_odometry("odom", "base_link", feed.now(), (math.nan, 0.0, 0.6), (0, 0, 0), (0, 0, 0), (0, 0, 0))
    bad_goal = make_pose_stamped("odom", feed.now(), math.inf, 0.0)
    wrong_frame_goal = make_pose_stamped("map", feed.now(), 3.0, 0.0)
    for _ in range(3):
        # Odometry is best effort (sensor-data QoS): on a loaded machine a message can be lost, so the bad one is
        # sent again until the planner has dropped it; goals are reliable and go once each.
        seen = planner.drops.counts.get("odometry", 0)

        def bad_odom_dropped(seen=seen) -> bool:
            feed.pub_odom.publish(bad_odom)
            return planner.drops.counts.get("odometry", 0) > seen

        assert spin_until(executor, bad_odom_dropped)
        for msg in (bad_goal, wrong_frame_goal):
            seen = planner.received["goal_pose"]
            feed.pub_goal.publish(msg)
            assert spin_until(executor, lambda seen=seen: planner.received["goal_pose"] > seen)

    def counted():
        d = feed.status[-1]["dropped"]
        return d.get("odometry", 0) >= 3 and d.get("goal_pose", 0) >= 6

    assert spin_until(executor, counted, 10.0), feed.status[-1]
    assert np.isfinite(np.array(feed.commands)).all()
    assert feed.status[-1]["state"] == "ok"  # the good stream goes on; the old goal is kept


def test_invalid_parameters_are_refused_with_a_reason(rig):
    from rclpy.parameter import Parameter

    planner, _feed, _executor = rig()
    for name, value, word in [
        ("control_rate", -1.0, "control_rate"),
        ("backend", "tensorrt", "backend"),
        ("device", "gpu", "device"),
        ("gate.vx_max", math.nan, "vx_max"),
        ("planner.risk.threshold", 1.5, "threshold"),
        ("max_overrun_cycles", 100, "max_overrun_cycles"),
    ]:
        before = planner.get_parameter(name).value
        result = planner.set_parameters([Parameter(name, value=value)])[0]
        assert not result.successful and word in result.reason, (name, result.reason)
        after = planner.get_parameter(name).value
        assert after == before or (isinstance(before, float) and math.isnan(before) and math.isnan(after))
    # A valid change is taken.
    assert planner.set_parameters([Parameter("stale_hold", value=0.2)])[0].successful


def test_configure_refuses_bad_startup_parameters(ros_context):
    from rclpy.parameter import Parameter

    from fdm_nav.node import PlannerNode

    node = PlannerNode(
        context=ros_context,
        parameter_overrides=[Parameter("model", value="models/no_such_model.card.json")],
    )
    try:
        node.trigger_configure()
        assert node.settings is None
        assert "no_such_model" in node.cycle.reason
    finally:
        node.destroy_node()


def test_lifecycle_quiet_when_inactive_and_zero_on_deactivate_and_shutdown(rig, spin_until):
    from lifecycle_msgs.msg import State

    planner, feed, executor = rig(activate=False)
    planner.trigger_configure()
    assert planner.settings is not None
    feed.send_goal(5.0, 0.0)
    # Configured but inactive: it takes inputs (a goal, 25 odometry messages = half a second) and publishes nothing.
    assert spin_until(executor, lambda: planner.received["goal_pose"] >= 1 and planner.received["odometry"] >= 25)
    assert feed.commands == [] and feed.status == []
    planner.trigger_activate()
    _drive_until_ok(planner, feed, executor, spin_until)
    assert max(abs(v) for v in feed.commands[-1]) > 0
    n = len(feed.commands)
    planner.trigger_deactivate()
    assert spin_until(executor, lambda: len(feed.commands) > n and feed.commands[-1] == ZERO)
    n, odom = len(feed.commands), planner.received["odometry"]
    assert spin_until(executor, lambda: planner.received["odometry"] >= odom + 25)  # half a second of inputs
    assert len(feed.commands) == n  # inactive again: quiet
    # Active again, then shut down from active: one last zero.
    planner.trigger_activate()
    _drive_until_ok(planner, feed, executor, spin_until)
    n = len(feed.commands)
    planner.trigger_shutdown()
    assert spin_until(executor, lambda: len(feed.commands) > n and feed.commands[-1] == ZERO)
    assert planner._state_machine.current_state[0] == State.PRIMARY_STATE_FINALIZED


def test_twist_stamped_by_parameter(rig, spin_until):
    planner, feed, executor = rig(stamped=True, cmd_vel_stamped=True)
    _drive_until_ok(planner, feed, executor, spin_until)
    msg = feed.stamped_msgs[-1]
    assert msg.header.frame_id == "base_link"
    assert msg.header.stamp.sec > 0


DETOUR = [(0.0, 0.0), (0.0, 3.0), (3.0, 3.0), (3.0, 0.0)]  # a route to (3, 0) by way of (0, 3)


@pytest.mark.parametrize("order", ["route_before_any_goal", "route_before_its_goal", "goal_before_route"])
def test_route_and_goal_in_either_order_the_route_is_followed(rig, spin_until, order):
    """Route and goal come on two topics from two publishers; DDS orders nothing across them.

    Each message is published once (after its subscription matched), in the order named; the
    planner's goal must then be the route's carrot, 3 m along it at (0, 3), not the goal (3, 0) itself.
    """
    planner, feed, executor = rig(planner_type="heuristic")
    for pub in (feed.pub_goal, feed.pub_route):
        assert spin_until(executor, lambda pub=pub: pub.get_subscription_count() > 0, 20.0)

    def send(what: str) -> None:
        name = {"route": "route", "goal": "goal_pose"}[what]
        seen = planner.received[name]
        feed.send_route(DETOUR) if what == "route" else feed.send_goal(3.0, 0.0)
        assert spin_until(executor, lambda: planner.received[name] > seen, 10.0), f"{name} never arrived"

    if order == "route_before_its_goal":  # a goal elsewhere is being driven to when the new route overtakes
        _drive_until_ok(planner, feed, executor, spin_until, goal=(-5.0, 0.0))
    sequence = ("goal", "route") if order == "goal_before_route" else ("route", "goal")
    for what in sequence:
        send(what)
    n = len(feed.status)

    def following() -> bool:
        if len(feed.status) <= n + 3:
            return False
        s = feed.status[-1]
        return s["state"] == "ok" and s["route"] and s["target"] == [0.0, 3.0]

    assert spin_until(executor, following, 20.0), feed.status[-2:]
    assert planner.drops.counts.get("route", 0) == 0


def test_a_latched_route_published_before_the_planner_subscribed_is_followed(rig, spin_until):
    """The two-process race: a global planner (terrain_sim) publishes its route once, keeping it (transient
    local), before its publisher and the planner's subscription have matched. The planner must still get it."""
    from nav_msgs.msg import Path as PathMsg
    from rclpy.qos import DurabilityPolicy, QoSProfile

    from dynamics_stack.ros.nav_convert import make_path

    planner, feed, executor = rig(planner_type="heuristic", activate=False)  # no subscriptions before configure
    latched = feed.create_publisher(PathMsg, "route", QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL))
    latched.publish(make_path(np.array([[x, y, 0.0] for x, y in DETOUR]), "odom", feed.now()))
    assert planner.received["route"] == 0
    planner.trigger_configure()
    planner.trigger_activate()
    assert spin_until(executor, lambda: planner.received["route"] > 0, 20.0), "the kept route never arrived"
    assert spin_until(executor, lambda: feed.pub_goal.get_subscription_count() > 0, 20.0)
    feed.send_goal(3.0, 0.0)
    n = len(feed.status)

    def following() -> bool:
        s = feed.status[-1] if len(feed.status) > n + 3 else None
        return bool(s) and s["state"] == "ok" and s["route"] and s["target"] == [0.0, 3.0]

    assert spin_until(executor, following, 20.0), feed.status[-2:]


def test_a_robot_that_does_not_move_goes_through_every_recovery_to_aborted(rig, spin_until):
    """The feed's robot never moves: after each 1 s window without progress a behaviour runs, then the goal is
    given up; ~/status and /diagnostics say so, with the reason, and the commands are the behaviours'."""
    from diagnostic_msgs.msg import DiagnosticStatus

    recovery = {"window": 1.0, "wait_time": 0.3, "backup_distance": 0.15, "rotate_angle": 0.25}
    _planner, feed, executor = rig(planner_type="heuristic", **{f"recovery.{k}": v for k, v in recovery.items()})

    def aborted():
        feed.goal_until_taken(5.0, 0.0)
        return bool(feed.status) and feed.status[-1]["state"] == "aborted"

    assert spin_until(executor, aborted, 60.0), feed.status[-3:]
    states = [s["state"] for s in feed.status]
    first = states.index("ok")
    assert states.index("no_progress") > first and "recovering" in states
    trips = [s["reason"] for s in feed.status if s["state"] == "no_progress"]
    assert [t.split(": ")[-1] for t in trips] == ["wait 0.3 s", "back up 0.15 m", "rotate left 0.25 rad"]
    assert feed.status[-1]["reason"].endswith("after 3 recoveries (wait, backup, rotate): goal given up")
    assert feed.status[-1]["recoveries"] == 3
    backing = [
        c for c, s in zip(feed.commands, _status_per_command(feed), strict=True) if s and "back up" in s["reason"]
    ]
    assert any(c[0] < 0 for c in backing)
    assert spin_until(executor, lambda: feed.commands[-1] == ZERO and feed.quiet_for(3), 10.0)  # zero, then quiet
    assert spin_until(executor, lambda: any("aborted" in d.message for d in feed.diagnostics), 5.0)
    assert next(d for d in feed.diagnostics if "aborted" in d.message).level == DiagnosticStatus.WARN


def _status_per_command(feed) -> list[dict | None]:
    """For each command received, the first status that came after it (the cycle that sent it)."""
    out = []
    for i in range(len(feed.commands)):
        after = next((j for j, n in enumerate(feed.commands_at) if n > i), None)
        out.append(feed.status[after] if after is not None else None)
    return out
