"""Navigation messages <-> numpy: odometry, goal poses, twists, paths and elevation clouds.

Every reader checks what a controller must not trust: non-finite numbers,
absurdly large ones (a coordinate beyond ``MAX_COORD`` metres or a speed beyond
``MAX_SPEED``), a zero quaternion, a cloud whose grid would not fit in memory.
It raises :class:`MessageError` naming the message and the field, so the node
can drop the message, count it and say why. NaN heights in an elevation cloud
are kept: they mean "unknown cell".

No tf2 here (not available as a wheel): frames are taken from the messages'
headers, and callers compare them instead of transforming.
"""

from __future__ import annotations

import math

import numpy as np
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Pose, PoseStamped, Quaternion, Twist, TwistStamped
from nav_msgs.msg import Odometry, Path
from sensor_msgs.msg import PointCloud2
from std_msgs.msg import Header

from dynamics_stack.ros.nav_types import ElevationGrid, MessageError, OdomSample, yaw_from_quaternion
from dynamics_stack.ros.pointcloud import PointCloudError, array_to_pointcloud2, pointcloud2_to_array
from dynamics_stack.ros.stamps import sec_to_parts, stamp_to_sec

MAX_COORD = 1.0e6  # m: no map of a legged robot is a thousand kilometres wide; larger means garbage
MAX_SPEED = 100.0  # m/s and rad/s: an order of magnitude above any ground robot; larger means garbage


def sec_to_stamp(t: float) -> Time:
    sec, nanosec = sec_to_parts(t)
    return Time(sec=sec, nanosec=nanosec)


def quaternion_from_rpy(roll: float, pitch: float, yaw: float) -> Quaternion:
    """Unit quaternion of roll, pitch, yaw (ZYX convention)."""
    cr, sr = math.cos(roll / 2), math.sin(roll / 2)
    cp, sp = math.cos(pitch / 2), math.sin(pitch / 2)
    cy, sy = math.cos(yaw / 2), math.sin(yaw / 2)
    return Quaternion(
        x=sr * cp * cy - cr * sp * sy,
        y=cr * sp * cy + sr * cp * sy,
        z=cr * cp * sy - sr * sp * cy,
        w=cr * cp * cy + sr * sp * sy,
    )


def _check(name: str, values: np.ndarray, bound: float) -> None:
    if not np.isfinite(values).all():
        raise MessageError(f"{name} has non-finite values {values.tolist()}")
    if np.abs(values).max(initial=0.0) > bound:
        raise MessageError(f"{name} has a value beyond {bound:g}: {values.tolist()}")


def _unit_quaternion(name: str, q: Quaternion) -> np.ndarray:
    arr = np.array([q.x, q.y, q.z, q.w], dtype=np.float64)
    _check(name, arr, 1e3)
    norm = float(np.linalg.norm(arr))
    if not 0.5 < norm < 2.0:  # a real orientation is unit length up to rounding; far from it is garbage
        raise MessageError(f"{name} is not a unit quaternion (norm {norm:.3g})")
    return arr / norm


def odometry_to_sample(msg: Odometry) -> OdomSample:
    """Checked numbers of a nav_msgs/Odometry; raises MessageError on anything unusable."""
    p = msg.pose.pose.position
    position = np.array([p.x, p.y, p.z], dtype=np.float64)
    _check("odometry pose.position", position, MAX_COORD)
    q = _unit_quaternion("odometry pose.orientation", msg.pose.pose.orientation)
    lin = msg.twist.twist.linear
    ang = msg.twist.twist.angular
    linear = np.array([lin.x, lin.y, lin.z], dtype=np.float64)
    angular = np.array([ang.x, ang.y, ang.z], dtype=np.float64)
    _check("odometry twist.linear", linear, MAX_SPEED)
    _check("odometry twist.angular", angular, MAX_SPEED)
    return OdomSample(
        stamp_to_sec(msg.header.stamp), msg.header.frame_id, msg.child_frame_id, position, q, linear, angular
    )


def make_odometry(
    frame: str, child: str, t: float, position, rpy, linear, angular
) -> Odometry:  # position [3], rpy [3], linear/angular [3] body frame
    msg = Odometry()
    msg.header = Header(frame_id=frame, stamp=sec_to_stamp(t))
    msg.child_frame_id = child
    msg.pose.pose.position.x, msg.pose.pose.position.y, msg.pose.pose.position.z = (float(v) for v in position)
    msg.pose.pose.orientation = quaternion_from_rpy(*(float(v) for v in rpy))
    msg.twist.twist.linear.x, msg.twist.twist.linear.y, msg.twist.twist.linear.z = (float(v) for v in linear)
    msg.twist.twist.angular.x, msg.twist.twist.angular.y, msg.twist.twist.angular.z = (float(v) for v in angular)
    return msg


def pose_stamped_to_xyyaw(msg: PoseStamped, name: str = "goal_pose") -> tuple[str, np.ndarray]:
    """(frame, [x, y, yaw]) of a PoseStamped; raises MessageError on non-finite or huge values."""
    p = msg.pose.position
    xyz = np.array([p.x, p.y, p.z], dtype=np.float64)
    _check(f"{name} position", xyz, MAX_COORD)
    q = _unit_quaternion(f"{name} orientation", msg.pose.orientation)
    return msg.header.frame_id, np.array([xyz[0], xyz[1], yaw_from_quaternion(*q)])


def make_pose_stamped(frame: str, t: float, x: float, y: float, yaw: float = 0.0, z: float = 0.0) -> PoseStamped:
    msg = PoseStamped()
    msg.header = Header(frame_id=frame, stamp=sec_to_stamp(t))
    msg.pose = _pose(x, y, yaw, z)
    return msg


def _pose(x: float, y: float, yaw: float, z: float = 0.0) -> Pose:
    pose = Pose()
    pose.position.x, pose.position.y, pose.position.z = float(x), float(y), float(z)
    pose.orientation = quaternion_from_rpy(0.0, 0.0, float(yaw))
    return pose


def twist_to_array(msg: Twist | TwistStamped, name: str = "cmd_vel") -> np.ndarray:
    """(vx, vy, wz) [3] of a Twist or TwistStamped (rclpy's or a bag's); MessageError on non-finite or huge values."""
    twist = msg.twist if hasattr(msg, "twist") else msg
    arr = np.array(
        [twist.linear.x, twist.linear.y, twist.linear.z, twist.angular.x, twist.angular.y, twist.angular.z],
        dtype=np.float64,
    )
    _check(name, arr, MAX_SPEED)
    return arr[[0, 1, 5]]


def make_twist(command, stamped: bool = False, frame: str = "", t: float = 0.0) -> Twist | TwistStamped:
    """A Twist (or TwistStamped with ``frame`` and stamp ``t``) of (vx, vy, wz)."""
    twist = Twist()
    twist.linear.x, twist.linear.y, twist.angular.z = (float(v) for v in command)
    if not stamped:
        return twist
    return TwistStamped(header=Header(frame_id=frame, stamp=sec_to_stamp(t)), twist=twist)


def make_path(poses: np.ndarray, frame: str, t: float) -> Path:
    """nav_msgs/Path of poses [N, 3] (x, y, yaw) in ``frame``."""
    header = Header(frame_id=frame, stamp=sec_to_stamp(t))
    msg = Path(header=header)
    msg.poses = [PoseStamped(header=header, pose=_pose(*p[:3])) for p in np.asarray(poses, dtype=np.float64)]
    return msg


def path_to_xy(msg: Path, name: str = "route") -> tuple[str, np.ndarray]:
    """(frame, [N, 2]) of a nav_msgs/Path; raises MessageError on an empty path or bad values."""
    if not msg.poses:
        raise MessageError(f"{name} has no poses")
    xy = np.array([[p.pose.position.x, p.pose.position.y] for p in msg.poses], dtype=np.float64)
    _check(f"{name} positions", xy, MAX_COORD)
    return msg.header.frame_id, xy


MIN_RESOLUTION = 0.01  # m: finer elevation maps do not exist for legged robots; a finer spacing is garbage


def detect_resolution(xy: np.ndarray) -> float:
    """Cell size of a cloud of cell centres: the smallest spacing between distinct x or y values."""
    steps = []
    for axis in (0, 1):
        values = np.sort(np.round(xy[:, axis], 6))
        gaps = np.diff(values)
        gaps = gaps[gaps > 0]
        if gaps.size:
            steps.append(float(gaps.min()))
    if not steps:
        raise MessageError("elevation cloud: cannot tell the cell size from a single cell (set map_resolution)")
    res = min(steps)
    if res < MIN_RESOLUTION:
        raise MessageError(f"elevation cloud: cell spacing {res:.3g} m is below {MIN_RESOLUTION} m")
    return round(res, 6)


def elevation_cloud_to_grid(msg: PointCloud2, resolution: float = 0.0, max_cells: int = 4_000_000) -> ElevationGrid:
    """Rasterise an elevation cloud (one point per cell: x, y = cell centre, z = height) onto a grid.

    ``resolution`` 0 takes the cell size from the cloud (``detect_resolution``).

    Points with a non-finite x or y, or an infinite z, make the whole message
    unusable (MessageError); NaN z marks an unknown cell. Several points in one
    cell keep the highest (the conservative choice for obstacles).
    """
    try:
        pts = pointcloud2_to_array(msg, ("x", "y", "z")).astype(np.float64)
    except PointCloudError as exc:
        raise MessageError(f"elevation cloud: {exc}") from exc
    if len(pts) == 0:
        raise MessageError("elevation cloud is empty")
    if not np.isfinite(pts[:, :2]).all():
        raise MessageError("elevation cloud has non-finite x or y")
    if np.isinf(pts[:, 2]).any():
        raise MessageError("elevation cloud has infinite heights (NaN marks unknown cells, Inf is invalid)")
    if np.abs(pts[:, :2]).max() > MAX_COORD or np.nanmax(np.abs(pts[:, 2]), initial=0.0) > MAX_COORD:
        raise MessageError(f"elevation cloud has coordinates beyond {MAX_COORD:g} m")
    if resolution <= 0:
        resolution = detect_resolution(pts[:, :2])
    lo = pts[:, :2].min(axis=0)
    idx = np.round((pts[:, :2] - lo) / resolution).astype(np.int64)  # [N, 2]
    shape = idx.max(axis=0) + 1
    if int(shape[0]) * int(shape[1]) > max_cells:
        raise MessageError(
            f"elevation cloud spans {shape[0]} x {shape[1]} cells of {resolution} m, more than map_max_cells={max_cells}"
        )
    heights = np.full(int(shape[0]) * int(shape[1]), -np.inf)
    z = np.where(np.isnan(pts[:, 2]), -np.inf, pts[:, 2])
    flat = idx[:, 0] * int(shape[1]) + idx[:, 1]
    if np.bincount(flat, minlength=heights.size).max() <= 1:  # one point per cell (the usual cloud): O(N)
        heights[flat] = z
    else:
        order = np.lexsort((z, flat))  # by cell, then height: the last write per cell is its highest point
        heights[flat[order]] = z[order]
    heights = heights.reshape(tuple(shape))
    heights[np.isneginf(heights)] = np.nan
    return ElevationGrid(
        stamp_to_sec(msg.header.stamp), msg.header.frame_id, heights.astype(np.float32), resolution, (lo[0], lo[1])
    )


def grid_to_elevation_cloud(
    heights: np.ndarray, origin: tuple[float, float], resolution: float, frame: str, t: float
) -> PointCloud2:
    """One point per cell (x, y = cell centre, z = height; NaN kept) of heights [H, W]."""
    H, W = heights.shape
    i, j = np.meshgrid(np.arange(H), np.arange(W), indexing="ij")
    pts = np.stack(
        [origin[0] + i.ravel() * resolution, origin[1] + j.ravel() * resolution, heights.ravel()], axis=-1
    ).astype(np.float32)
    return array_to_pointcloud2(pts, ("x", "y", "z"), header=Header(frame_id=frame, stamp=sec_to_stamp(t)))
