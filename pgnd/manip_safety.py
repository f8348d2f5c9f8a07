"""Limits applied last to every gripper target, in the planner node and in the in-process benchmark alike.

One rule each, no rclpy: a target must be finite, inside the workspace box
and above the table clearance. ``clamp_action`` applies them to a planned
grasp and path and reports how many waypoints it had to move, so a planner
that asks for the impossible is visible in the benchmark and the node's
diagnostics, while the gripper never receives such a target.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, kw_only=True)
class GripperLimitsCfg:
    """Where the gripper centre may go (m, table frame)."""

    box: tuple[float, float, float, float, float, float] = (-0.3, 0.3, -0.3, 0.3, 0.0, 0.25)
    """x min, x max, y min, y max, z min, z max of the gripper centre."""
    min_height: float = 0.005
    """Lowest gripper centre above the table top: the fingers close just above it."""

    def __post_init__(self) -> None:
        lo, hi = self.box[0::2], self.box[1::2]
        if any(a >= b for a, b in zip(lo, hi, strict=True)) or not all(np.isfinite(self.box)):
            raise ValueError(f"box must be finite with min < max on every axis, got {self.box}")
        if not self.box[4] <= self.min_height < self.box[5]:
            raise ValueError(f"min_height must lie within the box's z range, got {self.min_height}")

    @property
    def lo(self) -> np.ndarray:
        return np.array([self.box[0], self.box[2], max(self.box[4], self.min_height)])

    @property
    def hi(self) -> np.ndarray:
        return np.array(self.box[1::2])


class UnsafeTarget(ValueError):
    """A gripper target that no clamp can make safe (non-finite values)."""


def clamp_action(grasp: np.ndarray, path: np.ndarray, limits: GripperLimitsCfg) -> tuple[np.ndarray, np.ndarray, int]:
    """(grasp [3], path [T, 3]) inside the limits, and how many of the T + 1 points had to move.

    Raises ``UnsafeTarget`` for a non-finite value: a robot never gets one.
    """
    grasp = np.asarray(grasp, dtype=np.float64)
    path = np.asarray(path, dtype=np.float64).reshape(-1, 3)
    if grasp.shape != (3,) or not np.isfinite(grasp).all() or not np.isfinite(path).all():
        raise UnsafeTarget(f"non-finite or malformed gripper target: grasp {grasp.tolist()}, path shape {path.shape}")
    points = np.concatenate((grasp[None], path))
    clamped = np.clip(points, limits.lo, limits.hi)
    moved = int((np.abs(clamped - points) > 1e-9).any(axis=1).sum())
    return clamped[0], clamped[1:], moved
