"""The manipulation planner node's decisions without DDS: every state, with explicit times."""

from __future__ import annotations

import numpy as np
import pytest

from pgnd.manip_cycle import ManipCycle, ManipCycleCfg, PlanRunner
from pgnd.manip_safety import GripperLimitsCfg
from pgnd.planner import ManipPlan

LINE = np.stack((np.linspace(-0.1, 0.1, 5), np.zeros(5), np.full(5, 0.006)), axis=-1)
MOVED = LINE + np.array([0.0, 0.05, 0.0])  # the target: the line 5 cm sideways


def plan(history, target) -> ManipPlan:
    grasp = history[-1][0]
    return ManipPlan(
        grasp_index=0, grasp=grasp, path=grasp + np.linspace(0, 1, 4)[:, None] * np.array([0.0, 0.05, 0.0]),
        predicted=np.zeros((0, 5, 3)), predicted_chamfer=0.0, cost=0.0,
    )  # fmt: skip


def cycle(fn=plan, **kw) -> ManipCycle:
    return ManipCycle(ManipCycleCfg(settle_s=0.2, **kw), PlanRunner(fn), GripperLimitsCfg(), history=2)


def feed(c: ManipCycle, t: float, cloud=LINE, closed=False, cmd=None) -> None:
    """Inputs at time t; with ``cmd``, the gripper is where the last command sent it (an ideal controller)."""
    pose = cmd.pose if cmd is not None and cmd.pose is not None else np.array([0.0, 0.0, 0.2])
    c.set_gripper(t, pose, cmd.closed if cmd is not None else closed)
    c.add_cloud(t, cloud)


def test_idle_without_a_target_sends_nothing():
    c = cycle()
    assert c.tick(0.0).pose is None and c.tick(0.0).state == "idle"


def test_observe_plan_execute_settle_and_done():
    c = cycle()
    c.set_target(MOVED, now=0.0)
    assert c.reset_requested
    feed(c, 0.0)  # stamped at the restart: not part of the new history
    t = 0.1
    feed(c, t)
    cmd = c.tick(t)
    assert cmd.state == "observing" and "history" in cmd.reason
    for _ in range(2):
        t += 0.1
        feed(c, t)
    cmd = c.tick(t)  # the synchronous runner plans at once; the first waypoint goes out
    assert cmd.state == "executing" and not cmd.closed
    assert np.allclose(cmd.pose, LINE[0] + [0.0, 0.0, 0.05])  # above the grasp point, open
    poses = [cmd]
    while True:
        t += 0.1
        feed(c, t, cmd=cmd)
        cmd = c.tick(t)
        if cmd.state != "executing":
            break
        poses.append(cmd)
    # above, down, close (each held until the gripper is there), 4 drag steps, then open, rise, park (an ideal
    # gripper is always there already, so each is sent once)
    closed = [p.closed for p in poses]
    assert closed == [False, False, True, True, True, True, True, False, False, False]
    assert cmd.state == "settling" and not cmd.closed and np.allclose(cmd.pose, [0.0, 0.0, 0.2])  # parked
    # after settling it observes again; the object now matches the target: done
    t += 0.3
    feed(c, t)
    cmd = c.tick(t)
    assert cmd.state == "observing"
    for _ in range(3):
        t += 0.1
        feed(c, t, MOVED)
    assert c.tick(t).state == "done" and c.actions == 1


def test_stale_gripper_or_cloud_holds_the_gripper_as_it_is_then_resumes():
    c = cycle(max_age=0.3)
    c.set_target(MOVED, now=0.0)
    feed(c, 0.1, closed=True)
    cmd = c.tick(1.0)  # 0.9 s since the last gripper state
    assert cmd.state == "stale_input" and "gripper" in cmd.reason
    assert cmd.closed and np.allclose(cmd.pose, [0.0, 0.0, 0.2])  # held closed where it is: nothing dropped
    c.set_gripper(1.0, np.array([0.0, 0.0, 0.2]), True)
    assert c.tick(1.0).state == "stale_input"  # the object cloud (0.1 s) is stale while observing
    feed(c, 1.05)
    assert c.tick(1.1).state == "observing"


def test_planner_failure_and_budget():
    def broken(history, target):
        raise RuntimeError("model diverged")

    c = cycle(fn=broken)
    c.set_target(MOVED, now=0.0)
    for k in range(3):
        feed(c, 0.1 * (k + 1))
    cmd = c.tick(0.3)
    assert cmd.state == "plan_failed" and "diverged" in cmd.reason
    assert c.tick(0.35).state == "plan_failed" and c.state == "observing"  # and it observes again
    b = cycle(max_actions=1)
    b.set_target(MOVED, now=0.0)
    t, cmd = 0.0, None
    for _ in range(40):
        t += 0.1
        feed(b, t, cmd=cmd)
        cmd = b.tick(t)
    assert cmd.state == "budget_spent" and b.actions == 1


def test_a_gripper_that_lags_is_waited_for_but_not_forever():
    c = cycle(reach_timeout=1.0)
    c.set_target(MOVED, now=0.0)
    for k in range(3):
        feed(c, 0.1 * (k + 1))
    first = c.tick(0.3)  # above the grasp point; the gripper stays at the park position
    sent = [first.pose]
    t = 0.3
    while t < 1.2:
        t += 0.1
        feed(c, t)
        sent.append(c.tick(t).pose)
    assert all(np.allclose(p, first.pose) for p in sent)  # held while the gripper has not arrived
    t += 0.3
    feed(c, t)
    assert not np.allclose(c.tick(t).pose, first.pose)  # after reach_timeout it moves on


def test_targets_leave_clamped_and_non_finite_plans_are_refused():
    def outside(history, target):
        p = plan(history, target)
        return ManipPlan(p.grasp_index, p.grasp, p.path + np.array([1.0, 0.0, 0.0]), p.predicted, 0.0, 0.0)

    c = cycle(fn=outside)
    c.set_target(MOVED, now=0.0)
    t = 0.0
    for _ in range(3):
        t += 0.1
        feed(c, t)
    poses, cmd = [], None
    for _ in range(14):
        cmd = c.tick(t)
        if cmd.state == "executing":
            poses.append(cmd.pose)
        t += 0.1
        feed(c, t, cmd=cmd)
    assert max(p[0] for p in poses) <= 0.3 + 1e-9 and c.clamped == 4

    def nan_plan(history, target):
        p = plan(history, target)
        return ManipPlan(p.grasp_index, p.grasp * np.nan, p.path, p.predicted, 0.0, 0.0)

    c = cycle(fn=nan_plan)
    c.set_target(MOVED, now=0.0)
    for k in range(3):
        feed(c, 0.1 * (k + 1))
    cmd = c.tick(0.3)
    assert cmd.state == "plan_failed" and np.isfinite(cmd.pose).all()
    with pytest.raises(ValueError, match="target"):
        c.set_target(np.full((3, 3), np.nan))
