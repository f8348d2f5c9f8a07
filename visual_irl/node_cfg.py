"""Settings of the ``irl_reward`` ROS 2 node (``visual_irl.node``): ``IrlRewardNodeCfg`` is every parameter it has.

``config/irl_reward.yaml`` and the node's table in docs/ros_nodes.md are
generated from it (``dynstack params --write``). No rclpy here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


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
    """After this long without a usable frame, retargeting restarts from the mapped posture [s]."""
    report_period_s: float = 1.0
    """Period of the /diagnostics report [s]."""
    marker_scale: float = 0.04
    """Diameter of the keypoint spheres in rviz [m]."""
    autostart: bool = True
    """Configure and activate on start (false: wait for a lifecycle manager)."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ValueError(f"min_confidence must be in [0, 1], got {self.min_confidence}")
        for name in (
            "max_object_age_s",
            "max_range_m",
            "max_ik_error_m",
            "gap_reset_s",
            "report_period_s",
            "marker_scale",
        ):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if not self.model:
            raise ValueError("model must name a model card")
