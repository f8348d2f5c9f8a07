"""MediaPipe Pose, the keypoint detector's default, on real photographs that ship with installed packages.

MediaPipe is the optional extra ``make detector`` (``make test`` installs it); without it these tests skip.
References and tolerances: ``visual_irl.photos`` (errors measured in inter-ocular distances, IOD, so that
the big and the small face are held to the same standard).
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("mediapipe.python.solutions.pose", reason="MediaPipe is the optional extra: make detector")

from dynamics_stack.camera import PinholeCamera
from visual_irl.detector_cycle import DetectorCycle
from visual_irl.detector_node_cfg import KeypointDetectorNodeCfg
from visual_irl.keypoints import COCO17
from visual_irl.photos import FACE, LABELS, NO_PERSON, interocular_px, letterbox, load_photo
from visual_irl.pose_detectors import MediaPipePoseDetector

FACE_TOL_IOD = 0.35  # a face point within a third of the eye distance: the right eye, not the brow or the cheek
SHOULDER_TOL_IOD = 1.0  # a shoulder under a space suit or a jacket: the right side of the body, near its top


def _detect(image):
    return MediaPipePoseDetector().detect(image)


@pytest.mark.parametrize("name", sorted(LABELS))
def test_face_and_shoulders_of_a_portrait_are_found_where_labelled(name):
    found = _detect(load_photo(name))
    assert found is not None, f"{name}: nobody found"
    iod = interocular_px(name)
    for point, ref in LABELS[name].items():
        k = COCO17.index(point)
        err = float(np.hypot(*(found.uv[k] - ref))) / iod
        tol = FACE_TOL_IOD if point in FACE else SHOULDER_TOL_IOD
        assert err <= tol, f"{name} {point}: {found.uv[k].round(1)} is {err:.2f} IOD from {ref}"
        assert found.score[k] > 0.9, f"{name} {point}: visibility {found.score[k]:.2f}"
    # left is the person's own left: on a portrait facing the camera, to the right of the image
    assert found.uv[COCO17.index("left_shoulder"), 0] > found.uv[COCO17.index("right_shoulder"), 0]


@pytest.mark.parametrize("name", NO_PERSON)
def test_a_photo_without_a_person_gives_nobody(name):
    assert _detect(load_photo(name)) is None


def test_two_people_one_is_taken_and_kept():
    """Two portraits side by side: one person's keypoints, not a mix, and the same person on the next frames."""
    a, b = load_photo("astronaut"), load_photo("grace_hopper")[:512]  # both 512 rows
    two = np.concatenate([a, b], axis=1)  # astronaut in u < 512, Grace Hopper in u >= 512
    det = MediaPipePoseDetector()
    sides = []
    for _ in range(3):
        found = det.detect(two)
        assert found is not None
        sure = found.score > 0.5
        assert sure.sum() >= 5
        side = found.uv[sure, 0] >= 512
        assert side.all() or not side.any(), found.uv[sure].round(0)  # one person's points
        sides.append(bool(side[0]))
    assert len(set(sides)) == 1  # tracked: the same person on every frame


def test_a_photo_at_640x480_through_the_cycle_gives_3d_points_on_the_depth_plane():
    """The astronaut letterboxed into a 640x480 camera frame in front of a wall at 2 m: the face points are found
    and lifted onto the wall (the depth is known geometry), every point finite with confidence or NaN with 0."""
    rgb, scale, (u0, v0) = letterbox(load_photo("astronaut"), 640, 480)
    cam = PinholeCamera(
        name="camera_color_optical_frame",
        width=640,
        height=480,
        fx=615.0,
        fy=615.0,
        cx=319.5,
        cy=239.5,
        T_world_camera=tuple(tuple(float(x) for x in row) for row in np.eye(4)),
    )  # RealSense D435 colour at 640x480 (f as the demonstration generator's camera)
    depth = np.full((480, 640), 2.0, np.float32)  # a wall at 2 m
    cycle = DetectorCycle(KeypointDetectorNodeCfg(), MediaPipePoseDetector())
    cycle.take_camera(cam)
    out = cycle.frame(1.0, "rgb8", rgb, "32FC1", depth)
    assert out.dropped is None, out.why
    kp = out.keypoints
    ok = kp[:, 3] > 0
    assert np.isfinite(kp[ok, :3]).all() and np.isnan(kp[~ok, :3]).all() and (kp[~ok, 3] == 0).all()
    for point in FACE:
        k = COCO17.index(point)
        uv = np.array(LABELS["astronaut"][point]) * scale + (u0, v0)
        expected = cam.pixel_to_camera(uv, np.float64(2.0))
        assert kp[k, 3] > 0.9 and kp[k, 2] == pytest.approx(2.0)
        # IOD in metres at 2 m, scaled into the frame
        assert np.linalg.norm(kp[k, :3] - expected) <= FACE_TOL_IOD * interocular_px("astronaut") * scale * 2.0 / 615
