"""Navigation inputs as plain numbers: what ``nav_convert`` and ``grid_map_convert`` read out of messages.

Imports nothing from ROS, so code that works on robot inputs without being a
node (the planner's control cycle, the rosbag importer) can use these types
and be tested with rclpy blocked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


class MessageError(ValueError):
    """An input message cannot be used; the message says which one and why."""


def yaw_from_quaternion(x: float, y: float, z: float, w: float) -> float:
    """Heading (rad) of a rotation, ZYX convention (REP-103)."""
    return math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))


@dataclass(frozen=True)
class OdomSample:
    """One odometry message as numbers (REP-105: pose in ``frame`` = odom, twist in ``child_frame`` = base)."""

    t: float  # s, header stamp
    frame: str
    child_frame: str
    position: np.ndarray  # [3] m
    quaternion: np.ndarray  # [4] x, y, z, w (unit)
    linear: np.ndarray  # [3] m/s, body frame
    angular: np.ndarray  # [3] rad/s, body frame

    @property
    def yaw(self) -> float:
        return yaw_from_quaternion(*self.quaternion)

    @property
    def pose2d(self) -> np.ndarray:  # [3] x, y, yaw
        return np.array([self.position[0], self.position[1], self.yaw])


@dataclass(frozen=True)
class ElevationGrid:
    """An elevation map as a grid: heights[i, j] at x = origin[0] + i * resolution, y = origin[1] + j * resolution."""

    t: float  # s, header stamp
    frame: str
    heights: np.ndarray  # [H, W] float32, NaN = unknown
    resolution: float  # m
    origin: tuple[float, float]  # m, centre of cell [0, 0]

    def height_at(self, x: float, y: float) -> float:
        """Height of the cell holding (x, y), NaN when unknown or outside."""
        i = round((x - self.origin[0]) / self.resolution)
        j = round((y - self.origin[1]) / self.resolution)
        if 0 <= i < self.heights.shape[0] and 0 <= j < self.heights.shape[1]:
            return float(self.heights[i, j])
        return float("nan")
