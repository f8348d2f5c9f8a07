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
from visual_irl.node_cfg import IrlRewardNodeCfg
from visual_irl.retarget import Retargeter
from visual_irl.reward_cycle import RewardCycle
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
    assert dict(cycle.counts) == {"frames": 1, "rewarded": 1, "joint_targets": 1}


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
    assert result.keypoints is not None and result.reward is None  # the skeleton is still drawn
    assert cycle.dropped == 8 and cycle.counts["frames"] == 7 and cycle.counts["rewarded"] == 0  # 7 frames + 1 objects


def test_without_a_robot_there_are_no_joint_targets(tiny_model, frame):
    points, onion = frame
    cycle = RewardCycle(IrlRewardNodeCfg(robot="none"), load_runtime(tiny_model[2].path, backend="onnx"), None)
    cycle.take_objects(1.0, onion)
    result = cycle.frame(1.0, points)
    assert result.reward is not None and result.joints is None and "joint_targets" not in cycle.counts
