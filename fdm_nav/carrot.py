"""The carrot: the goal a local planner chases along a global route.

The FDM planner, like the authors', is a local planner: it sees 5 s ahead.
Goals behind a wall or across a trench need a route (a nav_msgs/Path from a
global planner on a robot, ``sim.route`` in simulation). Each planning cycle
the planner gets as its goal the point ``lookahead`` metres further along the
route from the point nearest the robot.
"""

from __future__ import annotations

import numpy as np
import torch


class Carrot:
    """The point ``lookahead`` metres along a route beyond the route point nearest the robot."""

    def __init__(self, route: np.ndarray, lookahead: float = 3.0):
        self.route = torch.as_tensor(route, dtype=torch.float32)  # [N, 2]
        seg = torch.linalg.vector_norm(self.route[1:] - self.route[:-1], dim=-1)
        self.s = torch.cat([torch.zeros(1), torch.cumsum(seg, 0)])  # arc length at each point
        self.lookahead = lookahead
        self.progress = 0.0  # arc length reached so far (never goes backwards)

    def goal(self, xy: torch.Tensor) -> torch.Tensor:
        """Carrot point [2] for the robot at ``xy`` [2]."""
        window = (self.s >= self.progress - 0.5) & (self.s <= self.progress + 2 * self.lookahead)
        d = torch.linalg.vector_norm(self.route - xy, dim=-1).masked_fill(~window, float("inf"))
        self.progress = max(self.progress, float(self.s[int(torch.argmin(d))]))
        target = min(self.progress + self.lookahead, float(self.s[-1]))
        i = int(torch.searchsorted(self.s, torch.tensor(target)).clamp(max=len(self.s) - 1))
        return self.route[i].clone()

    def ahead(self) -> torch.Tensor:
        """Route points [M, 2] from just behind the robot's route position to the carrot (as of the last ``goal``)."""
        keep = (self.s >= self.progress - 0.5) & (self.s <= self.progress + self.lookahead)
        return self.route[keep]

    @property
    def remaining(self) -> float:
        """Route length [m] from the robot's route position (as of the last ``goal`` call) to the route's end."""
        return float(self.s[-1]) - self.progress
