"""Settings of the ``keypoint_detector`` ROS 2 node (``visual_irl.detector_node``): every parameter it has.

``config/keypoint_detector.yaml`` and the node's table in docs/ros_nodes.md are generated from it
(``dynstack params --write``). No rclpy here.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from visual_irl.features import MAX_RANGE_M
from visual_irl.pose_detectors import MediaPipeCfg, OnnxPoseCfg

_PLUGIN = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


@dataclass(frozen=True, kw_only=True)
class KeypointDetectorNodeCfg:
    """Every parameter of the ``keypoint_detector`` node."""

    detector: str = "mediapipe"
    """2-D pose detector: 'mediapipe' (MediaPipe Pose, the optional extra: make detector), 'onnx' (your heatmap
    model, onnx.*) or 'package.module:Class' (any class with detect(rgb) and reset())."""
    mediapipe: MediaPipeCfg = field(default_factory=MediaPipeCfg)
    """MediaPipe Pose settings (detector 'mediapipe')."""
    onnx: OnnxPoseCfg = field(default_factory=OnnxPoseCfg)
    """ONNX heatmap model settings (detector 'onnx')."""
    depth_window: int = 5
    """Side (px, odd) of the square around each keypoint whose median valid depth lifts it to 3-D."""
    min_depth: float = 0.1
    """Depth below this (m) counts as no measurement (closer than any RGB-D camera measures)."""
    max_depth: float = MAX_RANGE_M
    """Depth beyond this (m) counts as no measurement (the reward node's max_range_m)."""
    slop: float = 0.02
    """Colour and depth images of one frame may differ this much in stamp (s); at 30 Hz frames are 33 ms apart."""
    max_wait: float = 0.5
    """A colour or depth image whose partner has not come within this long (s, by stamp) is dropped."""
    restart_s: float = 0.5
    """A colour stamp this much older than the newest starts a new stream (a replayed bag): tracking restarts."""
    image_reliability: str = "reliable"
    """QoS of the image and camera_info subscriptions: 'reliable' (a RealSense driver's default; DDS resends the
    fragments of a large image that UDP drops while the detector is busy) or 'best_effort' (for a driver that
    publishes best effort, e.g. with sensor-data QoS: a reliable subscription does not match it and receives
    nothing; the node then logs the incompatibility and counts it in /diagnostics)."""
    queue_depth: int = 2
    """Keep-last depth of the image subscriptions: a detector slower than the camera takes the newest frames and
    older ones are dropped (the reward node counts keypoint frames against the camera rate)."""
    report_period_s: float = 1.0
    """Period of the /diagnostics report (s)."""
    autostart: bool = True
    """Configure and activate on start (false: wait for a lifecycle manager)."""

    def __post_init__(self) -> None:
        if self.detector not in ("mediapipe", "onnx") and not _PLUGIN.match(self.detector):
            raise ValueError(f"detector must be 'mediapipe', 'onnx' or 'package.module:Class', got {self.detector!r}")
        if not (1 <= self.depth_window <= 31 and self.depth_window % 2 == 1):
            raise ValueError(f"depth_window must be odd and in [1, 31], got {self.depth_window}")
        for name in ("min_depth", "max_depth", "slop", "max_wait", "restart_s", "report_period_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0 and (value > 0 or name == "slop")):
                raise ValueError(f"{name} must be finite and > 0 (slop >= 0), got {value}")
        if self.min_depth >= self.max_depth:
            raise ValueError(f"min_depth {self.min_depth} must be below max_depth {self.max_depth}")
        if self.image_reliability not in ("reliable", "best_effort"):
            raise ValueError(f"image_reliability must be 'reliable' or 'best_effort', got {self.image_reliability!r}")
        if not 1 <= self.queue_depth <= 100:
            raise ValueError(f"queue_depth must be in [1, 100], got {self.queue_depth}")
