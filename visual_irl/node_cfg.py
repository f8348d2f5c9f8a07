"""Settings of the ``irl_reward`` ROS 2 node (``visual_irl.node``): ``IrlRewardNodeCfg`` is every parameter it has.

``config/irl_reward.yaml`` and the node's table in docs/ros_nodes.md are
generated from it (``dynstack params --write``). No rclpy here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from visual_irl.demos import FPS
from visual_irl.joint_limits import JointLimitsCfg


@dataclass(frozen=True, kw_only=True)
class IrlRewardNodeCfg:
    """Every parameter of the ``irl_reward`` node."""

    model: str = "models/irl_reward.card.json"
    """Model card of the reward network (relative paths: working directory, then the package's own files)."""
    backend: Literal["onnx", "torch"] = "onnx"
    """Inference backend: ONNX Runtime (as on the robot) or torch."""
    robot: Literal["panda", "ur5", "none"] = "panda"
    """Cobot to retarget onto: 'panda' (7 joints), 'ur5' (6 joints) or 'none' (no joint targets)."""
    min_confidence: float = 0.5
    """Keypoints below this detector confidence count as missing (0..1)."""
    max_object_age_s: float = 0.2
    """Largest |stamp difference| between a keypoint frame and the onion message used with it [s]."""
    max_range_m: float = 10.0
    """Keypoints or onion farther than this from the camera make the frame invalid [m]."""
    max_ik_error_m: float = 0.005
    """Joint targets whose tool misses the target by more than this are not published [m]."""
    gap_reset_s: float = 0.5
    """After this long without a usable frame, retargeting restarts from the mapped posture [s]; a keypoint stamp this much older than the newest restarts the stream (a replayed or restarted source)."""
    publish_trajectory: bool = True
    """Also publish each joint target as a trajectory_msgs/JointTrajectory (the target, then a stop within the limits) on joint_trajectory."""
    expected_rate_hz: float = FPS
    """Frame rate of the keypoint source [Hz] (the camera's; the generated demonstrations are 30 Hz): /diagnostics reports the frames received against it."""
    min_received_ratio: float = 0.8
    """/diagnostics says WARN when a report period received less than this fraction of the expected frames (0..1)."""
    queue_depth: int = 5
    """Keep-last depth of the best-effort keypoints and objects subscriptions (sensor-data QoS: under a burst the newest frames are kept, older ones dropped)."""
    report_period_s: float = 1.0
    """Period of the /diagnostics report [s]."""
    marker_scale: float = 0.04
    """Diameter of the keypoint spheres in rviz [m]."""
    autostart: bool = True
    """Configure and activate on start (false: wait for a lifecycle manager)."""
    limits: JointLimitsCfg = field(default_factory=JointLimitsCfg)
    """Joint velocity and acceleration limits applied to every joint target before it is published."""

    def __post_init__(self) -> None:
        for name in ("min_confidence", "min_received_ratio"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if not 1 <= self.queue_depth <= 1000:
            raise ValueError(f"queue_depth must be in [1, 1000], got {self.queue_depth}")
        for name in (
            "max_object_age_s",
            "max_range_m",
            "max_ik_error_m",
            "gap_reset_s",
            "report_period_s",
            "marker_scale",
            "expected_rate_hz",
        ):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) > 0):
                raise ValueError(f"{name} must be finite and > 0, got {getattr(self, name)}")
        if not self.model:
            raise ValueError("model must name a model card")
