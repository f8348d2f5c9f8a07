"""Settings of the ``pgnd_planner`` ROS 2 node (``pgnd.planner_node``): ``ManipPlannerNodeCfg`` is every parameter.

``config/manipulation.yaml`` (with the perception node's) and the node's table
in docs/ros_nodes.md are generated from it (``dynstack params --write``). No rclpy here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from pgnd.manip_cycle import ManipCycleCfg
from pgnd.planner import ManipPlannerCfg


@dataclass(frozen=True, kw_only=True)
class ManipPlannerNodeCfg:
    """Every parameter of the ``pgnd_planner`` node."""

    model: str = "models/pgnd_rope_planning.card.json"
    """PGND model card (SHA-256 checked on load); its particle count is what the perception must publish."""
    device: str = "cpu"
    """Torch device of the planner: 'cpu', 'cuda' or 'cuda:N'."""
    threads: int = 1
    """Torch CPU threads for planning (0: torch's default)."""
    control_rate: float = 10.0
    """Waypoints per second while an action runs; must be 1 / the model's step (0.1 s: 10 Hz)."""
    frame_id: str = "table"
    """Frame of the object cloud, the target and the gripper targets."""
    target_file: str = ""
    """A task file (its target and success threshold) or a .npy target cloud [M, 3]; empty: take the target
    from the target_cloud topic."""
    autostart: bool = True
    """Configure and activate at start-up (the lifecycle manager's role)."""
    planner: ManipPlannerCfg = field(default_factory=ManipPlannerCfg)
    """MPPI sizes, noise, limits and critics."""
    cycle: ManipCycleCfg = field(default_factory=ManipCycleCfg)
    """Action cycle: timing, motion, stale-input limit, success threshold, gripper limits."""
    camera_rig: str = "config/manip_cameras.yaml"
    """Camera calibration used to render the predicted final state with splats."""
    render_camera: str = "camera0"
    """Camera of the rig the predicted final state is rendered from (when splats arrive on object/splats)."""
    plan_markers: int = 8
    """Sampled final clouds drawn in ~/plan besides the chosen one."""

    def __post_init__(self) -> None:
        if not (math.isfinite(self.control_rate) and 0 < self.control_rate <= 100):
            raise ValueError(f"control_rate must be in (0, 100] Hz, got {self.control_rate}")
        if self.threads < 0 or self.plan_markers < 0:
            raise ValueError("threads and plan_markers must be >= 0")
        if not self.model or not self.frame_id:
            raise ValueError("model and frame_id must not be empty")
