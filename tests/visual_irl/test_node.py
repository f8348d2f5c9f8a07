"""The irl_reward lifecycle node over real DDS: stamped rewards for good frames, none for bad ones (fuzzed)."""

from __future__ import annotations

import numpy as np
import pytest
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import Vector3Stamped
from rclpy.executors import SingleThreadedExecutor
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import JointState, PointCloud2
from std_msgs.msg import Header
from visualization_msgs.msg import MarkerArray

from dynamics_stack.ros.pointcloud import array_to_pointcloud2
from visual_irl.camera import CameraCfg
from visual_irl.demos import DemoGenCfg, generate_demo
from visual_irl.features import NEEDED
from visual_irl.node import IrlRewardNode
from visual_irl.node_cfg import IrlRewardNodeCfg


def _header(i: int) -> Header:
    return Header(stamp=Time(sec=100 + i // 10, nanosec=(i % 10) * 100_000_000), frame_id="camera_color_optical_frame")


def _corrupt(kp: np.ndarray, conf: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, str]:
    kind = rng.choice(["nan", "inf", "-inf", "low_conf", "nan_conf", "missing_point", "huge"])
    j = int(rng.choice(NEEDED))
    kp, conf = kp.copy(), conf.copy()
    if kind == "nan":
        kp[j, rng.integers(3)] = np.nan
    elif kind == "inf":
        kp[j, rng.integers(3)] = np.inf
    elif kind == "-inf":
        kp[j, rng.integers(3)] = -np.inf
    elif kind == "low_conf":
        conf[j] = rng.uniform(0.0, 0.49)
    elif kind == "nan_conf":
        conf[j] = np.nan
    elif kind == "missing_point":
        kp, conf = kp[:-1], conf[:-1]  # 16 points
    else:
        kp[j] = 3.4e38  # float32 max: finite input, must still give no non-finite output
    return kp, conf, str(kind)


def test_bad_parameters_are_refused(ros_context, tiny_model):
    node = IrlRewardNode(
        context=ros_context,
        parameter_overrides=[Parameter("model", value=str(tiny_model[2].path)), Parameter("min_confidence", value=1.5)],
    )
    try:
        assert node.trigger_configure() == TransitionCallbackReturn.FAILURE
        assert node.cycle is None
    finally:
        node.destroy_node()


@pytest.mark.parametrize("backend", ["onnx"])
def test_node_rewards_good_frames_with_their_stamp_and_drops_bad_ones(ros_context, spin_until, tiny_model, backend):
    card = tiny_model[2]
    node = IrlRewardNode(
        context=ros_context,
        parameter_overrides=[
            Parameter("model", value=str(card.path)),
            Parameter("backend", value=backend),
            Parameter("robot", value="panda"),
            Parameter("report_period_s", value=0.2),
        ],
    )
    camera = Node("fake_camera", context=ros_context)
    listener = Node("listener", context=ros_context)
    executor = SingleThreadedExecutor(context=ros_context)
    for n in (node, camera, listener):
        executor.add_node(n)
    rewards: list[Vector3Stamped] = []
    joints: list[JointState] = []
    markers: list[MarkerArray] = []
    diags: list[DiagnosticArray] = []
    listener.create_subscription(Vector3Stamped, "reward", rewards.append, 10)
    listener.create_subscription(JointState, "joint_targets", joints.append, 10)
    listener.create_subscription(MarkerArray, "skeleton", markers.append, 10)
    listener.create_subscription(DiagnosticArray, "/diagnostics", diags.append, 10)
    pub_kp = camera.create_publisher(PointCloud2, "keypoints", qos_profile_sensor_data)
    pub_obj = camera.create_publisher(PointCloud2, "objects", qos_profile_sensor_data)

    demo = generate_demo(DemoGenCfg(camera=CameraCfg(dropout=0.0, depth_hole=0.0)), "good", seed=5)
    blemished = 1.0 if "blemished" in demo.labels[0] else 0.0
    rng = np.random.default_rng(0)
    try:
        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
        assert spin_until(
            executor, lambda: pub_kp.get_subscription_count() > 0 and pub_obj.get_subscription_count() > 0
        )
        good_stamps, bad_kinds = [], []
        for i in range(40):
            frame = 3 * i
            kp = demo.keypoints[frame].astype(np.float64)
            conf = np.full(17, 0.95, dtype=np.float32)
            onion = np.append(np.nan_to_num(demo.objects[frame, 0]), blemished)
            header = _header(i)
            pub_obj.publish(array_to_pointcloud2(onion[None], ("x", "y", "z", "blemished"), header=header))
            bad = i % 2 == 1
            if bad:
                kp, conf, kind = _corrupt(kp, conf, rng)
                bad_kinds.append(kind)
            else:
                good_stamps.append((header.stamp.sec, header.stamp.nanosec))
            seen = node.cycle.counts["frames"]
            # the onion must be in before its keypoints: wait until the node has it
            assert spin_until(executor, lambda h=header: node.cycle.onion_stamp == h.stamp.sec + 1e-9 * h.stamp.nanosec)
            pts = np.concatenate([kp, conf[:, None]], axis=1)
            pub_kp.publish(array_to_pointcloud2(pts, ("x", "y", "z", "confidence"), header=header))
            assert spin_until(executor, lambda s=seen: node.cycle.counts["frames"] > s), (
                f"frame {i} never reached the node"
            )
        n_good = len(good_stamps)
        counts = node.cycle.counts
        assert counts["frames"] == 40 and counts["rewarded"] == n_good and counts["joint_targets"] == n_good
        # Every reward and joint target the node published has arrived (it published exactly what it counted).
        assert spin_until(executor, lambda: len(rewards) >= n_good and len(joints) >= n_good and len(diags) > 0)
        got = [(r.header.stamp.sec, r.header.stamp.nanosec) for r in rewards]
        assert got == good_stamps  # every good frame, in order, with its own stamp; no reward for a bad one
        assert all(r.header.frame_id == "camera_color_optical_frame" for r in rewards)
        assert all(np.isfinite([r.vector.x, r.vector.y, r.vector.z]).all() for r in rewards)
        assert [(j.header.stamp.sec, j.header.stamp.nanosec) for j in joints] == good_stamps
        assert joints[0].name == [f"panda_joint{k}" for k in range(1, 8)] and all(
            np.isfinite(j.position).all() for j in joints
        )
        assert markers and markers[-1].markers[0].type == markers[-1].markers[0].SPHERE_LIST
        assert node.cycle.dropped == len(bad_kinds) == 20
        assert spin_until(executor, lambda: any("20 dropped" in s.message for d in diags for s in d.status))

        # inactive: nothing is published
        node.trigger_deactivate()
        before = len(rewards)
        header = _header(99)
        pub_obj.publish(array_to_pointcloud2(np.array([[0, 0, 2, 0.0]]), ("x", "y", "z", "blemished"), header=header))
        pts = np.concatenate([demo.keypoints[0], np.full((17, 1), 0.95)], axis=1)
        pub_kp.publish(array_to_pointcloud2(pts, ("x", "y", "z", "confidence"), header=header))
        assert spin_until(executor, lambda: node.ignored_inactive >= 1)  # it arrived, and was not used
        assert len(rewards) == before and node.cycle.counts["frames"] == 40
    finally:
        executor.shutdown()
        for n in (node, camera, listener):
            n.destroy_node()


def test_config_defaults_are_valid_and_validated():
    cfg = IrlRewardNodeCfg()
    assert cfg.backend == "onnx" and cfg.robot == "panda"
    with pytest.raises(ValueError, match="min_confidence"):
        IrlRewardNodeCfg(min_confidence=-0.1)
    with pytest.raises(ValueError, match="max_object_age_s"):
        IrlRewardNodeCfg(max_object_age_s=0.0)
