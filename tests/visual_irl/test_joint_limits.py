"""Joint limits: where they come from, hand-computed limiter steps, and the limits holding on any stream (hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from visual_irl.joint_limits import (
    JointLimiter,
    JointLimits,
    JointLimitsCfg,
    check_stream,
    stop_trajectory,
    v_brake,
    v_stop,
)
from visual_irl.robots import load_robot


def _limits(n: int = 2, v: float = 2.0, a: float = 5.0, lo: float = -1.0, hi: float = 1.0) -> JointLimits:
    return JointLimits(
        names=tuple(f"j{i}" for i in range(n)),
        lower=np.full(n, lo),
        upper=np.full(n, hi),
        velocity=np.full(n, v),
        acceleration=np.full(n, a),
    )


def test_limits_are_the_urdfs_velocities_and_the_documented_accelerations_scaled():
    panda = JointLimits.of(load_robot("panda"), JointLimitsCfg(velocity_scale=1.0))
    assert panda.velocity.tolist() == [2.175] * 4 + [2.61] * 3  # panda.urdf <limit velocity>
    assert panda.acceleration.tolist() == [15.0, 7.5, 10.0, 12.5, 15.0, 20.0, 20.0]  # libfranka kMaxJointAcceleration
    assert panda.lower[3] == pytest.approx(-3.0718) and panda.upper[3] == pytest.approx(-0.0698)
    ur5 = JointLimits.of(load_robot("ur5"), JointLimitsCfg(velocity_scale=0.5, acceleration_scale=0.2))
    assert ur5.velocity.tolist() == pytest.approx([1.575] * 3 + [1.6] * 3)  # 0.5 x ur5 URDF 3.15 / 3.2 rad/s
    assert ur5.acceleration.tolist() == pytest.approx([1.0] * 6)  # 0.2 x 5 rad/s^2 (ur_moveit_config)
    assert JointLimitsCfg().velocity_scale == 0.9


@pytest.mark.parametrize(
    "field, value",
    [("velocity_scale", 0.0), ("velocity_scale", 1.5), ("acceleration_scale", float("nan")), ("max_dt_s", 0.0)],
)
def test_bad_limit_settings_are_refused(field, value):
    with pytest.raises(ValueError, match=field):
        JointLimitsCfg(**{field: value})


def test_stopping_speeds_by_hand():
    a, dt = np.array([5.0]), 0.1
    # continuous: v dt + v^2 / (2 a) = 0.5 -> v = -0.5 + sqrt(0.25 + 5) = 1.7913
    assert v_brake(np.array([0.5]), a, dt)[0] == pytest.approx(-0.5 + np.sqrt(5.25))
    # stepwise: 2.0 rad/s for one step (0.2), then 1.5, 1.0, 0.5 (0.15 + 0.10 + 0.05): 0.5 rad in all
    assert v_stop(np.array([0.5]), a, dt)[0] == pytest.approx(2.0)
    # below a dt per step the target is reached in one step: 0.03 rad in 0.1 s
    assert v_stop(np.array([0.03]), a, dt)[0] == pytest.approx(0.3)
    assert v_stop(np.array([0.0]), a, dt)[0] == 0.0


def test_a_far_target_is_approached_within_the_limits_and_reached_without_overshoot():
    lim = _limits(n=1, v=2.0, a=5.0, lo=-3.0, hi=3.0)
    limiter = JointLimiter(lim, max_dt_s=0.2, restart_dt=0.1, start=np.zeros(1))
    first = limiter.step(0.0, np.array([1.0]))
    assert first.q[0] == pytest.approx(0.05) and first.v[0] == pytest.approx(0.5)  # from rest: a dt = 0.5 rad/s
    qs = [first.q[0]] + [limiter.step(0.1 * k, np.array([1.0])).q[0] for k in range(1, 30)]
    assert np.all(np.diff(qs) >= -1e-12) and max(qs) <= 1.0 + 1e-12 and qs[-1] == pytest.approx(1.0)
    assert not limiter.step(3.0, np.array([1.0])).limited


def test_after_a_pause_the_targets_ramp_from_rest():
    lim = _limits(n=1, v=2.0, a=5.0, lo=-3.0, hi=3.0)
    limiter = JointLimiter(lim, max_dt_s=0.2, restart_dt=0.1, start=np.zeros(1))
    for k in range(10):
        limiter.step(0.1 * k, np.array([0.1 * k]))  # following a target that moves at 1 rad/s
    before = limiter.q.copy()
    after = limiter.step(0.9 + 0.5, np.array([2.0]))  # 0.5 s without frames; the target moved on by 1 rad
    assert abs(after.q[0] - before[0]) <= 5.0 * 0.1**2 + 1e-12  # one frame's step from rest, not a jump


@settings(max_examples=60, deadline=None)
@given(
    targets=st.lists(st.floats(-4.0, 4.0), min_size=2, max_size=40),
    gaps=st.lists(st.floats(0.002, 0.6), min_size=40, max_size=40),
    v=st.floats(0.2, 4.0),
    a=st.floats(0.5, 30.0),
)
def test_any_stream_of_targets_stays_within_the_limits(targets, gaps, v, a):
    lim = _limits(n=2, v=v, a=a, lo=-1.5, hi=2.5)
    limiter = JointLimiter(lim, max_dt_s=0.2, restart_dt=1 / 30, start=np.zeros(2))
    t = np.cumsum(gaps[: len(targets)])
    q = []
    for stamp, x in zip(t, targets, strict=True):
        step = limiter.step(float(stamp), np.array([x, -x]))
        q.append(step.q)
        stop = stop_trajectory(step.q, step.v, step.dt, lim)
        seg = np.diff(np.concatenate([[step.q - step.v * step.dt], stop]), axis=0) / step.dt  # [P, 2]
        assert np.all((stop >= lim.lower - 1e-9) & (stop <= lim.upper + 1e-9))
        assert np.all(np.abs(np.diff(seg, axis=0)) <= a * step.dt * (1 + 1e-9) + 1e-9)
        assert np.all(np.abs(seg[-1]) <= a * step.dt * (1 + 1e-9) + 1e-9)  # the last point is a stop
    report = check_stream(t, np.array(q), lim, 0.2, 1 / 30, start=np.zeros(2))
    assert report["pairs_over_velocity"] == report["pairs_over_acceleration"] == 0, report
    assert report["targets_outside_position_limits"] == 0


def test_check_stream_counts_what_exceeds_by_hand():
    lim = _limits(n=1, v=1.0, a=5.0, lo=-3.0, hi=3.0)
    t = np.array([0.0, 0.1, 0.2, 0.3, 1.0])
    q = np.array([[0.0], [0.05], [0.2], [0.2], [0.3]])  # 0.5 rad/s, 1.5 rad/s, 0, then 0.1 rad after a pause
    report = check_stream(t, q, lim, max_dt_s=0.2, restart_dt=0.1)
    assert report["pairs_over_velocity"] == 1  # 1.5 > 1.0
    # accelerations: 10 (0.5 -> 1.5 in 0.1 s), 15 (1.5 -> 0), 10 (rest -> 1.0 rad/s in one 0.1 s frame)
    assert report["pairs_over_acceleration"] == 3
    assert report["joints"]["j0"]["max_speed"] == pytest.approx(1.5)
    assert report["joints"]["j0"]["max_acceleration"] == pytest.approx(15.0)
