"""The two cobots (7-joint Franka Panda, 6-joint UR5) as pinocchio models, and their symbolic joint maps.

URDFs come from the example-robot-data wheel (``cmeel.prefix/share/example-robot-data/robots``;
BSD-3, kinematics from the makers' descriptions). Only kinematics are built (no meshes).
Joint position and velocity limits are the URDF's; the URDFs give no acceleration
limits, so ``RobotSpec.max_acceleration`` holds the maker's documented ones (sources
beside the numbers and in docs/references.md).

A joint map row ``(robot joint, human joint, scale)`` says: this robot joint
plays the role of that human joint (see ``visual_irl.human_arm``); its mapped
value is ``home + scale * (q_human - q_human_rest)``, so the human's rest
posture maps onto the robot's home posture. Robot joints without a human
counterpart (the wrists: the keypoints carry no hand orientation) keep their
home value as posture target.
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pinocchio as pin


@dataclass(frozen=True)
class RobotSpec:
    """How to build one cobot and map a human arm onto it."""

    name: str
    urdf: str  # relative to example-robot-data's robots/ folder
    ee_frame: str
    home: tuple[float, ...]
    joint_map: tuple[tuple[str, str, float], ...]  # (robot joint, human joint, scale)
    max_acceleration: tuple[float, ...]  # rad/s^2 per arm joint (the URDF has none; source at each robot)
    shoulder_joint: str = ""  # the joint whose origin plays the human shoulder
    locked: tuple[str, ...] = ()  # joints fixed at 0 (grippers)


ROBOTS = {
    "panda": RobotSpec(
        name="panda",
        urdf="panda_description/urdf/panda.urdf",
        ee_frame="panda_hand_tcp",
        # Franka's "ready" pose (franka_ros / libfranka examples)
        home=(0.0, -0.785, 0.0, -2.356, 0.0, 1.571, 0.785),
        joint_map=(
            ("panda_joint1", "shoulder_adduction", 1.0),  # base yaw swings the arm across the body
            ("panda_joint2", "shoulder_flexion", -1.0),  # from the forward-down rest, raising means pitching back
            ("panda_joint3", "humeral_rotation", 1.0),  # upper-arm roll
            ("panda_joint4", "elbow_flexion", -1.0),  # Panda's elbow bends with negative angles
        ),
        # Franka Control Interface limits, libfranka include/franka/rate_limiting.h kMaxJointAcceleration
        max_acceleration=(15.0, 7.5, 10.0, 12.5, 15.0, 20.0, 20.0),
        shoulder_joint="panda_joint2",
        locked=("panda_finger_joint1", "panda_finger_joint2"),
    ),
    "ur5": RobotSpec(
        name="ur5",
        urdf="ur_description/urdf/ur5_joint_limited_robot.urdf",
        ee_frame="tool0",
        # UR's common "elbow up, tool down" pose
        home=(0.0, -1.571, 1.571, -1.571, -1.571, 0.0),
        joint_map=(
            ("shoulder_pan_joint", "shoulder_adduction", 1.0),
            ("shoulder_lift_joint", "shoulder_flexion", -1.0),  # UR lifts with negative angles
            ("elbow_joint", "elbow_flexion", 1.0),
        ),
        # UR gives no joint acceleration limit (only torques); Universal Robots' ROS 2 MoveIt config
        # (ur_moveit_config/config/joint_limits.yaml) sets 5 rad/s^2 on every joint, "chosen conservatively"
        max_acceleration=(5.0,) * 6,
        shoulder_joint="shoulder_lift_joint",
    ),
}


def robots_dir() -> Path:
    """Where example-robot-data installed its robots."""
    try:
        dist = importlib.metadata.distribution("example-robot-data")
    except importlib.metadata.PackageNotFoundError as exc:
        raise FileNotFoundError("example-robot-data is not installed (pip install example-robot-data)") from exc
    path = Path(dist.locate_file("cmeel.prefix/share/example-robot-data/robots"))
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: example-robot-data robots folder not found")
    return path


@dataclass
class Robot:
    """A pinocchio model reduced to the arm joints, with limits and home."""

    spec: RobotSpec
    model: pin.Model
    data: pin.Data
    ee: int  # frame id
    lower: np.ndarray
    upper: np.ndarray
    home: np.ndarray
    joint_names: tuple[str, ...]
    velocity: np.ndarray  # [nq] rad/s, the URDF's <limit velocity>
    acceleration: np.ndarray  # [nq] rad/s^2, RobotSpec.max_acceleration

    def fk(self, q: np.ndarray) -> np.ndarray:
        """End-effector position [3] (base frame)."""
        pin.framesForwardKinematics(self.model, self.data, q)
        return self.data.oMf[self.ee].translation.copy()

    def shoulder(self) -> np.ndarray:
        """Origin of the shoulder joint [3] (base frame; fixed for both robots: it precedes no moving joint
        but the base yaw, which turns about it)."""
        pin.forwardKinematics(self.model, self.data, self.home)
        return self.data.oMi[self.model.getJointId(self.spec.shoulder_joint)].translation.copy()

    def jacobian(self, q: np.ndarray) -> np.ndarray:
        """Positional Jacobian [3, nq] in the base-aligned frame (after ``fk`` at q)."""
        J = pin.computeFrameJacobian(self.model, self.data, q, self.ee, pin.ReferenceFrame.LOCAL_WORLD_ALIGNED)
        return J[:3]


def load_robot(name: str) -> Robot:
    if name not in ROBOTS:
        raise ValueError(f"unknown robot {name!r}; known: {sorted(ROBOTS)}")
    spec = ROBOTS[name]
    urdf = robots_dir() / spec.urdf
    if not urdf.is_file():
        raise FileNotFoundError(f"{urdf}: URDF of {name} not found")
    model = pin.buildModelFromUrdf(str(urdf))
    if spec.locked:
        ids = [model.getJointId(j) for j in spec.locked]
        model = pin.buildReducedModel(model, ids, pin.neutral(model))
    names = tuple(model.names[i] for i in range(1, model.njoints))
    if len(spec.home) != model.nq:
        raise ValueError(f"{name}: home has {len(spec.home)} values for {model.nq} joints")
    if not model.existFrame(spec.ee_frame):
        raise ValueError(f"{name}: no frame {spec.ee_frame!r} in {urdf}")
    velocity, acceleration = model.velocityLimit.copy(), np.array(spec.max_acceleration)
    if len(acceleration) != model.nq:
        raise ValueError(f"{name}: max_acceleration has {len(acceleration)} values for {model.nq} joints")
    if not (np.all(np.isfinite(velocity)) and np.all(velocity > 0)):
        raise ValueError(f"{name}: {urdf} lacks a finite positive velocity limit on some joint")
    return Robot(
        spec=spec,
        model=model,
        data=model.createData(),
        ee=model.getFrameId(spec.ee_frame),
        lower=model.lowerPositionLimit.copy(),
        upper=model.upperPositionLimit.copy(),
        home=np.array(spec.home),
        joint_names=names,
        velocity=velocity,
        acceleration=acceleration,
    )
