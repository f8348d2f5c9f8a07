"""Human right arm: segment lengths from stature, forward kinematics, elbow placement and IK from keypoints.

Joint angles q = (flexion, adduction, humeral rotation, elbow flexion), in the
torso frame (x forward, y left, z up, origin between the shoulders):

    upper arm dir u = Ry(-q0) Rx(q1) (0, 0, -1)   -> arm hanging at q = 0, q0 > 0 raises it forward
    R_upper        = Ry(-q0) Rx(q1) Rz(q2)        (q2 turns the arm about its own axis)
    forearm dir  f = R_upper (sin q3, 0, -cos q3)  (q3 = 0: straight elbow)

The only singularities are the arm pointing straight sideways (q1 = +-90 deg)
and a straight elbow (q3 = 0, humeral rotation undefined); neither occurs in
the sorting task (checked by ``MIN_ELBOW_FLEXION``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Segment lengths as fractions of stature (Winter, Biomechanics and Motor Control of Human Movement, 4th ed.,
# fig. 4.1): upper arm 0.186 H, forearm 0.146 H, shoulder height 0.818 H, shoulder width 0.259 H (biacromial
# ~0.23 H; Winter's figure gives the outer width), hip height 0.530 H, hip width 0.191 H.
UPPER_ARM_FRAC, FOREARM_FRAC = 0.186, 0.146
SHOULDER_HEIGHT_FRAC, SHOULDER_WIDTH_FRAC = 0.818, 0.23
HIP_HEIGHT_FRAC, HIP_WIDTH_FRAC = 0.530, 0.191
MIN_ELBOW_FLEXION = np.deg2rad(12.0)
JOINT_NAMES = ("shoulder_flexion", "shoulder_adduction", "humeral_rotation", "elbow_flexion")


@dataclass(frozen=True)
class Person:
    """Body dimensions of one demonstrator."""

    stature: float = 1.75
    """Standing height (m)."""
    swivel: float = 0.0
    """Preferred elbow swivel about the shoulder-wrist axis, from the low, beside-the-body elbow (rad)."""
    speed: float = 1.0
    """Movement-speed factor (1 = nominal durations)."""

    @property
    def upper_arm(self) -> float:
        return UPPER_ARM_FRAC * self.stature

    @property
    def forearm(self) -> float:
        return FOREARM_FRAC * self.stature

    @property
    def right_shoulder(self) -> np.ndarray:
        """Right shoulder in the torso frame."""
        return np.array([0.0, -SHOULDER_WIDTH_FRAC * self.stature / 2, 0.0])


def rot_x(a: np.ndarray) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([o, z, z], -1), np.stack([z, c, -s], -1), np.stack([z, s, c], -1)], -2)


def rot_y(a: np.ndarray) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, z, s], -1), np.stack([z, o, z], -1), np.stack([-s, z, c], -1)], -2)


def rot_z(a: np.ndarray) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, -s, z], -1), np.stack([s, c, z], -1), np.stack([z, z, o], -1)], -2)


def forward(q: np.ndarray, shoulder: np.ndarray, l1: float, l2: float) -> tuple[np.ndarray, np.ndarray]:
    """Joint angles [..., 4] -> elbow and wrist positions [..., 3] (torso frame)."""
    q = np.asarray(q, dtype=np.float64)
    R = rot_y(-q[..., 0]) @ rot_x(q[..., 1]) @ rot_z(q[..., 2])
    down = np.array([0.0, 0.0, -1.0])
    elbow = shoulder + l1 * (R @ down)
    f_local = np.stack([np.sin(q[..., 3]), np.zeros_like(q[..., 3]), -np.cos(q[..., 3])], -1)
    wrist = elbow + l2 * (R @ f_local[..., None])[..., 0]
    return elbow, wrist


def inverse(shoulder: np.ndarray, elbow: np.ndarray, wrist: np.ndarray) -> np.ndarray:
    """Joint angles [..., 4] from shoulder, elbow, wrist positions [..., 3] in the torso frame.

    Only directions are used, so keypoint noise along a segment does not change
    the angles and segment lengths need not be known.
    """
    u = elbow - shoulder
    u = u / np.linalg.norm(u, axis=-1, keepdims=True)
    f = wrist - elbow
    f = f / np.linalg.norm(f, axis=-1, keepdims=True)
    q1 = np.arcsin(np.clip(u[..., 1], -1.0, 1.0))
    q0 = np.arctan2(u[..., 0], -u[..., 2])
    q3 = np.arccos(np.clip(np.sum(u * f, axis=-1), -1.0, 1.0))
    R01 = rot_y(-q0) @ rot_x(q1)
    f_local = (np.swapaxes(R01, -1, -2) @ f[..., None])[..., 0]  # = Rz(q2) (sin q3, 0, -cos q3)
    q2 = np.arctan2(f_local[..., 1], f_local[..., 0])
    return np.stack([q0, q1, q2, q3], axis=-1)


def place_elbow(
    shoulder: np.ndarray, wrist: np.ndarray, l1: float, l2: float, swivel: np.ndarray | float
) -> np.ndarray:
    """Elbow position [..., 3] for wrist targets [..., 3] (torso frame, right arm).

    The elbow lies on the circle of points at ``l1`` from the shoulder and ``l2``
    from the wrist. People keep it low and beside the body (Kang et al. 2005:
    swivel is small in reaching), so the reference point is the one nearest a
    slightly abducted hanging upper arm; ``swivel`` (rad) turns the elbow about
    the shoulder-wrist axis from there, positive outward/upward. Targets beyond
    reach are pulled in so the elbow stays bent by ``MIN_ELBOW_FLEXION``.
    """
    d = wrist - shoulder
    dist = np.linalg.norm(d, axis=-1, keepdims=True)
    max_d = np.sqrt(l1**2 + l2**2 + 2 * l1 * l2 * np.cos(MIN_ELBOW_FLEXION))
    dist_c = np.clip(dist, abs(l1 - l2) + 1e-3, max_d)
    axis = d / dist
    a = (l1**2 - l2**2 + dist_c**2) / (2 * dist_c)  # shoulder to circle centre along the axis
    r = np.sqrt(np.maximum(l1**2 - a**2, 0.0))
    centre = shoulder + a * axis
    ref = np.array([0.05, -0.12, -1.0]) / np.linalg.norm([0.05, -0.12, -1.0])  # hanging, slightly abducted
    n1 = ref - np.sum(ref * axis, -1, keepdims=True) * axis
    n1 = n1 / np.maximum(np.linalg.norm(n1, axis=-1, keepdims=True), 1e-9)
    n2 = np.cross(axis, n1)
    # sign of n2 so that positive swivel lifts the elbow (+z)
    sign = np.where(n2[..., 2:3] > 0, 1.0, -1.0)
    return centre + r * (np.cos(swivel) * n1 + np.sin(swivel) * sign * n2)


def reach_limit(person: Person) -> float:
    """Largest shoulder-wrist distance with the elbow bent by ``MIN_ELBOW_FLEXION`` (m)."""
    l1, l2 = person.upper_arm, person.forearm
    return float(np.sqrt(l1**2 + l2**2 + 2 * l1 * l2 * np.cos(MIN_ELBOW_FLEXION)))
