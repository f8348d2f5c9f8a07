"""Planar (SE(2)) integration of body-frame velocities, whole sequences at once.

The FDM predicts, for each 0.5 s command step, the body twist the robot will
actually achieve (command + learned correction); poses follow by composing
the exact SE(2) exponential of each step's twist. Cumulative sums replace the
per-step loop, so K x T poses cost a handful of tensor ops and export to ONNX.
"""

from __future__ import annotations

import torch
from torch import Tensor

_SMALL = 1e-4  # |theta| below which the series expansion replaces sin(t)/t, (1 - cos t)/t


def twist_displacement(vel: Tensor, dt: float) -> Tensor:
    """Displacement (dx, dy, dtheta) in the step's start frame for a constant body twist.

    vel: [..., 3] = (vx, vy, wz) in m/s, m/s, rad/s held for ``dt`` seconds.
    Exact: for theta = wz dt, A = sin(theta)/theta, B = (1 - cos(theta))/theta,
    dx = (A vx - B vy) dt, dy = (B vx + A vy) dt.
    """
    vx, vy, wz = vel.unbind(-1)
    theta = wz * dt
    small = theta.abs() < _SMALL
    safe = torch.where(small, torch.ones_like(theta), theta)
    a = torch.where(small, 1.0 - theta * theta / 6.0, torch.sin(safe) / safe)
    b = torch.where(small, theta / 2.0, (1.0 - torch.cos(safe)) / safe)
    return torch.stack([(a * vx - b * vy) * dt, (b * vx + a * vy) * dt, theta], dim=-1)


def integrate_body_velocities(vel: Tensor, dt: float) -> Tensor:
    """Poses (x, y, yaw) after each step, starting from the origin: [K, T, 3] -> [K, T, 3]."""
    step = twist_displacement(vel, dt)  # [K, T, 3]
    yaw = torch.cumsum(step[..., 2], dim=-1)  # [K, T] heading after each step
    yaw_before = yaw - step[..., 2]  # heading at the start of each step
    c, s = torch.cos(yaw_before), torch.sin(yaw_before)
    dx = c * step[..., 0] - s * step[..., 1]
    dy = s * step[..., 0] + c * step[..., 1]
    return torch.stack([torch.cumsum(dx, dim=-1), torch.cumsum(dy, dim=-1), yaw], dim=-1)


def wrap_angle(angle: Tensor) -> Tensor:
    """Angles wrapped to [-pi, pi)."""
    return torch.remainder(angle + torch.pi, 2 * torch.pi) - torch.pi
