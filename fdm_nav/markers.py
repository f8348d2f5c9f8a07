"""What the planner node shows in rviz: the chosen plan as a nav_msgs/Path and sampled rollouts as coloured lines.

Plans come in the robot's base frame at the odometry pose they were made
from; both outputs are published in the odometry (fixed) frame with that
odometry's stamp. Rollouts are coloured green (0) -> yellow -> red (1) by
their peak failure probability or by their rank in MPPI cost.
"""

from __future__ import annotations

import math

import numpy as np
from geometry_msgs.msg import Point
from nav_msgs.msg import Path
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker, MarkerArray

from dynamics_stack.ros.nav_convert import make_path, sec_to_stamp
from dynamics_stack.ros.nav_types import OdomSample
from fdm_nav.planner import PlanResult


def risk_color(v: float, alpha: float = 0.6) -> ColorRGBA:
    """Green (0) -> yellow -> red (1)."""
    v = min(max(v, 0.0), 1.0)
    return ColorRGBA(r=min(1.0, 2 * v), g=min(1.0, 2 * (1 - v)), b=0.0, a=alpha)


def to_fixed_frame(poses: np.ndarray, origin: np.ndarray) -> np.ndarray:
    """Base-frame poses [..., 3] at ``origin`` (x, y, yaw) -> the fixed frame."""
    c, s = math.cos(origin[2]), math.sin(origin[2])
    x = origin[0] + c * poses[..., 0] - s * poses[..., 1]
    y = origin[1] + s * poses[..., 0] + c * poses[..., 1]
    return np.stack([x, y, poses[..., 2] + origin[2]], axis=-1)


def plan_path(result: PlanResult, odom: OdomSample) -> Path:
    """The chosen plan's poses from the robot's pose on, in the odometry frame."""
    pose = odom.pose2d
    poses = to_fixed_frame(result.plan_poses.double().numpy(), pose)
    return make_path(np.concatenate([pose[None], poses]), odom.frame, odom.t)


def rollout_markers(
    result: PlanResult, odom: OdomSample, count: int, color_by: str, lifetime_s: float
) -> MarkerArray | None:
    """``count`` sampled rollouts spread over the cost order, one LINE_STRIP each; None when there are none."""
    if count == 0 or result.batch is None:
        return None
    pose, z = odom.pose2d, float(odom.position[2])
    states = result.batch.states.detach().double().cpu().numpy()  # [K, T, 3]
    risk = result.batch.failure_prob.detach().amax(dim=1).double().cpu().numpy()  # [K]
    costs = result.costs.detach().double().cpu().numpy()  # [K]
    order = np.argsort(costs)
    pick = order[np.linspace(0, len(order) - 1, min(count, len(order))).round().astype(int)]
    rank = np.searchsorted(np.sort(costs), costs[pick]) / max(1, len(costs) - 1)  # robust to the +1000 penalties
    value = risk[pick] if color_by == "risk" else rank
    header = Header(frame_id=odom.frame, stamp=sec_to_stamp(odom.t))
    lifetime = sec_to_stamp(lifetime_s)
    markers = []
    for i, (k, v) in enumerate(zip(pick, value, strict=True)):
        xy = to_fixed_frame(states[k], pose)
        m = Marker(header=header, ns="rollouts", id=i, type=Marker.LINE_STRIP, action=Marker.ADD)
        m.pose.orientation.w = 1.0
        m.scale.x = 0.02
        m.color = risk_color(float(v))
        m.lifetime.sec, m.lifetime.nanosec = lifetime.sec, lifetime.nanosec
        m.points = [Point(x=float(pose[0]), y=float(pose[1]), z=z)] + [
            Point(x=float(p[0]), y=float(p[1]), z=z) for p in xy
        ]
        markers.append(m)
    return MarkerArray(markers=markers)
