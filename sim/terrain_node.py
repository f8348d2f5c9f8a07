"""``terrain_sim``: one scenario of the embedded terrain simulator as a ROS 2 node (the robot's stand-in).

Steps ``sim.terrain_sim.TerrainSim`` (one robot, 0.02 s physics) in real time
times ``real_time_factor``, and talks like a robot with an elevation mapper:

- publishes ``odometry`` (nav_msgs/Odometry: pose in ``odom_frame`` with z =
  base height and roll/pitch/yaw, twist in ``base_frame``) after every
  physics batch, ``elevation_map`` (sensor_msgs/PointCloud2, one point per
  cell: x, y, z = ground height, a ``map_size`` m square around the robot) at
  ``map_rate``, ``~/footprint`` (visualization_msgs/MarkerArray: body box,
  goal) and ``~/status`` (std_msgs/String, JSON: time, pose, failed, cause,
  distance to goal) at ``map_rate``, and ``/clock`` when ``publish_clock``
  (stamps are then simulated time; run the planner with use_sim_time);
- subscribes ``cmd_vel`` (Twist, or TwistStamped with ``cmd_vel_stamped``);
  a command older than ``cmd_timeout`` s is replaced by zero (the role of
  diff_drive_controller's timeout);
- on ``goal_pose`` it publishes ``route`` (nav_msgs/Path, transient local):
  the geometric route of ``sim.route`` over its own map, the global-planner
  role the benchmark gives both planners;
- with ``record`` set it writes every message it publishes and every
  command it receives into a rosbag2 (``record_storage`` mcap or sqlite3),
  the input of ``dynstack nav import-bag``.

Parameters: ``TerrainSimNodeCfg`` (``sim.terrain_node_cfg``). The simulator
core never imports rclpy; this file is the adapter.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

import numpy as np
import torch
from geometry_msgs.msg import PoseStamped, Twist, TwistStamped
from nav_msgs.msg import Odometry
from nav_msgs.msg import Path as PathMsg
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile
from sensor_msgs.msg import PointCloud2
from std_msgs.msg import ColorRGBA, Header, String
from visualization_msgs.msg import Marker, MarkerArray

from dynamics_stack.ros.nav_convert import (
    MessageError,
    grid_to_elevation_cloud,
    make_odometry,
    make_path,
    make_pose_stamped,
    pose_stamped_to_xyyaw,
    quaternion_from_rpy,
    sec_to_stamp,
    twist_to_array,
)
from dynamics_stack.ros.node_params import declare_parameters, read_parameters
from dynamics_stack.ros.spin import run_node
from dynamics_stack.ros.stamps import now_sec
from fdm_nav.runner_contract import CLOCK, CMD_VEL, ELEVATION_MAP, GOAL_POSE, ODOMETRY
from sim.platform import load_platform
from sim.route import route_or_line
from sim.scenario import load_scenario, make_sim, scenario_path
from sim.terrain_node_cfg import TerrainSimNodeCfg
from sim.terrain_sim import FAILURE_CAUSES


class TerrainSimNode(Node):
    """See the module docstring."""

    def __init__(self, node_name: str = "terrain_sim", **kwargs):
        super().__init__(node_name, **kwargs)
        declare_parameters(self, TerrainSimNodeCfg)
        self.cfg = cfg = read_parameters(self, TerrainSimNodeCfg)
        self.scenario = load_scenario(scenario_path(cfg.scenario))
        self.sim = make_sim(self.scenario, 1, seed=cfg.seed)
        self.goal_xy = np.array([self.scenario.goal.x, self.scenario.goal.y])
        self.use_sim_time_stamps = cfg.publish_clock
        reliable = QoSProfile(depth=10)
        latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
        # Topic names, types and frames are the runner contract's (fdm_nav.runner_contract), shared with the Isaac runner.
        self.pub_odom = self.create_publisher(Odometry, ODOMETRY.name, reliable)
        self.pub_map = self.create_publisher(PointCloud2, ELEVATION_MAP.name, reliable)
        self.pub_footprint = self.create_publisher(MarkerArray, "~/footprint", 1)
        self.pub_status = self.create_publisher(String, "~/status", 10)
        self.pub_route = self.create_publisher(PathMsg, "route", latched)
        self.pub_goal = self.create_publisher(PoseStamped, GOAL_POSE.name, QoSProfile(depth=1))
        self.pub_clock = None
        if cfg.publish_clock:
            from rosgraph_msgs.msg import Clock

            self._clock_type = Clock
            self.pub_clock = self.create_publisher(Clock, CLOCK.name, 10)
        cmd_type = TwistStamped if cfg.cmd_vel_stamped else Twist
        self.create_subscription(cmd_type, CMD_VEL.name, self._on_cmd, reliable)
        self.create_subscription(PoseStamped, GOAL_POSE.name, self._on_goal, QoSProfile(depth=1))
        self.bag = None
        if cfg.record:
            from dynamics_stack.ros.bag import BagWriter

            self.bag = BagWriter(cfg.record, cfg.record_storage)
        self.cmd = np.zeros(3)
        self.cmd_sim_t = -math.inf  # simulated time the command arrived
        self.rejected = 0
        self.steps = 0
        self.next_map_t = 0.0
        self.goal_sent = False
        self.wall0 = time.monotonic()
        self.stamp0 = now_sec(self)
        self.timer = self.create_timer(self.sim.dt / cfg.real_time_factor, self._step)
        self._publish_outputs(force_map=True)
        self.get_logger().info(
            f"simulating {self.scenario.name} ({self.scenario.terrain.type}) at x{cfg.real_time_factor:g}"
        )

    # ------------------------------------------------------------------ time

    def stamp(self) -> float:
        """Stamp of what is published now: simulated time with /clock, the node's clock otherwise."""
        return self.sim.time if self.use_sim_time_stamps else now_sec(self)

    def _record(self, topic: str, msg: Any) -> None:
        if self.bag is not None:
            self.bag.write(self.resolve_topic_name(topic), msg, int(self.stamp() * 1e9))

    # ------------------------------------------------------------------ inputs

    def _on_cmd(self, msg) -> None:
        try:
            cmd = twist_to_array(msg)
        except MessageError as exc:
            self.rejected += 1
            self.get_logger().warning(f"cmd_vel rejected: {exc}", throttle_duration_sec=1.0)
            return
        self.cmd, self.cmd_sim_t = cmd, self.sim.time
        self._record(CMD_VEL.name, msg)

    def _on_goal(self, msg: PoseStamped) -> None:
        try:
            frame, goal = pose_stamped_to_xyyaw(msg)
        except MessageError as exc:
            self.get_logger().warning(f"goal_pose rejected: {exc}")
            return
        if frame and frame != self.cfg.odom_frame:
            self.get_logger().warning(
                f"goal_pose in frame '{frame}' ignored: the simulator's frame is '{self.cfg.odom_frame}'"
            )
            return
        self.goal_xy = goal[:2]
        if not self.cfg.publish_route:
            return
        start = tuple(float(v) for v in self.sim.poses[0, :2])
        route = route_or_line(self.sim.height_map, load_platform(self.scenario.platform), start, tuple(goal[:2]))
        poses = np.concatenate([route, np.zeros((len(route), 1))], axis=1)
        self.pub_route.publish(make_path(poses, self.cfg.odom_frame, self.stamp()))

    # ------------------------------------------------------------------ stepping

    def _step(self) -> None:
        due = int((time.monotonic() - self.wall0) * self.cfg.real_time_factor / self.sim.dt) - self.steps
        if due > 10:  # fell behind (a slow callback): drop the lag instead of bursting through it
            self.wall0 += (due - 1) * self.sim.dt / self.cfg.real_time_factor
            due = 1
        if due <= 0:
            return
        for _ in range(due):
            fresh = self.sim.time - self.cmd_sim_t <= self.cfg.cmd_timeout
            cmd = torch.as_tensor(self.cmd if fresh else np.zeros(3), dtype=torch.float32)[None]
            self.sim.step(cmd)
            self.steps += 1
        self._publish_outputs()

    def _publish_outputs(self, force_map: bool = False) -> None:
        t = self.stamp()
        if self.pub_clock is not None:
            self.pub_clock.publish(self._clock_type(clock=sec_to_stamp(self.sim.time)))
        sim, cfg = self.sim, self.cfg
        pose = sim.poses[0].tolist()
        p = sim.proprio()[0].tolist()
        tilt = sim.tilt[0].tolist()
        odom = make_odometry(
            cfg.odom_frame,
            cfg.base_frame,
            t,
            (pose[0], pose[1], float(sim.z_base[0])),
            (tilt[0], tilt[1], pose[2]),
            p[0:3],
            p[3:6],
        )
        self.pub_odom.publish(odom)
        self._record(ODOMETRY.name, odom)
        # Scheduled on the stamp clock (wall time, or simulated time with /clock): a simulator that falls behind
        # real time on a busy machine still sends maps at map_rate by the clock the planner checks ages with.
        if not force_map and t + 1e-9 < self.next_map_t:
            return
        self.next_map_t = t + 1.0 / cfg.map_rate
        cloud = self._map_cloud(pose, t)
        self.pub_map.publish(cloud)
        self._record(ELEVATION_MAP.name, cloud)
        self._publish_footprint(pose, t)
        status = String(data=json.dumps(self.status()))
        self.pub_status.publish(status)
        self._record("~/status", status)
        if cfg.publish_goal and not self.goal_sent and sim.time >= cfg.goal_delay:
            self.goal_sent = True
            self.pub_goal.publish(make_pose_stamped(cfg.odom_frame, t, self.scenario.goal.x, self.scenario.goal.y))

    def status(self) -> dict[str, Any]:
        sim = self.sim
        pose = sim.poses[0].tolist()
        return {
            "t": round(sim.time, 3),
            "pose": [round(v, 4) for v in pose],
            "failed": bool(sim.failed[0]),
            "cause": FAILURE_CAUSES[int(sim.failure_cause[0])],
            "distance_to_goal": round(math.hypot(pose[0] - self.goal_xy[0], pose[1] - self.goal_xy[1]), 3),
            "rejected_commands": self.rejected,
        }

    def _map_cloud(self, pose: list[float], t: float) -> PointCloud2:
        hm = self.sim.height_map
        heights, origin = hm.window(pose[0], pose[1], self.cfg.map_size)
        return grid_to_elevation_cloud(heights, origin, hm.resolution, self.cfg.odom_frame, t)

    def _publish_footprint(self, pose: list[float], t: float) -> None:
        p = self.sim.platform
        header = Header(frame_id=self.cfg.odom_frame, stamp=sec_to_stamp(t))
        body = Marker(header=header, ns="footprint", id=0, type=Marker.CUBE, action=Marker.ADD)
        body.pose.position.x, body.pose.position.y = pose[0], pose[1]
        body.pose.position.z = float(self.sim.z_base[0])
        body.pose.orientation = quaternion_from_rpy(*self.sim.tilt[0].tolist(), pose[2])
        body.scale.x, body.scale.y, body.scale.z = p.length, p.width, 0.25
        failed = bool(self.sim.failed[0])
        body.color = ColorRGBA(r=1.0, g=0.1, b=0.1, a=0.8) if failed else ColorRGBA(r=0.2, g=0.4, b=1.0, a=0.8)
        goal = Marker(header=header, ns="footprint", id=1, type=Marker.CYLINDER, action=Marker.ADD)
        goal.pose.position.x, goal.pose.position.y = float(self.goal_xy[0]), float(self.goal_xy[1])
        goal.pose.orientation.w = 1.0
        d = 2 * self.scenario.goal.tolerance
        goal.scale.x, goal.scale.y, goal.scale.z = d, d, 0.05
        goal.color = ColorRGBA(r=0.1, g=0.9, b=0.1, a=0.5)
        self.pub_footprint.publish(MarkerArray(markers=[body, goal]))

    def on_exit(self) -> None:
        """Process exit: the recording is closed (a rosbag2 is valid only after that)."""
        if self.bag is not None:
            self.bag.close()
            self.get_logger().info(f"recorded {self.bag.count} messages into {self.bag.path}")
            self.bag = None


def main(args: list[str] | None = None) -> None:
    """Entry point of the ``terrain_sim`` executable."""
    run_node(TerrainSimNode, args)


if __name__ == "__main__":
    main()
