"""Settings of the ``manip_sim`` ROS 2 node (``sim.manip_node``): ``ManipSimNodeCfg`` is every parameter it has.

``config/manipulation_sim.yaml`` and the node's table in docs/ros_nodes.md are
generated from it (``dynstack params --write``). No rclpy here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from sim.deformable_cameras import RenderCfg


@dataclass(frozen=True, kw_only=True)
class ManipSimNodeCfg:
    """Every parameter of the ``manip_sim`` node."""

    scenario: str = "rope_straighten_01"
    """Task: a name in sim/scenarios/manip/ or a path to a task YAML."""
    seed: int = 0
    """Seed of the cameras' sensor noise."""
    render: RenderCfg = field(default_factory=RenderCfg)
    """Cameras (the rig of config/manip_cameras.yaml by default), anti-aliasing and sensor noise."""
    real_time_factor: float = 1.0
    """Simulated seconds per wall-clock second at most; rendering four cameras on a CPU holds it lower
    (~0.5 measured on 2 cores), so stamps are simulated time and /clock is published (use_sim_time)."""
    frame_id: str = "table"
    """Frame of the gripper pose, the target cloud and everything the cameras are calibrated in."""
    gripper_speed: float = 0.3
    """Fastest gripper motion towards its target (m/s), a cartesian controller's limit."""
    command_timeout: float = 1.0
    """A gripper target older than this (s, simulated) is dropped: the gripper holds where it is."""

    def __post_init__(self) -> None:
        for name in ("real_time_factor", "gripper_speed", "command_timeout"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be finite and > 0, got {value}")
        if self.real_time_factor > 10:
            raise ValueError(f"real_time_factor must be <= 10, got {self.real_time_factor}")
        if not self.frame_id:
            raise ValueError("frame_id must not be empty")
