"""Proprio/state history at 20 Hz, turned into the FDM's inputs exactly as the dataset builds them.

The planner needs the last 10 proprio samples and the matching state rows
(x, y, sin yaw, cos yaw in the *current* base frame, failure flag, energy). The
simulator runner and the ROS node push one sample every 0.05 s; ``inputs()``
expresses the stored poses in the newest pose's frame (as
``sim.dataset.NavWindowDataset`` does for training windows).
"""

from __future__ import annotations

import torch
from torch import Tensor

from fdm_nav.se2 import wrap_angle


class HistoryBuffer:
    """Ring of the last ``length`` samples: proprio [P], pose [3] (x, y, yaw; any fixed frame), flag, energy."""

    def __init__(self, length: int, proprio_dim: int):
        self.length, self.proprio_dim = length, proprio_dim
        self.proprio = torch.zeros(length, proprio_dim)
        self.pose = torch.zeros(length, 3)
        self.flag = torch.zeros(length)
        self.energy = torch.zeros(length)
        self.count = 0

    def push(self, proprio: Tensor, pose: Tensor, failed: bool | float, energy: float) -> None:
        """Append one sample (oldest drops out); the first push fills the whole history with it."""
        proprio = proprio.detach().float().cpu().reshape(self.proprio_dim)
        pose = pose.detach().float().cpu().reshape(3)
        if not (torch.isfinite(proprio).all() and torch.isfinite(pose).all()):
            raise ValueError("history sample has non-finite proprio or pose")
        rows = self.length if self.count == 0 else 1
        for name, value in (("proprio", proprio), ("pose", pose)):
            buf = getattr(self, name)
            setattr(self, name, torch.cat([buf[rows:], value.expand(rows, -1)]))
        self.flag = torch.cat([self.flag[rows:], torch.full((rows,), float(failed))])
        self.energy = torch.cat([self.energy[rows:], torch.full((rows,), float(energy))])
        self.count += 1

    @property
    def ready(self) -> bool:
        return self.count > 0

    def latest_pose(self) -> Tensor:
        return self.pose[-1].clone()

    def inputs(self) -> tuple[Tensor, Tensor]:
        """(proprio [H, P], state [H, 6]) in the newest pose's base frame."""
        x, y, yaw = to_base_frame(self.pose, self.pose[-1]).unbind(-1)
        state = torch.stack([x, y, torch.sin(yaw), torch.cos(yaw), self.flag, self.energy], dim=-1)
        return self.proprio.clone(), state


def to_base_frame(points: Tensor, origin: Tensor) -> Tensor:
    """(x, y, yaw) of ``points`` [..., 3] in the frame of ``origin`` [3]; a NaN yaw stays NaN."""
    c, s = torch.cos(origin[2]), torch.sin(origin[2])
    dx, dy = points[..., 0] - origin[0], points[..., 1] - origin[1]
    return torch.stack([c * dx + s * dy, -s * dx + c * dy, wrap_angle(points[..., 2] - origin[2])], dim=-1)
