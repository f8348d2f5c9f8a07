"""The ``keypoint_detector`` node's per-frame decisions without ROS: colour + depth + camera -> 3-D keypoints, or why not.

The node (``visual_irl.detector_node``) turns messages into arrays and calls ``take_camera`` (each
CameraInfo) and ``add`` (each colour or depth image); ``add`` pairs the two images of one frame by
stamp (``dynamics_stack.stamp_sync.StampSync``) and, once a pair is complete, detects and lifts
(``visual_irl.pose_detectors``, ``visual_irl.lifting``). A frame gives no keypoints, and is counted
under the reason, when:

- ``wrong_encoding``: the colour image is not rgb8/bgr8 or the depth not 16UC1/32FC1 (REP-118 depth);
- ``size_mismatch``: colour and depth differ in size (depth not aligned to colour);
- ``no_camera_info`` / ``camera_info_mismatch``: no usable CameraInfo yet, or one of another size;
- ``no_depth``: no pixel of the depth image is valid (all zero: the sensor sees nothing);
- ``no_person``: the detector finds nobody;
- ``no_depth_at_keypoints``: a person, but no keypoint has a valid depth under it;
- ``stamp_not_newer``: a frame not after the last one (a duplicate); one more than ``restart_s``
  older starts a new stream instead (the detector forgets its tracking).

What leaves is [17, 4] float32 (x, y, z, confidence) in COCO-17 order: a point is finite with
confidence in [0, 1], or NaN with confidence 0 (the final gate holds this whatever the detector did).
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from dynamics_stack.camera import PinholeCamera
from dynamics_stack.stamp_sync import StampSync
from visual_irl.detector_node_cfg import KeypointDetectorNodeCfg
from visual_irl.keypoints import COCO17
from visual_irl.lifting import lift_keypoints
from visual_irl.pose_detectors import PoseDetector

COLOR_ENCODINGS = ("rgb8", "bgr8")
DEPTH_ENCODINGS = ("16UC1", "32FC1")  # REP-118: millimetres as uint16, metres as float32


@dataclass(frozen=True)
class Detection:
    """What one frame gave: ``keypoints`` [17, 4] (None: nothing to publish, ``dropped`` says why)."""

    stamp: float
    keypoints: np.ndarray | None = None
    dropped: str | None = None
    why: str = ""
    detect_ms: float | None = None
    tag: Any = None  # the caller's tag of the colour image (the node: its header)


class DetectorCycle:
    """Pairing, checks, detection and lifting for one configured node; see the module docstring."""

    def __init__(self, cfg: KeypointDetectorNodeCfg, detector: PoseDetector):
        self.cfg, self.detector = cfg, detector
        self.sync = StampSync(("color", "depth"), cfg.slop, cfg.max_wait)
        self.camera: PinholeCamera | None = None
        self.camera_why = "no CameraInfo received yet"
        self.counts: Counter[str] = Counter()
        self.last_stamp: float | None = None
        self._detect_ms: list[float] = []  # this report period's detector times
        self._published_before = 0  # published count at the last report

    def take_camera(self, camera: PinholeCamera | None, why: str = "") -> None:
        """The newest CameraInfo as a camera, or None and why it is unusable (the frames then give nothing)."""
        self.camera, self.camera_why = camera, why
        if camera is None:
            self.counts["camera_info_refused"] += 1

    def add(self, kind: str, stamp: float, encoding: str, image: np.ndarray, tag: Any = None) -> Detection | None:
        """One colour or depth image (``image_convert.image_to_array``'s array); a result when it completes a frame.

        The result carries the colour image's stamp and its ``tag`` (the node passes the colour header).
        """
        done = self.sync.add(kind, stamp, (stamp, encoding, image, tag))
        if done is None:
            return None
        parts = done[1]
        (stamp, color_enc, rgb, tag), (_, depth_enc, depth, _) = parts["color"], parts["depth"]
        return self.frame(stamp, color_enc, rgb, depth_enc, depth, tag)

    def frame(
        self, stamp: float, color_enc: str, rgb: np.ndarray, depth_enc: str, depth: np.ndarray, tag: Any = None
    ) -> Detection:
        """One paired frame: checks, detection, lifting, the final gate."""
        result = self._frame(stamp, color_enc, rgb, depth_enc, depth)
        return dataclasses.replace(result, tag=tag)

    def _frame(self, stamp: float, color_enc: str, rgb: np.ndarray, depth_enc: str, depth: np.ndarray) -> Detection:
        self.counts["frames"] += 1
        if color_enc not in COLOR_ENCODINGS or depth_enc not in DEPTH_ENCODINGS:
            return self.drop(
                stamp,
                "wrong_encoding",
                f"colour {color_enc!r} (want {'/'.join(COLOR_ENCODINGS)}), depth {depth_enc!r} "
                f"(want {'/'.join(DEPTH_ENCODINGS)})",
            )
        if rgb.shape[:2] != depth.shape[:2]:
            return self.drop(
                stamp,
                "size_mismatch",
                f"colour {rgb.shape[1]}x{rgb.shape[0]} and depth {depth.shape[1]}x{depth.shape[0]} differ: "
                "depth must be aligned to colour",
            )
        if self.camera is None:
            return self.drop(stamp, "no_camera_info", self.camera_why)
        if (self.camera.width, self.camera.height) != (rgb.shape[1], rgb.shape[0]):
            return self.drop(
                stamp,
                "camera_info_mismatch",
                f"camera_info is {self.camera.width}x{self.camera.height}, images {rgb.shape[1]}x{rgb.shape[0]}",
            )
        if self.last_stamp is not None and stamp <= self.last_stamp:
            if stamp >= self.last_stamp - self.cfg.restart_s:
                return self.drop(stamp, "stamp_not_newer", "a frame not after the last one")
            self.detector.reset()  # a new stream (a bag replayed from its start)
            self.counts["restarts"] += 1
        self.last_stamp = stamp
        with np.errstate(invalid="ignore"):
            if not np.any(np.isfinite(depth) & (depth >= self.cfg.min_depth) & (depth <= self.cfg.max_depth)):
                return self.drop(stamp, "no_depth", "no valid pixel in the depth image")
        t0 = time.perf_counter()
        found = self.detector.detect(rgb)
        ms = 1e3 * (time.perf_counter() - t0)
        self._detect_ms.append(ms)
        if found is None:
            return self.drop(stamp, "no_person", "the detector found nobody", ms)
        uv, score = np.asarray(found.uv, dtype=np.float64), np.asarray(found.score, dtype=np.float64)
        if uv.shape != (len(COCO17), 2) or score.shape != (len(COCO17),):
            return self.drop(stamp, "detector_output", f"detector gave uv {uv.shape}, score {score.shape}", ms)
        points, conf = lift_keypoints(
            uv, score, depth, self.camera, self.cfg.depth_window, self.cfg.min_depth, self.cfg.max_depth
        )
        keypoints = gate(points, conf)
        if not np.any(keypoints[:, 3] > 0):
            return self.drop(stamp, "no_depth_at_keypoints", "no keypoint has a valid depth under it", ms)
        self.counts["published"] += 1
        return Detection(stamp, keypoints=keypoints, detect_ms=ms)

    def drop(self, stamp: float, reason: str, why: str, ms: float | None = None) -> Detection:
        """Count a frame (or a message the node could not read) that gives no keypoints, under ``reason``."""
        self.counts[f"dropped_{reason}"] += 1
        return Detection(stamp, dropped=reason, why=why, detect_ms=ms)

    def report(self) -> tuple[bool, str, dict[str, Any]]:
        """(ok, message, values) of one /diagnostics report; starts the next period's detector times.

        OK while the last report period published keypoints and a usable camera is known.
        """
        ms, self._detect_ms = self._detect_ms, []
        dropped = sum(v for k, v in self.counts.items() if k.startswith("dropped_"))
        values: dict[str, Any] = {
            **dict(sorted(self.counts.items())),
            "incomplete_pairs": self.sync.dropped,
            "detect_ms_median_last_period": round(float(np.median(ms)), 1) if ms else "",
        }
        published_now = self.counts["published"] - self._published_before
        self._published_before = self.counts["published"]
        message = f"{self.counts['published']} published, {dropped} dropped of {self.counts['frames']} frames" + (
            "" if self.camera is not None else f"; {self.camera_why}"
        )
        return self.camera is not None and published_now > 0, message, values


def gate(points: np.ndarray, conf: np.ndarray) -> np.ndarray:
    """[K, 4] float32 keypoints: a finite point with confidence in [0, 1], or NaN with confidence 0."""
    points = np.asarray(points, dtype=np.float32)
    conf = np.asarray(conf, dtype=np.float32)
    ok = np.all(np.isfinite(points), axis=1) & np.isfinite(conf)
    out = np.full((len(points), 4), np.nan, dtype=np.float32)
    out[ok, :3] = points[ok]
    out[:, 3] = np.where(ok, np.clip(conf, 0.0, 1.0), 0.0)
    return out
