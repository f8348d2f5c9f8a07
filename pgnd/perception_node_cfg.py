"""Settings of the ``pgnd_perception`` ROS 2 node (``pgnd.perception_node``): every parameter it has.

``config/manipulation.yaml`` (with the planner's) and the node's table in
docs/ros_nodes.md are generated from it (``dynstack params --write``). No rclpy here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pgnd.perception.config import SURFACE_OFFSETS, PerceptionCfg
from pgnd.splats.fit import SplatFitCfg


@dataclass(frozen=True, kw_only=True)
class PerceptionNodeCfg:
    """Every parameter of the ``pgnd_perception`` node."""

    camera_rig: str = "config/manip_cameras.yaml"
    """Camera calibration (dynamics_stack.camera rig file: intrinsics and extrinsics in the table frame); its
    cameras' names are the topic prefixes (cameraN/color/image_raw ...). The default is manip_sim's rig."""
    frame_id: str = "table"
    """Frame of the rig's extrinsics and of the published particles."""
    perception: PerceptionCfg = field(
        default_factory=lambda: PerceptionCfg(particles=40, surface_offset=SURFACE_OFFSETS["rope"])
    )
    """Fusion and tracking; ``particles`` must be the planner model's count (rope 40, cloth 400)."""
    slop: float = 0.02
    """Images of one frame may differ this much in stamp (s)."""
    min_seen: float = 0.3
    """Tracking restarts when fewer than this share of the particles was seen in a frame."""
    max_depth: float = 5.0
    """Depth beyond this (m) is treated as no return."""
    fit_splats: bool = False
    """Fit a splat set to each track's first frame (on a worker thread) and publish it on object/splats, so the
    planner can render its predictions. Costs seconds of CPU per restart (splat.iterations x ~0.1-0.4 s)."""
    splat: SplatFitCfg = field(default_factory=lambda: SplatFitCfg(iterations=30, gaussians=3000))
    """Splat fit settings (fewer iterations and Gaussians than the offline evaluation: this runs live)."""

    def __post_init__(self) -> None:
        if not self.camera_rig or not self.frame_id:
            raise ValueError("camera_rig and frame_id must not be empty")
        if not (0 < self.slop <= 1.0 and 0 <= self.min_seen <= 1.0 and 0 < self.max_depth <= 100):
            raise ValueError("slop in (0, 1] s, min_seen in [0, 1] and max_depth in (0, 100] m required")
