"""Manipulation messages <-> numpy: gripper poses (PoseStamped) and gripper opening (JointState).

The gripper's interface is what a cartesian-controller or MoveIt Servo user
recognises: a ``geometry_msgs/PoseStamped`` target for the end effector
(cartesian_controllers' ``target_frame`` topic takes exactly this) and a
``sensor_msgs/JointState`` with one joint, ``GRIPPER_JOINT``, whose position is
the opening (0 closed, 1 open), as a parallel gripper's joint state reads.
Readers check what a controller must not trust (non-finite or absurd
numbers, a wrong joint name) and raise ``MessageError`` naming the field.
"""

from __future__ import annotations

import numpy as np
from geometry_msgs.msg import PoseStamped
from sensor_msgs.msg import JointState
from std_msgs.msg import Header

from dynamics_stack.ros.nav_convert import MAX_COORD, _check, _unit_quaternion, sec_to_stamp
from dynamics_stack.ros.nav_types import MessageError

GRIPPER_JOINT = "gripper"


def pose_stamped_to_xyz(msg: PoseStamped, name: str = "pose") -> tuple[str, np.ndarray]:
    """(frame, [x, y, z]) of a PoseStamped; the orientation must be a unit quaternion (it is not used)."""
    p = msg.pose.position
    xyz = np.array([p.x, p.y, p.z], dtype=np.float64)
    _check(f"{name} position", xyz, MAX_COORD)
    _unit_quaternion(f"{name} orientation", msg.pose.orientation)
    return msg.header.frame_id, xyz


def make_gripper_pose(frame: str, t: float, xyz: np.ndarray) -> PoseStamped:
    """A PoseStamped at ``xyz`` (m) with the identity orientation (the gripper points down)."""
    msg = PoseStamped()
    msg.header = Header(frame_id=frame, stamp=sec_to_stamp(t))
    msg.pose.position.x, msg.pose.position.y, msg.pose.position.z = (float(v) for v in xyz)
    msg.pose.orientation.w = 1.0
    return msg


def make_gripper_state(t: float, closed: bool) -> JointState:
    msg = JointState()
    msg.header = Header(stamp=sec_to_stamp(t))
    msg.name = [GRIPPER_JOINT]
    msg.position = [0.0 if closed else 1.0]
    return msg


def gripper_closed(msg: JointState) -> bool:
    """Whether a gripper JointState says closed (opening below one half)."""
    if GRIPPER_JOINT not in msg.name:
        raise MessageError(f"gripper joint state lacks the joint {GRIPPER_JOINT!r} (has {list(msg.name)})")
    i = list(msg.name).index(GRIPPER_JOINT)
    if i >= len(msg.position):
        raise MessageError("gripper joint state has no position for its joint")
    value = float(msg.position[i])
    _check("gripper opening", np.array([value]), 10.0)
    return value < 0.5
