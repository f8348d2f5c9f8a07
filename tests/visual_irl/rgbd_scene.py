"""Synthetic RGB-D frames of a person with known 3-D keypoints, and an ONNX "pose model" that finds them.

No pose model can be downloaded here, so the tests of everything behind the detector interface use
a scene whose answer is known: each COCO-17 keypoint is a coloured blob (Gaussian, sigma 1.5 px) at
its true projection on a grey background, the depth image holds each keypoint's depth in a disc
around it (far ones drawn first) in front of a wall. ``marker_model`` writes a real ONNX graph of
the heatmap contract ``visual_irl.pose_detectors.OnnxHeatmapDetector`` reads (input [1, 3, H, W],
output [1, 17, H, W]): heatmap k = relu(1 - gain * |rgb - colour_k|_1), which peaks at blob k's centre.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

from dynamics_stack.camera import PinholeCamera

BACKGROUND = (0.5, 0.5, 0.5)
# 17 of the 26 non-grey colours with channels in {0, 0.5, 1}: any two differ by >= 0.5 in L1
COLOURS = np.array([c for c in itertools.product((0.0, 0.5, 1.0), repeat=3) if c != BACKGROUND][:17], np.float32)
GAIN = 4.0  # heat = 1 - 4 * L1: zero at 0.25 from a colour, half-way to the nearest other colour
SIGMA_PX = 1.5
WALL_M = 3.5


def camera(width: int = 320, height: int = 240, f: float = 307.5) -> PinholeCamera:
    """The demonstration generator's camera (RealSense D435 colour at 640x480, f 615) at half size by default."""
    return PinholeCamera(
        name="camera_color_optical_frame",
        width=width,
        height=height,
        fx=f,
        fy=f,
        cx=(width - 1) / 2,
        cy=(height - 1) / 2,
        T_world_camera=tuple(tuple(float(x) for x in row) for row in np.eye(4)),
    )


def render(cam: PinholeCamera, keypoints: np.ndarray, disc_px: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Keypoints [17, 3] (optical frame, NaN = absent) -> rgb [H, W, 3] uint8 and depth [H, W] float32 (m)."""
    h, w = cam.height, cam.width
    uv, z = cam.project(np.nan_to_num(keypoints, nan=-1.0))
    present = np.all(np.isfinite(keypoints), axis=1) & (z > 0)
    vv, uu = np.mgrid[0:h, 0:w]
    weight = np.zeros((17, h, w), np.float32)
    depth = np.full((h, w), WALL_M, np.float32)
    for k in np.argsort(-np.where(present, z, -np.inf)):  # far to near: nearer discs cover farther ones
        if not present[k]:
            continue
        d2 = (uu - uv[k, 0]) ** 2 + (vv - uv[k, 1]) ** 2
        weight[k] = np.exp(-d2 / (2 * SIGMA_PX**2))
        depth[d2 <= disc_px**2] = z[k]
    top = weight.argmax(axis=0)
    alpha = weight.max(axis=0)[..., None]
    rgb = (1 - alpha) * np.array(BACKGROUND, np.float32) + alpha * COLOURS[top]
    return np.rint(rgb * 255).astype(np.uint8), depth


def marker_model(path: Path, gain: float = GAIN) -> Path:
    """Write the marker-finding heatmap model (see the module docstring); returns ``path``."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    colours = numpy_helper.from_array(COLOURS.reshape(1, 17, 3, 1, 1), "colours")
    axes1, axes2 = numpy_helper.from_array(np.array([1]), "axis1"), numpy_helper.from_array(np.array([2]), "axis2")
    one, g = numpy_helper.from_array(np.float32(1.0), "one"), numpy_helper.from_array(np.float32(gain), "gain")
    nodes = [
        helper.make_node("Unsqueeze", ["image", "axis1"], ["x5"]),  # [1, 1, 3, H, W]
        helper.make_node("Sub", ["x5", "colours"], ["diff"]),  # [1, 17, 3, H, W]
        helper.make_node("Abs", ["diff"], ["adiff"]),
        helper.make_node("ReduceSum", ["adiff", "axis2"], ["l1"], keepdims=0),  # [1, 17, H, W]
        helper.make_node("Mul", ["l1", "gain"], ["scaled"]),
        helper.make_node("Sub", ["one", "scaled"], ["raw"]),
        helper.make_node("Relu", ["raw"], ["heatmaps"]),
    ]
    graph = helper.make_graph(
        nodes,
        "marker_heatmaps",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, "H", "W"])],
        [helper.make_tensor_value_info("heatmaps", TensorProto.FLOAT, [1, 17, "H", "W"])],
        initializer=[colours, axes1, axes2, one, g],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


class CentreDetector:
    """A detector plug-in as a user writes one (``detector: rgbd_scene:CentreDetector``): every keypoint at the
    image centre with score 1."""

    def detect(self, rgb: np.ndarray):
        from visual_irl.pose_detectors import Landmarks2D

        h, w = rgb.shape[:2]
        return Landmarks2D(uv=np.tile([(w - 1) / 2, (h - 1) / 2], (17, 1)), score=np.ones(17))

    def reset(self) -> None:
        pass
