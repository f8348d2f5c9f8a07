"""COCO-17 from BlazePose, heatmap decoding, the ONNX detector plug-in and 3-D lifting on synthetic depth."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from dynamics_stack.camera import PinholeCamera
from visual_irl.keypoints import COCO17
from visual_irl.lifting import lift_keypoints
from visual_irl.pose_detectors import (
    BLAZEPOSE33,
    BLAZEPOSE_TO_COCO17,
    DetectorError,
    MediaPipeCfg,
    OnnxHeatmapDetector,
    OnnxPoseCfg,
    decode_heatmaps,
    make_detector,
)

sys.path.insert(0, str(Path(__file__).parent))  # the synthetic scene helper (tests are not packages)
import rgbd_scene


def test_blazepose_to_coco17_table():
    # written out by hand from the two keypoint lists (BlazePose: MediaPipe's PoseLandmark enum)
    assert BLAZEPOSE_TO_COCO17 == (0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)
    assert len(BLAZEPOSE33) == 33 and len(set(BLAZEPOSE33)) == 33
    assert [BLAZEPOSE33[i] for i in BLAZEPOSE_TO_COCO17] == list(COCO17)
    # the state's arm is the right one: COCO 6, 8, 10 are BlazePose 12, 14, 16
    assert [BLAZEPOSE_TO_COCO17[i] for i in (6, 8, 10)] == [12, 14, 16]


def test_decode_heatmaps_finds_a_blob_centre_to_a_fraction_of_a_pixel():
    vv, uu = np.mgrid[0:20, 0:30]
    heat = np.stack([np.exp(-((uu - 12.3) ** 2 + (vv - 7.6) ** 2) / 2.0), np.zeros((20, 30))])
    heat[1, 4, 9] = np.nan  # a non-finite heatmap value is ignored
    uv, score = decode_heatmaps(heat)
    # the 3x3 centroid of a sigma-1 px blob leans towards its peak pixel: 12.16 for 12.3 by hand
    assert np.allclose(uv[0], (12.3, 7.6), atol=0.2) and score[0] == pytest.approx(
        np.exp(-(0.3**2 + 0.4**2) / 2), abs=1e-9
    )
    assert score[1] == 0.0


def test_lifting_hand_computed_point_holes_and_no_depth():
    cam = rgbd_scene.camera(width=40, height=30, f=50.0)  # cx 19.5, cy 14.5
    depth = np.full((30, 40), 2.0, np.float32)
    depth[0:5, 0:5] = 0.0  # a hole: nothing measured in the top-left corner
    depth[14:17, 28:31] = np.nan
    depth[15, 29] = 1.0  # one valid pixel in a 3x3 of NaN: the median of what is valid
    uv = np.array([[19.5, 14.5], [29.5, 14.5], [2.0, 2.0], [29.0, 15.0], [-3.0, 5.0], [np.nan, 1.0]])
    score = np.array([0.9, 1.0, 0.8, 0.7, 1.0, 1.0])
    pts, conf = lift_keypoints(uv, score, depth, cam, window=3)
    assert np.allclose(pts[0], (0.0, 0.0, 2.0))  # the principal point at 2 m
    assert np.allclose(pts[1], (10.0 / 50.0 * 2.0, 0.0, 2.0))  # 10 px right at 2 m: x = 10 / f * z
    assert np.isnan(pts[2]).all() and conf[2] == 0.0  # in the hole
    assert np.allclose(pts[3], ((29.0 - 19.5) / 50.0, (15.0 - 14.5) / 50.0, 1.0)) and conf[3] == pytest.approx(0.7)
    assert np.isnan(pts[4:]).all() and (conf[4:] == 0).all()  # outside the image, non-finite pixel
    assert conf[0] == pytest.approx(0.9) and pts.dtype == np.float32


def test_lifting_on_a_tilted_plane_with_holes_and_millimetre_depth():
    """Known geometry: a plane tilted 30 degrees about the camera's y axis, 1.5 m ahead at the centre, 20 % of
    the pixels without depth, depth quantised to 1 mm (16UC1): lifted points lie within 3 mm of the plane point."""
    cam = rgbd_scene.camera(640, 480, 615.0)
    _vv, uu = np.mgrid[0:480, 0:640].astype(np.float64)
    # plane n . p = d with n = (sin 30, 0, cos 30)... solved per pixel ray: z = d / (n . ((u-cx)/f, (v-cy)/f, 1))
    n, d = np.array([np.sin(np.pi / 6), 0.0, np.cos(np.pi / 6)]), 1.5 * np.cos(np.pi / 6)
    z = d / (n[0] * (uu - cam.cx) / cam.fx + n[2])
    rng = np.random.default_rng(0)
    depth_mm = np.rint(z * 1000).astype(np.uint16)
    depth_mm[rng.random(depth_mm.shape) < 0.2] = 0
    depth = depth_mm.astype(np.float32) / 1000.0
    uv = rng.uniform((20, 20), (620, 460), (200, 2))
    pts, conf = lift_keypoints(uv, np.ones(200), depth, cam, window=5)
    zt = d / (n[0] * (uv[:, 0] - cam.cx) / cam.fx + n[2])
    truth = cam.pixel_to_camera(uv, zt)
    err = np.linalg.norm(pts - truth, axis=1)
    assert (conf == 1).all() and err.max() < 0.003, err.max()


@settings(max_examples=60, deadline=None)
@given(
    uv=arrays(np.float64, (17, 2), elements=st.floats(allow_nan=True, allow_infinity=True, width=32)),
    score=arrays(np.float64, 17, elements=st.floats(allow_nan=True, allow_infinity=True, width=32)),
    depth=arrays(np.float32, (12, 16), elements=st.floats(allow_nan=True, allow_infinity=True, width=32)),
)
def test_lifting_never_gives_a_non_finite_point_with_confidence(uv, score, depth):
    cam = rgbd_scene.camera(16, 12, 10.0)
    pts, conf = lift_keypoints(uv, score, depth, cam)
    has = conf > 0
    assert np.isfinite(conf).all() and (conf >= 0).all() and (conf <= 1).all()
    assert np.isfinite(pts[has]).all()


def test_onnx_detector_finds_the_markers_of_a_synthetic_person(tmp_path):
    from visual_irl.demos import DemoGenCfg, generate_demo

    demo = generate_demo(DemoGenCfg(), "good", seed=5)
    kp = demo.keypoints[30].astype(np.float64)
    kp[~np.isfinite(kp).all(axis=1)] = np.nan
    cam = rgbd_scene.camera()
    rgb, depth = rgbd_scene.render(cam, kp)
    model = rgbd_scene.marker_model(tmp_path / "markers.onnx")
    det = OnnxHeatmapDetector(OnnxPoseCfg(model=str(model), mean=(0, 0, 0), std=(1, 1, 1)))
    found = det.detect(rgb)
    seen = np.isfinite(kp).all(axis=1)
    uv_true, _ = cam.project(np.nan_to_num(kp))
    assert np.abs(found.uv[seen] - uv_true[seen]).max() < 0.3  # px
    assert (found.score[seen] > 0.5).all() and (found.score[~seen] == 0).all()
    pts, _conf = lift_keypoints(found.uv, found.score, depth, cam)
    assert np.linalg.norm(pts[seen] - kp[seen], axis=1).max() < 0.005  # m: sub-pixel markers, exact depth
    # nobody in view: a grey image
    assert det.detect(np.full_like(rgb, 128)) is None


def test_detector_errors_name_the_problem(tmp_path, monkeypatch):
    with pytest.raises(DetectorError, match="not found"):
        make_detector("onnx", MediaPipeCfg(), OnnxPoseCfg(model=str(tmp_path / "none.onnx")))
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(DetectorError, match="not a loadable ONNX model"):
        make_detector("onnx", MediaPipeCfg(), OnnxPoseCfg(model=str(bad)))
    # as when the optional extra is not installed, also after another test imported it (sys.modules caches
    # every submodule, and an import finds a cached submodule without looking at its parents)
    for name in ["mediapipe", "mediapipe.python", "mediapipe.python.solutions", "mediapipe.python.solutions.pose"]:
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(DetectorError, match="make detector"):
        make_detector("mediapipe", MediaPipeCfg(), OnnxPoseCfg())
    with pytest.raises(DetectorError, match="cannot build"):
        make_detector("no_such_module:Thing", MediaPipeCfg(), OnnxPoseCfg())
    with pytest.raises(DetectorError, match="no detect"):
        make_detector("collections:OrderedDict", MediaPipeCfg(), OnnxPoseCfg())


def test_a_plugged_in_detector_class_is_built_by_name():
    det = make_detector("rgbd_scene:CentreDetector", MediaPipeCfg(), OnnxPoseCfg())
    found = det.detect(np.zeros((4, 6, 3), np.uint8))
    assert isinstance(det, rgbd_scene.CentreDetector) and np.allclose(found.uv, (2.5, 1.5))


def test_pixel_to_camera_inverts_project():
    cam = PinholeCamera(
        name="c", width=64, height=48, fx=50, fy=60, cx=31.5, cy=23.5, T_world_camera=tuple(map(tuple, np.eye(4)))
    )
    p = np.array([[0.1, -0.2, 1.3], [-0.4, 0.3, 2.0]])
    uv, z = cam.project(p)
    assert np.allclose(cam.pixel_to_camera(uv, z), p)
