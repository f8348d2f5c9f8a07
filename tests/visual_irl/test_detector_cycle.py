"""The keypoint detector's decisions without ROS: pairing by stamp, the fault cases, the final gate."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from visual_irl.demos import DemoGenCfg, generate_demo
from visual_irl.detector_cycle import DetectorCycle, gate
from visual_irl.detector_node_cfg import KeypointDetectorNodeCfg
from visual_irl.pose_detectors import Landmarks2D, OnnxHeatmapDetector, OnnxPoseCfg

sys.path.insert(0, str(Path(__file__).parent))
import rgbd_scene


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    """(camera, rgb, depth, true keypoints [17, 3], marker detector)."""
    kp = generate_demo(DemoGenCfg(), "good", seed=5).keypoints[30].astype(np.float64)
    cam = rgbd_scene.camera()
    rgb, depth = rgbd_scene.render(cam, kp)
    model = rgbd_scene.marker_model(tmp_path_factory.mktemp("onnx") / "markers.onnx")
    det = OnnxHeatmapDetector(OnnxPoseCfg(model=str(model), mean=(0, 0, 0), std=(1, 1, 1)))
    return cam, rgb, depth, kp, det


class Counting:
    """Wraps a detector: counts resets (a new stream), or pretends to find nobody."""

    def __init__(self, inner=None):
        self.inner, self.resets = inner, 0

    def detect(self, rgb):
        return None if self.inner is None else self.inner.detect(rgb)

    def reset(self):
        self.resets += 1


def test_a_good_frame_gives_the_true_keypoints_with_the_colour_stamp(scene):
    cam, rgb, depth, kp, det = scene
    cycle = DetectorCycle(KeypointDetectorNodeCfg(detector="onnx"), det)
    cycle.take_camera(cam)
    assert cycle.add("depth", 10.004, "32FC1", depth) is None  # depth first, 4 ms off: one frame
    out = cycle.add("color", 10.0, "rgb8", rgb, tag="colour header")
    assert out.dropped is None and out.stamp == 10.0 and out.tag == "colour header"
    seen = np.isfinite(kp).all(axis=1)
    assert np.linalg.norm(out.keypoints[seen, :3] - kp[seen], axis=1).max() < 0.005
    assert (out.keypoints[seen, 3] > 0.5).all()
    assert np.isnan(out.keypoints[~seen, :3]).all() and (out.keypoints[~seen, 3] == 0).all()
    ok, message, values = cycle.report()
    assert ok and values["published"] == 1 and "1 published" in message


def test_16uc1_millimetre_depth_and_bgr_give_the_same_points(scene):
    cam, rgb, depth, _kp, det = scene
    cycle = DetectorCycle(KeypointDetectorNodeCfg(detector="onnx"), det)
    cycle.take_camera(cam)
    cycle.add("color", 1.0, "rgb8", rgb)
    a = cycle.add("depth", 1.0, "32FC1", depth)
    b_depth = np.rint(depth * 1000).astype(np.float32) / 1000  # as image_to_array reads 16UC1
    cycle.add("color", 2.0, "bgr8", rgb)  # image_to_array has already turned bgr8 into RGB
    b = cycle.add("depth", 2.0, "16UC1", b_depth)
    assert np.nanmax(np.abs(a.keypoints - b.keypoints)) < 0.002


@pytest.mark.parametrize(
    "case, reason",
    [
        ("mono_colour", "wrong_encoding"),
        ("rgb_depth", "wrong_encoding"),
        ("size_mismatch", "size_mismatch"),
        ("no_camera_info", "no_camera_info"),
        ("other_camera", "camera_info_mismatch"),
        ("depth_all_zero", "no_depth"),
        ("depth_all_nan", "no_depth"),
        ("nobody", "no_person"),
        ("no_depth_at_keypoints", "no_depth_at_keypoints"),
    ],
)
def test_fault_cases_publish_nothing_and_count_the_reason(scene, case, reason):
    cam, rgb, depth, _kp, det = scene
    cycle = DetectorCycle(KeypointDetectorNodeCfg(detector="onnx"), Counting() if case == "nobody" else det)
    if case != "no_camera_info":
        cycle.take_camera(rgbd_scene.camera(640, 480, 615.0) if case == "other_camera" else cam)
    color_enc, depth_enc, c, d = "rgb8", "32FC1", rgb, depth
    if case == "mono_colour":
        color_enc, c = "mono8", rgb[..., 0]
    elif case == "rgb_depth":
        depth_enc, d = "rgb8", rgb
    elif case == "size_mismatch":
        d = depth[:120, :160]
    elif case == "depth_all_zero":
        d = np.zeros_like(depth)
    elif case == "depth_all_nan":
        d = np.full_like(depth, np.nan)
    elif case == "no_depth_at_keypoints":
        d = np.zeros_like(depth)
        d[:3, :3] = 2.0  # depth only in a corner, nowhere near the person
    cycle.add("color", 5.0, color_enc, c)
    out = cycle.add("depth", 5.0, depth_enc, d)
    assert out.keypoints is None and out.dropped == reason and out.why
    ok, _message, values = cycle.report()
    assert not ok and values[f"dropped_{reason}"] == 1 and values.get("published", 0) == 0


def test_stamps_duplicates_are_dropped_and_a_replayed_stream_restarts_the_detector(scene):
    cam, rgb, depth, _kp, det = scene
    counting = Counting(det)
    cycle = DetectorCycle(KeypointDetectorNodeCfg(detector="onnx"), counting)
    cycle.take_camera(cam)
    for stamp in (3.0, 3.1):
        cycle.add("color", stamp, "rgb8", rgb)
        assert cycle.add("depth", stamp, "32FC1", depth).dropped is None
    cycle.frame(3.1, "rgb8", rgb, "32FC1", depth)  # the same frame again
    assert cycle.counts["dropped_stamp_not_newer"] == 1
    out = cycle.frame(1.0, "rgb8", rgb, "32FC1", depth)  # 2.1 s older: a bag replayed from its start
    assert out.dropped is None and counting.resets == 1 and cycle.counts["restarts"] == 1


def test_colour_and_depth_are_paired_only_within_the_slop(scene):
    cam, rgb, depth, _kp, det = scene
    cycle = DetectorCycle(KeypointDetectorNodeCfg(detector="onnx", slop=0.01), det)
    cycle.take_camera(cam)
    assert cycle.add("color", 1.0, "rgb8", rgb) is None
    assert cycle.add("depth", 1.02, "32FC1", depth) is None  # 20 ms off: not this frame's
    assert cycle.add("color", 1.6, "rgb8", rgb) is None  # both halves are given up (max_wait 0.5)
    assert cycle.sync.dropped == 2
    assert cycle.add("depth", 1.6, "32FC1", depth).dropped is None


def test_the_cycle_refuses_a_detector_answer_of_the_wrong_shape(scene):
    cam, rgb, depth, _kp, _det = scene

    class Broken(Counting):
        def detect(self, rgb):
            return Landmarks2D(uv=np.zeros((33, 2)), score=np.ones(33))

    cycle = DetectorCycle(KeypointDetectorNodeCfg(detector="onnx"), Broken())
    cycle.take_camera(cam)
    assert cycle.frame(1.0, "rgb8", rgb, "32FC1", depth).dropped == "detector_output"


@settings(max_examples=80, deadline=None)
@given(
    points=arrays(np.float64, (17, 3), elements=st.floats(allow_nan=True, allow_infinity=True)),
    conf=arrays(np.float64, 17, elements=st.floats(allow_nan=True, allow_infinity=True)),
)
def test_gate_a_point_is_finite_with_confidence_in_0_1_or_nan_with_confidence_0(points, conf):
    with np.errstate(over="ignore", invalid="ignore"):
        out = gate(points, conf)
    finite = np.isfinite(out[:, :3]).all(axis=1)
    assert out.dtype == np.float32 and np.isfinite(out[:, 3]).all()
    assert ((out[:, 3] >= 0) & (out[:, 3] <= 1)).all()
    assert (out[~finite, 3] == 0).all() and np.isnan(out[~finite, :3]).all()


def test_config_is_validated():
    cfg = KeypointDetectorNodeCfg()
    assert cfg.detector == "mediapipe" and cfg.depth_window % 2 == 1
    for bad in ({"depth_window": 4}, {"detector": "yolo"}, {"min_depth": 5.0, "max_depth": 4.0}, {"slop": -1.0}):
        with pytest.raises(ValueError):
            replace(cfg, **bad)
    assert replace(cfg, detector="my_pkg.pose:MyDetector").detector == "my_pkg.pose:MyDetector"
