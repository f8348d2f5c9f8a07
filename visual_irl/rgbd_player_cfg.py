"""Settings of the ``rgbd_player`` ROS 2 node (``visual_irl.rgbd_player``): every parameter it has.

``config/rgbd_player.yaml`` and the node's table in docs/ros_nodes.md are generated from it
(``dynstack params --write``). No rclpy here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from visual_irl.demos import FPS


@dataclass(frozen=True, kw_only=True)
class RgbdPlayerNodeCfg:
    """Every parameter of the ``rgbd_player`` node."""

    folder: str = ""
    """RGB-D folder to play (visual_irl.rgbd_folder: camera.yaml, NNNNNN_color.png, NNNNNN_depth.png)."""
    rate_hz: float = FPS
    """Frames per second [Hz] (a RealSense colour stream's 30)."""
    loop: bool = True
    """Start again after the last frame (false: stop publishing after it)."""
    frame_id: str = "camera_color_optical_frame"
    """frame_id of the images and the camera_info (a RealSense driver's colour optical frame)."""
    depth_encoding: str = "16UC1"
    """Depth as published: '16UC1' (millimetres, as a RealSense driver sends it) or '32FC1' (metres)."""
    publish_onion: bool = False
    """Stand-in for an object detector: publish ``onion`` on objects with every frame's stamp."""
    onion: tuple[float, ...] = (0.0, 0.2, 1.0, 0.0)
    """The onion of ``publish_onion``: x, y, z (m, the camera's optical frame) and blemished (0 or 1)."""

    def __post_init__(self) -> None:
        if not (math.isfinite(self.rate_hz) and 0 < self.rate_hz <= 1000):
            raise ValueError(f"rate_hz must be in (0, 1000], got {self.rate_hz}")
        if self.depth_encoding not in ("16UC1", "32FC1"):
            raise ValueError(f"depth_encoding must be '16UC1' or '32FC1', got {self.depth_encoding!r}")
        if len(self.onion) != 4 or not all(math.isfinite(v) for v in self.onion):
            raise ValueError(f"onion must be four finite numbers (x, y, z, blemished), got {self.onion}")
