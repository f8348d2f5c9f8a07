"""keypoint_detector and rgbd_player over real DDS (loopback): images in -> keypoints -> reward out.

- in one process: the detector node publishes the true keypoints of synthetic frames with the colour
  image's stamp and frame, counts every fault in /diagnostics, and publishes nothing while inactive;
- two processes: keypoint_detector and irl_reward as the executables run them; this test is the
  camera (colour, depth, camera_info, the onion) and reads the rewards, each stamped with its image;
- the player publishes a folder's frames as a camera driver does.

The detector is the ONNX heatmap route with the marker model of ``rgbd_scene`` (MediaPipe is an
optional extra; its tests are test_detector_photos.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

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
from sensor_msgs.msg import CameraInfo, Image, PointCloud2
from std_msgs.msg import Header

from dynamics_stack.params import ros_parameters
from dynamics_stack.ros.image_convert import array_to_image, camera_info, image_to_array
from dynamics_stack.ros.pointcloud import array_to_pointcloud2, pointcloud2_to_array
from visual_irl.demos import DemoGenCfg, generate_demo
from visual_irl.detector_node import KeypointDetectorNode
from visual_irl.detector_node_cfg import KeypointDetectorNodeCfg
from visual_irl.rgbd_folder import depth_to_mm, write_rgbd_folder

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fdm_nav"))  # the process helpers
import rgbd_scene
from ros_procs import start_node, stop_node

pytestmark = pytest.mark.timeout(300)
FRAME = "camera_color_optical_frame"
ONNX_PARAMS = {"detector": "onnx", "onnx.mean": [0.0, 0.0, 0.0], "onnx.std": [1.0, 1.0, 1.0]}


@pytest.fixture(scope="module")
def frames():
    """Camera and 12 synthetic frames (rgb, depth, true keypoints) of a generated good demonstration, 10 Hz."""
    demo = generate_demo(DemoGenCfg(), "good", seed=5)
    cam = rgbd_scene.camera()
    out = []
    for i in range(0, 36, 3):
        kp = demo.keypoints[i].astype(np.float64)
        kp[~np.isfinite(kp).all(axis=1)] = np.nan
        out.append((*rgbd_scene.render(cam, kp), kp, np.append(np.nan_to_num(demo.objects[i, 0]), 0.0)))
    return cam, out


@pytest.fixture(scope="module")
def marker_onnx(tmp_path_factory):
    return rgbd_scene.marker_model(tmp_path_factory.mktemp("det") / "markers.onnx")


def _header(i: int) -> Header:
    return Header(stamp=Time(sec=200 + i // 10, nanosec=(i % 10) * 100_000_000), frame_id=FRAME)


def _stamp(h) -> tuple[int, int]:
    return (h.stamp.sec, h.stamp.nanosec)


class Camera:
    """A publisher of colour, depth and camera_info (and objects) as a camera driver sends them."""

    def __init__(self, node: Node, cam, qos=5):
        self.cam = cam
        self.color = node.create_publisher(Image, "color/image_raw", qos)
        self.depth = node.create_publisher(Image, "depth/image_raw", qos)
        self.info = node.create_publisher(CameraInfo, "color/camera_info", qos)
        self.objects = node.create_publisher(PointCloud2, "objects", 5)

    def send(self, header, rgb, depth, onion=None, color_encoding="rgb8", depth_encoding="32FC1", info=True):
        if info:
            self.info.publish(camera_info(self.cam, header))
        if onion is not None:
            self.objects.publish(array_to_pointcloud2(onion[None], ("x", "y", "z", "blemished"), header=header))
        self.depth.publish(array_to_image(depth, depth_encoding, header))
        self.color.publish(array_to_image(rgb, color_encoding, header))


def test_detector_node_publishes_true_keypoints_and_counts_every_fault(ros_context, spin_until, frames, marker_onnx):
    cam, data = frames
    params = [Parameter(k, value=v) for k, v in {**ONNX_PARAMS, "onnx.model": str(marker_onnx)}.items()]
    node = KeypointDetectorNode(
        context=ros_context, parameter_overrides=[*params, Parameter("report_period_s", value=0.2)]
    )
    camera = Node("fake_camera", context=ros_context)
    listener = Node("listener", context=ros_context)
    executor = SingleThreadedExecutor(context=ros_context)
    for n in (node, camera, listener):
        executor.add_node(n)
    got: list[PointCloud2] = []
    diags: list[DiagnosticArray] = []
    listener.create_subscription(PointCloud2, "keypoints", got.append, 10)
    listener.create_subscription(DiagnosticArray, "/diagnostics", diags.append, 10)
    pub = Camera(camera, cam)
    try:
        assert all(node.has_parameter(k) for k in ros_parameters(KeypointDetectorNodeCfg()))
        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
        assert spin_until(
            executor, lambda: pub.color.get_subscription_count() > 0 and pub.info.get_subscription_count() > 0
        )
        rgb, depth, kp, _ = data[0]
        counts = node.cycle.counts

        def send_and_wait(i, key, **kw):
            before = counts[key]
            pub.send(_header(i), kw.pop("rgb", rgb), kw.pop("depth", depth), **kw)
            assert spin_until(executor, lambda: counts[key] > before), (key, dict(counts))

        # no camera_info yet: the frame is counted, nothing published
        send_and_wait(0, "dropped_no_camera_info", info=False)
        # good frames: the true keypoints, the colour image's stamp and frame (camera_info first: topics are
        # not ordered against each other)
        pub.info.publish(camera_info(cam, _header(1)))
        assert spin_until(executor, lambda: node.cycle.camera is not None)
        for i in (1, 2):
            send_and_wait(i, "published")
        assert spin_until(executor, lambda: len(got) >= 2)
        assert [_stamp(m.header) for m in got] == [_stamp(_header(1)), _stamp(_header(2))]
        assert got[0].header.frame_id == FRAME
        pts = pointcloud2_to_array(got[0], ("x", "y", "z", "confidence"))
        seen = np.isfinite(kp).all(axis=1)
        assert pts.shape == (17, 4) and np.linalg.norm(pts[seen, :3] - kp[seen], axis=1).max() < 0.005
        assert np.isnan(pts[~seen, :3]).all() and (pts[~seen, 3] == 0).all()
        # 16UC1 millimetres as a RealSense sends it
        send_and_wait(3, "published", depth=depth_to_mm(depth), depth_encoding="16UC1")
        # faults: each counted under its reason, nothing published
        send_and_wait(4, "dropped_wrong_encoding", rgb=rgb[..., 0], color_encoding="mono8")
        send_and_wait(5, "dropped_size_mismatch", depth=depth[:120, :160])
        send_and_wait(6, "dropped_no_depth", depth=np.zeros_like(depth))
        send_and_wait(7, "dropped_no_person", rgb=np.full_like(rgb, 128))
        before = counts["dropped_wrong_encoding"]
        bad = array_to_image(rgb, "rgb8", _header(8))
        bad.encoding = "yuv422"  # an encoding no reader here knows
        pub.color.publish(bad)
        assert spin_until(executor, lambda: counts["dropped_wrong_encoding"] > before)
        other = rgbd_scene.camera(640, 480, 615.0)  # a camera_info of another size
        pub.info.publish(camera_info(other, _header(9)))
        assert spin_until(executor, lambda: node.cycle.camera.width == 640)
        send_and_wait(9, "dropped_camera_info_mismatch", info=False)
        assert spin_until(executor, lambda: len(got) >= 3)
        assert len(got) == 3 and all(np.isfinite(pointcloud2_to_array(m, ("confidence",))).all() for m in got)
        assert spin_until(
            executor,
            lambda: any(
                {kv.key: kv.value for kv in s.values}.get("dropped_camera_info_mismatch") == "1"
                for d in diags
                for s in d.status
            ),
        )
        # inactive: images are not even looked at
        node.trigger_deactivate()
        pub.info.publish(camera_info(cam, _header(10)))
        pub.send(_header(11), rgb, depth)
        assert spin_until(executor, lambda: node.ignored_inactive >= 2)
        assert len(got) == 3
    finally:
        executor.shutdown()
        for n in (node, camera, listener):
            n.destroy_node()


def test_a_best_effort_camera_needs_image_reliability_best_effort(ros_context, spin_until, frames, marker_onnx):
    """A driver publishing with sensor-data QoS (best effort): the default reliable subscriptions do not match,
    which is counted and logged; with image_reliability best_effort the frames come through."""
    cam, data = frames
    rgb, depth, _, _ = data[0]
    camera = Node("best_effort_camera", context=ros_context)
    pub = Camera(camera, cam, qos_profile_sensor_data)
    base = [Parameter(k, value=v) for k, v in {**ONNX_PARAMS, "onnx.model": str(marker_onnx)}.items()]
    nodes = {
        reliability: KeypointDetectorNode(
            f"detector_{reliability}",
            context=ros_context,
            parameter_overrides=[*base, Parameter("image_reliability", value=reliability)],
        )
        for reliability in ("reliable", "best_effort")
    }
    executor = SingleThreadedExecutor(context=ros_context)
    for n in (camera, *nodes.values()):
        executor.add_node(n)
    try:
        for n in nodes.values():
            assert n.trigger_configure() == TransitionCallbackReturn.SUCCESS
            assert n.trigger_activate() == TransitionCallbackReturn.SUCCESS
        reliable, best_effort = nodes["reliable"].cycle, nodes["best_effort"].cycle
        assert spin_until(executor, lambda: reliable.counts["incompatible_qos"] >= 3)  # colour, depth, camera_info
        assert spin_until(executor, lambda: pub.color.get_subscription_count() == 1)  # only the matching one
        for i in range(20):  # best effort: a frame may be lost; send until one is published
            pub.send(_header(i), rgb, depth)
            if spin_until(executor, lambda: best_effort.counts["published"] > 0, timeout_s=1.0):
                break
        assert best_effort.counts["published"] > 0 and best_effort.counts["incompatible_qos"] == 0
        assert reliable.counts["frames"] == 0
    finally:
        executor.shutdown()
        for n in (camera, *nodes.values()):
            n.destroy_node()


def test_detector_refuses_a_missing_model_at_configure(ros_context, tmp_path):
    params = {**ONNX_PARAMS, "onnx.model": str(tmp_path / "missing.onnx")}
    node = KeypointDetectorNode(
        context=ros_context, parameter_overrides=[Parameter(k, value=v) for k, v in params.items()]
    )
    try:
        assert node.trigger_configure() == TransitionCallbackReturn.FAILURE and node.cycle is None
    finally:
        node.destroy_node()


def test_images_in_reward_out_two_processes(ros_context, spin_until, frames, marker_onnx, tiny_model):
    """keypoint_detector and irl_reward as separate processes; this process is the camera and the listener."""
    cam, data = frames
    det_params = {k: (str(v).replace(" ", "") if isinstance(v, list) else v) for k, v in ONNX_PARAMS.items()}
    detector, det_log = start_node(
        "visual_irl.detector_node", {**det_params, "onnx.model": str(marker_onnx)}, "keypoint_detector"
    )
    reward, reward_log = start_node(
        "visual_irl.node",
        {"model": str(tiny_model[2].path), "robot": "panda", "expected_rate_hz": 10.0},
        "irl_reward",
        ("config/irl_reward.yaml",),
    )
    node = Node("camera_and_listener", context=ros_context)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(node)
    rewards: list[Vector3Stamped] = []
    keypoints: list[PointCloud2] = []
    node.create_subscription(Vector3Stamped, "reward", rewards.append, 50)
    node.create_subscription(PointCloud2, "keypoints", keypoints.append, 50)
    pub = Camera(node, cam)
    try:
        pubs = (pub.color, pub.depth, pub.info, pub.objects)
        assert spin_until(
            executor,
            lambda: all(p.get_subscription_count() > 0 for p in pubs) and node.count_publishers("reward") > 0,
            timeout_s=120.0,
        ), (det_log.read_text()[-2000:], reward_log.read_text()[-2000:])
        # Images are best effort (sensor-data QoS), and the first frame may beat its camera_info: send frames
        # one at a time, each after the last one's keypoints came back (or it was lost), until 6 rewards came.
        sent = []
        for i in range(40):
            rgb, depth, _, onion = data[i % len(data)]
            header = _header(i)
            pub.send(header, rgb, depth, onion=onion)
            sent.append(_stamp(header))
            before = len(keypoints)
            spin_until(executor, lambda before=before: len(keypoints) > before, timeout_s=5.0)
            if len(rewards) >= 6:
                break
        assert spin_until(executor, lambda: len(rewards) >= 6, timeout_s=10.0), (
            len(sent),
            len(keypoints),
            len(rewards),
            det_log.read_text()[-2000:],
            reward_log.read_text()[-2000:],
        )
        got = [_stamp(r.header) for r in rewards]
        assert set(got) <= set(sent) and got == sorted(got)  # each reward answers one image, in order
        assert all(
            r.header.frame_id == FRAME and np.isfinite([r.vector.x, r.vector.y, r.vector.z]).all() for r in rewards
        )
        assert all(r.vector.z > 0.5 for r in rewards)  # the lowest confidence among the keypoints used
    finally:
        executor.shutdown()
        node.destroy_node()
        assert stop_node(detector) == 0, det_log.read_text()[-3000:]
        assert stop_node(reward) == 0, reward_log.read_text()[-3000:]


def test_rgbd_player_publishes_a_folder_as_a_camera_does(ros_context, spin_until, frames, tmp_path):
    from visual_irl.rgbd_player import RgbdPlayerNode

    cam, data = frames
    folder = write_rgbd_folder(tmp_path / "rec", cam, [(rgb, depth) for rgb, depth, _, _ in data[:3]])
    player = RgbdPlayerNode(
        context=ros_context,
        parameter_overrides=[
            Parameter("folder", value=str(folder)),
            Parameter("rate_hz", value=50.0),
            Parameter("publish_onion", value=True),
        ],
    )
    listener = Node("listener", context=ros_context)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(player)
    executor.add_node(listener)
    got: dict[str, list] = {"color": [], "depth": [], "info": [], "objects": []}
    listener.create_subscription(Image, "color/image_raw", got["color"].append, 10)
    listener.create_subscription(Image, "depth/image_raw", got["depth"].append, 10)
    listener.create_subscription(CameraInfo, "color/camera_info", got["info"].append, 10)
    listener.create_subscription(PointCloud2, "objects", got["objects"].append, 10)
    try:
        assert spin_until(executor, lambda: min(len(v) for v in got.values()) >= 4)  # looped past the last frame
        for k in range(4):  # the listener's first message may be any frame: match by content
            rgb, depth = image_to_array(got["color"][k]), image_to_array(got["depth"][k])
            i = next(j for j in range(3) if np.array_equal(rgb, data[j][0]))
            assert got["depth"][k].encoding == "16UC1" and got["depth"][k].header == got["color"][k].header
            assert np.array_equal(depth_to_mm(depth), depth_to_mm(data[i][1]))
        info = got["info"][0]
        assert (info.width, info.height) == (cam.width, cam.height) and np.allclose(np.reshape(info.k, (3, 3)), cam.K)
        assert got["color"][0].header.frame_id == "camera_color_optical_frame"
        assert pointcloud2_to_array(got["objects"][0], ("x", "y", "z", "blemished")).shape == (1, 4)
    finally:
        executor.shutdown()
        player.destroy_node()
        listener.destroy_node()
