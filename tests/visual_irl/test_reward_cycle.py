"""The reward node's per-frame decisions without ROS: every reason a frame gets no reward, and a good frame's outputs.

Runs the real reward model (the tiny AIRL run of conftest.py) through ONNX Runtime and the real retargeting.
"""

from __future__ import annotations

import numpy as np
import pytest

from dynamics_stack.runtime import load_runtime
from visual_irl.camera import CameraCfg
from visual_irl.demos import DemoGenCfg, generate_demo
from visual_irl.features import NEEDED
from visual_irl.joint_limits import check_stream
from visual_irl.node_cfg import IrlRewardNodeCfg
from visual_irl.retarget import Retargeter
from visual_irl.reward_cycle import RewardCycle, replay
from visual_irl.robots import load_robot


@pytest.fixture(scope="module")
def frame():
    """(points [17, 4], onion [1, 4]) of a good frame of a generated demonstration."""
    demo = generate_demo(DemoGenCfg(camera=CameraCfg(dropout=0.0, depth_hole=0.0)), "good", seed=5)
    points = np.concatenate([demo.keypoints[30], np.full((17, 1), 0.95)], axis=1)
    blemished = 1.0 if "blemished" in demo.labels[0] else 0.0
    return points, np.append(np.nan_to_num(demo.objects[30, 0]), blemished)[None]


@pytest.fixture
def cycle(tiny_model):
    runtime = load_runtime(tiny_model[2].path, backend="onnx")
    return RewardCycle(IrlRewardNodeCfg(), runtime, Retargeter(load_robot("panda")))


def test_a_good_frame_gives_a_finite_reward_and_joint_targets(cycle, frame):
    points, onion = frame
    assert cycle.take_objects(10.0, onion) is None and cycle.onion_stamp == 10.0
    result = cycle.frame(10.05, points)
    assert result.dropped is None and np.isfinite([result.reward, result.potential]).all()
    assert result.min_confidence == pytest.approx(0.95) and result.joints.shape == (7,)
    # the first target is one camera frame's step from rest at the rest posture towards the retargeted joints
    lim = cycle.limiter.limits
    step = result.joints - cycle.retargeter.home
    assert np.all(np.abs(step) <= lim.acceleration * result.step_s**2 + 1e-12) and result.step_s == pytest.approx(
        1 / 30
    )
    assert result.trajectory.shape[1] == 7 and np.array_equal(result.trajectory[0], result.joints)
    assert result.shown[list(NEEDED)].all()  # the keypoints a good frame uses are drawn (its legs are off the image)
    assert dict(cycle.counts) == {"frames": 1, "rewarded": 1, "joint_targets": 1, "joint_targets_limited": 1}


def test_every_reason_for_no_reward_is_counted(cycle, frame):
    points, onion = frame
    assert cycle.frame(10.0, points).dropped == "no_recent_onion"  # no objects message yet
    assert cycle.take_objects(10.0, onion[:0]).dropped == "objects_missing"
    cycle.take_objects(10.0, onion)
    assert cycle.frame(10.3, points).dropped == "no_recent_onion"  # 0.3 s > max_object_age_s
    assert cycle.frame(10.0, points[:16]).dropped == "malformed"
    bad = points.copy()
    bad[NEEDED[0], 0] = np.nan
    assert cycle.frame(10.0, bad).dropped == "non_finite"
    bad = points.copy()
    bad[NEEDED[0], 3] = 0.2
    assert cycle.frame(10.0, bad).dropped == "low_confidence"
    bad = points.copy()
    bad[NEEDED[0], :3] = 20.0
    assert cycle.frame(10.0, bad).dropped == "out_of_range"
    result = cycle.frame(10.0, bad)
    assert result.keypoints is not None and result.reward is None  # the skeleton is still drawn ...
    assert cycle.dropped == 8 and cycle.counts["frames"] == 7 and cycle.counts["rewarded"] == 0  # 7 frames + 1 objects
    good = cycle.frame(10.0, points).shown
    assert good[NEEDED[0]] and np.array_equal(result.shown, good & (np.arange(17) != NEEDED[0]))  # ... without it


def test_joint_targets_only_for_frames_after_the_last_target(cycle, frame):
    points, onion = frame
    cycle.take_objects(10.0, onion)
    assert cycle.frame(10.0, points).joints is not None
    late = cycle.frame(9.9, points)  # an older frame (reordered on the way): a reward, no joint target
    assert late.reward is not None and late.joints is None and late.dropped is None
    assert cycle.frame(10.0, points).joints is None  # the same frame twice
    assert cycle.counts["dropped_stamp_not_newer"] == 2
    cycle.take_objects(5.0, onion)
    assert cycle.frame(5.0, points).joints is not None  # 5 s back: a replayed source starts a new stream
    assert cycle.frame(5.1, points).joints is not None


def test_replayed_demonstrations_stay_within_the_robots_limits(tiny_model):
    """Good, suboptimal and gappy (frames dropped) demonstrations at 10 Hz: the retargeted joints exceed the
    Panda's and UR5's limits; the targets the cycle gives never do (every pair, from the rest posture on)."""
    runtime = load_runtime(tiny_model[2].path, backend="onnx")
    gaps = tuple(k for k in range(200) if k % 20 in (8, 9, 10, 11))  # 0.4 s without frames every 2 s
    for robot in ("panda", "ur5"):
        retargeter = Retargeter(load_robot(robot))
        raw_over = 0
        for quality, seed, skip in (("good", 5, ()), ("suboptimal", 6, ()), ("good", 7, gaps)):
            retargeter.reset()
            cycle = RewardCycle(IrlRewardNodeCfg(robot=robot, expected_rate_hz=10.0), runtime, retargeter)
            out = [(t, r) for t, r in replay(cycle, generate_demo(DemoGenCfg(), quality, seed=seed), skip=skip)]
            t = np.array([t for t, r in out if r.joints is not None])
            assert len(t) > 40
            q = np.array([r.joints for _, r in out if r.joints is not None])
            raw = np.array([r.retargeted for _, r in out if r.joints is not None])
            lim, max_dt = cycle.limiter.limits, cycle.cfg.limits.max_dt_s
            report = check_stream(t, q, lim, max_dt, 0.1, start=retargeter.home)
            assert report["pairs_over_velocity"] == report["pairs_over_acceleration"] == 0, (robot, quality)
            assert report["targets_outside_position_limits"] == 0
            raw_over += check_stream(t, raw, lim, max_dt, 0.1)["pairs_over_velocity"]
            for r in (r for _, r in out if r.trajectory is not None):  # every stop ends at rest inside the limits
                seg = np.diff(r.trajectory, axis=0) / r.step_s
                assert np.all(np.abs(seg) <= lim.velocity * (1 + 1e-9))
                assert np.all((r.trajectory >= lim.lower) & (r.trajectory <= lim.upper))
                assert np.all(np.abs(seg[-1:]) <= lim.acceleration * r.step_s + 1e-9)
        assert raw_over > 0  # the limits had work to do


def test_without_a_robot_there_are_no_joint_targets(tiny_model, frame):
    points, onion = frame
    cycle = RewardCycle(IrlRewardNodeCfg(robot="none"), load_runtime(tiny_model[2].path, backend="onnx"), None)
    cycle.take_objects(1.0, onion)
    result = cycle.frame(1.0, points)
    assert result.reward is not None and result.joints is None and "joint_targets" not in cycle.counts
