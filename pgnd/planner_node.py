"""``pgnd_planner``: the lifecycle ROS 2 node that plans gripper motions with PGND to bring an object to a target shape.

An adapter: messages -> numbers -> ``pgnd.manip_cycle.ManipCycle`` (observe,
plan on a worker thread with ``pgnd.planner.ManipPlanner``, stream waypoints,
settle; every decision with its reason) -> messages
(``pgnd.manip_markers`` for rviz). Parameters: ``ManipPlannerNodeCfg``
(``pgnd.planner_node_cfg``).

- subscribes ``object/particles`` (PointCloud2 x, y, z in ``frame_id``: the
  perception's tracked particles, as many as the model's card says),
  ``gripper/pose`` (PoseStamped), ``gripper/joint_states`` (JointState, joint
  ``gripper``), ``target_cloud`` (PointCloud2, transient local; or the
  ``target_file`` parameter) and ``object/splats`` (optional, from the
  perception: a splat set fitted to a frame, to render predictions);
- publishes ``gripper/target_pose`` (PoseStamped) and ``gripper/command``
  (JointState: 0 closed, 1 open) at ``control_rate`` while active,
  ``perception/reset`` (Empty, before each observation), ``~/predicted_cloud``
  (PointCloud2: the settled object the plan predicts), ``~/plan``
  (MarkerArray), ``~/render`` (Image: the predicted object rendered with the
  splats from ``render_camera``, when splats exist), ``~/status`` (JSON: state,
  reason, actions, Chamfer, plan time, clamped points, dropped messages) and
  ``/diagnostics`` (1 Hz).

Safety: a message with non-finite or absurd numbers, the wrong particle
count or another frame is dropped and counted; stale input holds the gripper
where it is, open or closed as it is (nothing is released mid-air); the
gripper limits (``ManipPlannerCfg.limits``) are applied to every target
last. Lifecycle: deactivation and process exit send one last hold.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import rclpy
import torch
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseStamped
from rclpy.duration import Duration
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.qos import DurabilityPolicy, QoSProfile
from sensor_msgs.msg import Image, JointState, PointCloud2
from std_msgs.msg import Empty, Header, String
from visualization_msgs.msg import MarkerArray

from dynamics_stack.camera import load_rig
from dynamics_stack.checkpoint import ModelFileError
from dynamics_stack.config import ConfigError
from dynamics_stack.paths import resolve_package_file
from dynamics_stack.ros.diagnostics import diagnostics
from dynamics_stack.ros.image_convert import array_to_image
from dynamics_stack.ros.manip_convert import gripper_closed, make_gripper_pose, make_gripper_state, pose_stamped_to_xyz
from dynamics_stack.ros.nav_convert import sec_to_stamp
from dynamics_stack.ros.nav_types import MessageError
from dynamics_stack.ros.node_params import declare_parameters, read_parameters
from dynamics_stack.ros.pointcloud import PointCloudError, array_to_pointcloud2, pointcloud2_to_array
from dynamics_stack.ros.spin import run_node
from dynamics_stack.ros.stamps import now_sec, stamp_to_sec
from dynamics_stack.runtime import TorchRuntime, load_card
from pgnd.manip_cycle import Command, ManipCycle, ThreadPlanRunner
from pgnd.manip_markers import plan_markers
from pgnd.planner import ManipPlanner
from pgnd.planner_node_cfg import ManipPlannerNodeCfg
from pgnd.splats.gaussians import CLOUD_FIELDS, gaussians_from_array

SETUP_ERRORS = (ConfigError, ValueError, TypeError, OSError, ModelFileError)
MAX_COORD = 10.0  # m: a manipulation cell is a metre or two across; a particle beyond this is garbage
HEALTHY = ("idle", "observing", "planning", "executing", "settling", "done")


def load_target(path: Path) -> np.ndarray:
    """A target cloud [M, 3] from a .npy file; a clear error for anything else."""
    if path.suffix != ".npy":
        raise ConfigError(
            f"{path}: target_file must be a .npy cloud (write a task's with `dynstack manip export-target`)"
        )
    try:
        cloud = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot read the target cloud: {exc}") from exc
    if cloud.ndim != 2 or cloud.shape[1] != 3 or len(cloud) < 3 or not np.isfinite(cloud).all():
        raise ConfigError(f"{path}: target must be a finite [M >= 3, 3] array, got {cloud.shape}")
    return cloud.astype(np.float64)


class ManipPlannerNode(LifecycleNode):
    """See the module docstring."""

    def __init__(self, node_name: str = "pgnd_planner", **kwargs):
        super().__init__(node_name, **kwargs)
        declare_parameters(self, ManipPlannerNodeCfg)
        self.cfg: ManipPlannerNodeCfg | None = None
        self.cycle: ManipCycle | None = None
        self.planner: ManipPlanner | None = None
        self.dropped: Counter[str] = Counter()
        self._pubs: dict[str, Any] = {}
        self._subs: list[Any] = []
        self._timer = self._diag_timer = None
        self._active = False
        self._lock = threading.Lock()
        self._last_plan = None
        self._last_cmd: Command | None = None
        self._splats = None  # (stamp, Gaussians) waiting for its particles
        self._skin = None  # (Gaussians, Skin) bound to the particles of the splats' frame
        self._rig = None

    # ------------------------------------------------------------------ lifecycle
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            cfg = read_parameters(self, ManipPlannerNodeCfg)
            model = TorchRuntime(load_card(resolve_package_file(cfg.model))).model
            if abs(cfg.control_rate * model.cfg.dt - 1.0) > 1e-6:
                raise ConfigError(
                    f"control_rate {cfg.control_rate:g} Hz does not match the model's step {model.cfg.dt:g} s "
                    f"({cfg.model}): waypoints would not be 0.1 s apart as the model predicts them"
                )
            if cfg.threads:
                torch.set_num_threads(cfg.threads)
            planner = ManipPlanner(model, cfg.planner, device=cfg.device)
            target = load_target(resolve_package_file(cfg.target_file)) if cfg.target_file else None
            self._rig = {c.name: c for c in load_rig(resolve_package_file(cfg.camera_rig))}
            if cfg.render_camera and cfg.render_camera not in self._rig:
                raise ConfigError(f"render_camera {cfg.render_camera!r} is not in {cfg.camera_rig}")
        except SETUP_ERRORS as exc:
            self.get_logger().error(f"configure failed: {exc}")
            return TransitionCallbackReturn.FAILURE
        self.cfg, self.planner = cfg, planner
        self.cycle = ManipCycle(cfg.cycle, ThreadPlanRunner(planner.plan), cfg.planner.limits, model.cfg.history)
        self.particles = model.cfg.num_particles
        if target is not None:
            self.cycle.set_target(target, now=now_sec(self))
        self._pubs = {
            "target_pose": self.create_lifecycle_publisher(PoseStamped, "gripper/target_pose", 10),
            "command": self.create_lifecycle_publisher(JointState, "gripper/command", 10),
            "predicted": self.create_lifecycle_publisher(PointCloud2, "~/predicted_cloud", 1),
            "plan": self.create_lifecycle_publisher(MarkerArray, "~/plan", 1),
            "render": self.create_lifecycle_publisher(Image, "~/render", 1),
            "status": self.create_lifecycle_publisher(String, "~/status", 10),
            "diagnostics": self.create_lifecycle_publisher(DiagnosticArray, "/diagnostics", 10),
            "reset": self.create_lifecycle_publisher(Empty, "perception/reset", 10),
        }
        latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self._subs = [
            self.create_subscription(PointCloud2, "object/particles", self._on_particles, 5),
            self.create_subscription(PoseStamped, "gripper/pose", self._on_gripper_pose, 10),
            self.create_subscription(JointState, "gripper/joint_states", self._on_gripper_state, 10),
            self.create_subscription(PointCloud2, "target_cloud", self._on_target, latched),
            self.create_subscription(PointCloud2, "object/splats", self._on_splats, 1),
        ]
        self._closed = False
        self.get_logger().info(
            f"configured: {cfg.model} ({self.particles} particles), K={cfg.planner.samples}, T={cfg.planner.horizon}, "
            f"{cfg.planner.iterations} iterations"
        )
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        ret = super().on_activate(state)
        self._active = True
        self._timer = self.create_timer(1.0 / self.cfg.control_rate, self._on_timer)
        self._diag_timer = self.create_timer(1.0, self._publish_diagnostics)
        return ret

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._hold_and_stop("deactivated")
        return super().on_deactivate(state)

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        if self._active:
            self._hold_and_stop("shutdown")
        return super().on_shutdown(state)

    def on_exit(self) -> None:
        """Process exit (Ctrl-C, SIGTERM): one last hold if active, delivered before the process ends."""
        if self._active and rclpy.ok(context=self.context):
            self._hold_and_stop("shutdown")
            self._pubs["target_pose"].wait_for_all_acked(Duration(seconds=1.0))
        if self.cycle is not None:
            self.cycle.runner.shutdown()

    def _hold_and_stop(self, why: str) -> None:
        """Send one hold (the gripper where it is, as it is) while still active, then stop the cycle."""
        with self._lock:
            if self._active and self.cycle is not None:
                cmd = self.cycle.hold(why, "inactive")
                self._send(cmd)
            self._active = False
        for timer in (self._timer, self._diag_timer):
            if timer is not None:
                timer.cancel()
                self.destroy_timer(timer)
        self._timer = self._diag_timer = None

    # ------------------------------------------------------------------ inputs
    def _drop(self, name: str, exc: Exception | str) -> None:
        self.dropped[name] += 1
        self.get_logger().warning(f"{name} dropped: {exc}", throttle_duration_sec=1.0)

    def _cloud(self, msg: PointCloud2, name: str) -> np.ndarray | None:
        if msg.header.frame_id and msg.header.frame_id != self.cfg.frame_id:
            self._drop(name, f"frame {msg.header.frame_id!r}, expected {self.cfg.frame_id!r}")
            return None
        try:
            pts = pointcloud2_to_array(msg, ("x", "y", "z")).astype(np.float64)
        except PointCloudError as exc:
            self._drop(name, exc)
            return None
        if len(pts) == 0 or not np.isfinite(pts).all() or np.abs(pts).max() > MAX_COORD:
            self._drop(name, f"{len(pts)} points, empty, non-finite or beyond {MAX_COORD} m")
            return None
        return pts

    def _on_particles(self, msg: PointCloud2) -> None:
        pts = self._cloud(msg, "object/particles")
        if pts is None:
            return
        if len(pts) != self.particles:
            self._drop("object/particles", f"{len(pts)} particles, the model expects {self.particles}")
            return
        stamp = stamp_to_sec(msg.header.stamp)
        self.cycle.add_cloud(stamp, pts)
        if self._splats is not None and abs(self._splats[0] - stamp) < 1e-6:
            from pgnd.splats.skinning import bind

            splats = self._splats[1]
            self._skin = (splats, bind(splats, torch.from_numpy(pts).float()))
            self._splats = None

    def _on_gripper_pose(self, msg: PoseStamped) -> None:
        try:
            frame, xyz = pose_stamped_to_xyz(msg, "gripper/pose")
        except MessageError as exc:
            self._drop("gripper/pose", exc)
            return
        if frame and frame != self.cfg.frame_id:
            self._drop("gripper/pose", f"frame {frame!r}, expected {self.cfg.frame_id!r}")
            return
        self.cycle.set_gripper(stamp_to_sec(msg.header.stamp), xyz, self._closed)

    def _on_gripper_state(self, msg: JointState) -> None:
        try:
            self._closed = gripper_closed(msg)
        except MessageError as exc:
            self._drop("gripper/joint_states", exc)

    def _on_target(self, msg: PointCloud2) -> None:
        pts = self._cloud(msg, "target_cloud")
        if pts is None or len(pts) < 3:
            return
        if self.cfg.target_file:
            self.get_logger().warning("target_cloud ignored: target_file is set")
            return
        self.cycle.set_target(pts, now=now_sec(self))
        self.get_logger().info(f"new target: {len(pts)} points")

    def _on_splats(self, msg: PointCloud2) -> None:
        try:
            table = pointcloud2_to_array(msg, CLOUD_FIELDS)
            splats = gaussians_from_array(table)
        except (PointCloudError, ValueError) as exc:
            self._drop("object/splats", exc)
            return
        self._splats = (stamp_to_sec(msg.header.stamp), splats)

    # ------------------------------------------------------------------ the cycle
    def _on_timer(self) -> None:
        with self._lock:
            if not self._active:
                return
            cmd = self.cycle.tick(now_sec(self))
            if self.cycle.reset_requested:
                self._pubs["reset"].publish(Empty())
                self.cycle.reset_requested = False
            self._send(cmd)
            plan = self.cycle.last_plan
            if plan is not None and plan is not self._last_plan:
                self._last_plan = plan
                self._publish_plan(plan)
            self._publish_status(cmd)

    def _send(self, cmd: Command) -> None:
        self._last_cmd = cmd
        if cmd.pose is None:
            return
        t = now_sec(self)
        self._pubs["target_pose"].publish(make_gripper_pose(self.cfg.frame_id, t, cmd.pose))
        self._pubs["command"].publish(make_gripper_state(t, cmd.closed))

    def _publish_plan(self, plan) -> None:
        header = Header(frame_id=self.cfg.frame_id, stamp=sec_to_stamp(now_sec(self)))
        self._pubs["plan"].publish(plan_markers(plan, self.cycle.target, header, self.cfg.plan_markers))
        if len(plan.predicted):
            final = plan.predicted[-1].astype(np.float32)
            self._pubs["predicted"].publish(array_to_pointcloud2(final, ("x", "y", "z"), header))
            if self._skin is not None and self.cfg.render_camera:
                from pgnd.splats.render import render_view
                from pgnd.splats.skinning import deform

                splats, skin = self._skin
                moved = deform(splats, skin, torch.from_numpy(final).float())
                out = render_view(moved, self._rig[self.cfg.render_camera])
                rgb = (out["rgb"].detach().clamp(0, 1).numpy() * 255).astype(np.uint8)
                self._pubs["render"].publish(array_to_image(rgb, "rgb8", header))

    def status(self, cmd: Command | None = None) -> dict[str, Any]:
        cmd = cmd or self._last_cmd
        c = self.cycle
        return {
            "state": cmd.state if cmd else "unconfigured",
            "reason": cmd.reason if cmd else "",
            "actions": c.actions if c else 0,
            "chamfer": None if c is None or not np.isfinite(c.chamfer) else round(c.chamfer, 5),
            "success_chamfer": c.success if c else None,
            "plan_s": round(self._last_plan.plan_s, 3) if self._last_plan is not None else None,
            "predicted_chamfer": round(self._last_plan.predicted_chamfer, 5) if self._last_plan is not None else None,
            "clamped": c.clamped if c else 0,
            "dropped": dict(self.dropped),
        }

    def _publish_status(self, cmd: Command) -> None:
        self._pubs["status"].publish(String(data=json.dumps(self.status(cmd))))

    def _publish_diagnostics(self) -> None:
        s = self.status()
        values = {k: json.dumps(v) for k, v in s.items()}
        message = f"{s['state']}: {s['reason']}"
        self._pubs["diagnostics"].publish(
            diagnostics(self.get_name(), s["state"] in HEALTHY, message, values, sec_to_stamp(now_sec(self)))
        )


def main(args: list[str] | None = None) -> None:
    run_node(ManipPlannerNode, args)


if __name__ == "__main__":
    main()
