"""``manip_sim``: one manipulation task in MuJoCo as a ROS 2 node, the robot's stand-in for the manipulation stack.

Steps ``sim.manip_env.ManipEnv`` in 0.1 s ticks (as fast as rendering allows,
at most ``real_time_factor`` x real time; stamps are simulated time and
``/clock`` is published, so the other nodes run with ``use_sim_time``) and talks
like a cell with calibrated RGB-D cameras, a segmentation node and a
cartesian-controlled gripper:

- per camera ``cameraN``: ``cameraN/color/image_raw`` (rgb8),
  ``cameraN/depth/image_raw`` (32FC1, metres along the optical axis, 0 = no
  return), ``cameraN/mask/image_raw`` (mono8, 255 = object: the stand-in for a
  segmentation model's output) and ``cameraN/camera_info``; the extrinsics are
  the rig file's (``config/manip_cameras.yaml`` for the default rig: no tf2 here);
- ``gripper/pose`` (geometry_msgs/PoseStamped) and ``gripper/joint_states``
  (sensor_msgs/JointState, joint ``gripper``: 0 closed, 1 open) every tick;
- ``target_cloud`` (sensor_msgs/PointCloud2, transient local): the task's
  target shape;
- ``~/status`` (std_msgs/String, JSON): task, simulated time, Chamfer of the
  object to the target (the truth: the vertices), success, gripper state;
- subscribes ``gripper/target_pose`` (PoseStamped in ``frame_id``; the gripper
  moves towards it at most ``gripper_speed``; older than ``command_timeout``
  -> it holds) and ``gripper/command`` (JointState: close or open).

Parameters: ``ManipSimNodeCfg`` (``sim.manip_node_cfg``). The simulator never
imports rclpy; this file is the adapter.
"""

from __future__ import annotations

import json
import math
import time

import numpy as np
import torch
from geometry_msgs.msg import PoseStamped
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile
from sensor_msgs.msg import CameraInfo, Image, JointState, PointCloud2
from std_msgs.msg import Header, String

from dynamics_stack.pointsets import chamfer
from dynamics_stack.ros.image_convert import array_to_image, camera_info
from dynamics_stack.ros.manip_convert import gripper_closed, make_gripper_pose, make_gripper_state, pose_stamped_to_xyz
from dynamics_stack.ros.nav_convert import sec_to_stamp
from dynamics_stack.ros.nav_types import MessageError
from dynamics_stack.ros.node_params import declare_parameters, read_parameters
from dynamics_stack.ros.pointcloud import array_to_pointcloud2
from dynamics_stack.ros.spin import run_node
from sim.deformable_cameras import LABEL_OBJECT
from sim.deformable_script import DT
from sim.manip_env import ManipEnv
from sim.manip_node_cfg import ManipSimNodeCfg
from sim.manip_scenario import load_manip_scenario, manip_scenario_path


class ManipSimNode(Node):
    """See the module docstring."""

    def __init__(self, node_name: str = "manip_sim", **kwargs):
        super().__init__(node_name, **kwargs)
        declare_parameters(self, ManipSimNodeCfg)
        self.cfg = cfg = read_parameters(self, ManipSimNodeCfg)
        self.scenario = load_manip_scenario(manip_scenario_path(cfg.scenario))
        self.env = ManipEnv(self.scenario, render=cfg.render, noise_seed=cfg.seed)
        self.env.reset()
        reliable = QoSProfile(depth=5)
        latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self.cams = self.env.cameras
        self.pub_img = {
            (c.name, kind): self.create_publisher(Image, f"{c.name}/{kind}/image_raw", reliable)
            for c in self.cams
            for kind in ("color", "depth", "mask")
        }
        self.pub_info = {
            c.name: self.create_publisher(CameraInfo, f"{c.name}/camera_info", reliable) for c in self.cams
        }
        self.pub_pose = self.create_publisher(PoseStamped, "gripper/pose", reliable)
        self.pub_joint = self.create_publisher(JointState, "gripper/joint_states", reliable)
        self.pub_target = self.create_publisher(PointCloud2, "target_cloud", latched)
        self.pub_status = self.create_publisher(String, "~/status", 10)
        from rosgraph_msgs.msg import Clock

        self._clock_type = Clock
        self.pub_clock = self.create_publisher(Clock, "/clock", 10)
        self.create_subscription(PoseStamped, "gripper/target_pose", self._on_target, reliable)
        self.create_subscription(JointState, "gripper/command", self._on_command, reliable)
        self.target: np.ndarray | None = None
        self.target_t = -math.inf
        self.closed = False
        self.rejected = 0
        self.ticks = 0
        self.wall0 = time.monotonic()
        self.pub_target.publish(
            array_to_pointcloud2(self.env.target.astype(np.float32), ("x", "y", "z"), self._header())
        )
        self._publish(self.env.frames[-1])
        self.timer = self.create_timer(DT / cfg.real_time_factor / 4, self._tick)
        self.get_logger().info(
            f"task {self.scenario.name} ({self.scenario.object.category}, {len(self.cams)} cameras), "
            f"Chamfer to target {self._chamfer():.3f} m"
        )

    def _header(self, frame: str | None = None) -> Header:
        return Header(frame_id=frame if frame is not None else self.cfg.frame_id, stamp=sec_to_stamp(self.env.t))

    # --- inputs -------------------------------------------------------------------------------------
    def _on_target(self, msg: PoseStamped) -> None:
        try:
            frame, xyz = pose_stamped_to_xyz(msg, "gripper/target_pose")
        except MessageError as exc:
            self.rejected += 1
            self.get_logger().warning(f"gripper/target_pose rejected: {exc}", throttle_duration_sec=1.0)
            return
        if frame and frame != self.cfg.frame_id:
            self.rejected += 1
            self.get_logger().warning(f"gripper/target_pose in frame {frame!r} ignored: expected {self.cfg.frame_id!r}")
            return
        self.target, self.target_t = xyz, self.env.t

    def _on_command(self, msg: JointState) -> None:
        try:
            self.closed = gripper_closed(msg)
        except MessageError as exc:
            self.rejected += 1
            self.get_logger().warning(f"gripper/command rejected: {exc}", throttle_duration_sec=1.0)

    # --- stepping -----------------------------------------------------------------------------------
    def _tick(self) -> None:
        due = (time.monotonic() - self.wall0) * self.cfg.real_time_factor / DT
        if self.ticks >= due:
            return  # ahead of real time x factor
        fresh = self.env.t - self.target_t <= self.cfg.command_timeout
        frame = self.env.tick(self.target if fresh else None, self.closed, self.cfg.gripper_speed * DT)
        self.ticks += 1
        self._publish(frame)

    def _publish(self, frame) -> None:
        self.pub_clock.publish(self._clock_type(clock=sec_to_stamp(self.env.t)))
        for i, cam in enumerate(self.cams):
            header = self._header(f"{cam.name}_optical_frame")
            self.pub_info[cam.name].publish(camera_info(cam, header))
            self.pub_img[(cam.name, "color")].publish(array_to_image(frame.rgb[i], "rgb8", header))
            self.pub_img[(cam.name, "depth")].publish(array_to_image(frame.depth[i], "32FC1", header))
            mask = np.where(frame.labels[i] == LABEL_OBJECT, 255, 0).astype(np.uint8)
            self.pub_img[(cam.name, "mask")].publish(array_to_image(mask, "mono8", header))
        self.pub_pose.publish(make_gripper_pose(self.cfg.frame_id, self.env.t, frame.gripper))
        self.pub_joint.publish(make_gripper_state(self.env.t, frame.closed))
        chamfer = self._chamfer()
        status = {
            "task": self.scenario.name,
            "t": round(self.env.t, 2),
            "chamfer": round(chamfer, 5),
            "success": chamfer <= self.scenario.success.chamfer,
            "closed": frame.closed,
            "gripper": np.round(frame.gripper, 4).tolist(),
            "rejected": self.rejected,
            "stable": self.env.stable(),
        }
        self.pub_status.publish(String(data=json.dumps(status)))

    def _chamfer(self) -> float:
        v = torch.from_numpy(self.env.vertices.astype(np.float64))
        return float(chamfer(v, torch.from_numpy(self.env.target)))

    def on_exit(self) -> None:
        self.env.close()


def main(args: list[str] | None = None) -> None:
    run_node(ManipSimNode, args)


if __name__ == "__main__":
    main()
