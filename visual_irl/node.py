"""``irl_reward``: lifecycle node that turns live arm keypoints into the learned reward and cobot joint targets.

Subscribes (relative names, remap as needed):

- ``keypoints`` (sensor_msgs/PointCloud2): one person's 17 COCO-17 keypoints in
  index order (0 nose, 1 left eye, 2 right eye, 3 left ear, 4 right ear,
  5 left shoulder, 6 right shoulder, 7 left elbow, 8 right elbow, 9 left wrist,
  10 right wrist, 11 left hip, 12 right hip, 13 left knee, 14 right knee,
  15 left ankle, 16 right ankle), float32 fields ``x y z confidence``, metres
  in the camera's optical frame; NaN for a keypoint the detector missed. The
  header stamp is the image's capture time.
- ``objects`` (sensor_msgs/PointCloud2): fields ``x y z blemished``; the first
  point is the onion being handled (blemished 1.0 or 0.0), same frame.

Publishes, each with the stamp and frame of the keypoint message it answers:

- ``reward`` (geometry_msgs/Vector3Stamped): x = learned reward g(s),
  y = shaping potential h(s), z = the lowest confidence among the keypoints used.
- ``joint_targets`` (sensor_msgs/JointState): retargeted joints of ``robot``.
- ``skeleton`` (visualization_msgs/MarkerArray): keypoints and bones for rviz.
- ``/diagnostics`` (diagnostic_msgs/DiagnosticArray): frame counters, every
  ``report_period_s``.

A frame with a missing, non-finite or low-confidence keypoint among those the
state needs (shoulders, hips, right elbow and wrist), a malformed message, or
no recent onion gives no reward and no joint targets: it is counted (see
``/diagnostics``) and logged at most once per second. Nothing is published
while the node is not active.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from dynamics_stack.config import ConfigError, cfg_from_ros_params, cfg_to_ros_params, field_docs
from visual_irl.features import NEEDED as NEEDED_FOR_STATE
from visual_irl.features import frame_states
from visual_irl.keypoints import BONES

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True, kw_only=True)
class IrlRewardNodeCfg:
    """Parameters of the ``irl_reward`` node (ROS parameters of the same names)."""

    model: str = "models/irl_reward.card.json"
    """Model card of the reward network; relative paths: working directory first, then the package root."""
    backend: Literal["onnx", "torch"] = "onnx"
    """Inference backend: ONNX Runtime (as on the robot) or torch."""
    robot: Literal["panda", "ur5", "none"] = "panda"
    """Cobot to retarget onto ('none': no joint targets)."""
    min_confidence: float = 0.5
    """Keypoints below this detector confidence count as missing (0..1)."""
    max_object_age_s: float = 0.2
    """Largest |stamp difference| between a keypoint frame and the onion message used with it (s)."""
    max_range_m: float = 10.0
    """Keypoints or onion farther than this from the camera make the frame invalid (m)."""
    max_ik_error_m: float = 0.005
    """Joint targets whose tool misses the target by more than this are not published (m)."""
    gap_reset_s: float = 0.5
    """After this long without a usable frame, retargeting restarts from the mapped posture (s)."""
    report_period_s: float = 1.0
    """Period of the diagnostics report (s)."""
    marker_scale: float = 0.04
    """Diameter of the keypoint spheres in rviz (m)."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ValueError(f"min_confidence must be in [0, 1], got {self.min_confidence}")
        for name in (
            "max_object_age_s",
            "max_range_m",
            "max_ik_error_m",
            "gap_reset_s",
            "report_period_s",
            "marker_scale",
        ):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if not self.model:
            raise ValueError("model must name a model card")


def default_parameters() -> dict:
    """Every ROS parameter the node declares, with its default."""
    return {**cfg_to_ros_params(IrlRewardNodeCfg()), "autostart": True}


def resolve_model(path: str) -> Path:
    """Relative model paths: the working directory first, then the package root."""
    p = Path(path)
    if p.is_absolute() or p.exists():
        return p
    return ROOT / p


def _make_node_class():
    """Build the node class (imports rclpy only here, so the module imports without ROS)."""
    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
    from geometry_msgs.msg import Point, Vector3Stamped
    from rcl_interfaces.msg import ParameterDescriptor
    from rclpy.lifecycle import LifecycleNode, State, TransitionCallbackReturn
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import JointState, PointCloud2
    from visualization_msgs.msg import Marker, MarkerArray

    from dynamics_stack.ros.pointcloud import PointCloudError, pointcloud2_to_array

    class IrlRewardNode(LifecycleNode):
        """See the module docstring."""

        def __init__(self, node_name: str = "irl_reward", **kwargs):
            super().__init__(node_name, **kwargs)
            docs = field_docs(IrlRewardNodeCfg)
            docs["autostart"] = "Configure and activate on start (false: wait for a lifecycle manager)."
            for name, value in default_parameters().items():
                self.declare_parameter(name, value, ParameterDescriptor(description=docs.get(name, "")))
            self.counts: Counter[str] = Counter()
            self.runtime = None
            self.retargeter = None
            self._objects: tuple[float, np.ndarray] | None = None
            self._last_good = -np.inf
            self._active = False
            self._subs: list = []
            self._pubs: list = []
            self._timer = None

        # ---- lifecycle ----
        def on_configure(self, state: State) -> TransitionCallbackReturn:
            try:
                params = {name: self.get_parameter(name).value for name in cfg_to_ros_params(IrlRewardNodeCfg())}
                self.cfg = cfg_from_ros_params(IrlRewardNodeCfg, params, source=f"node {self.get_name()}")
                from dynamics_stack.runtime import load_runtime

                self.runtime = load_runtime(resolve_model(self.cfg.model), backend=self.cfg.backend)
                if self.cfg.robot != "none":
                    from visual_irl.retarget import Retargeter
                    from visual_irl.robots import load_robot

                    self.retargeter = Retargeter(load_robot(self.cfg.robot))
            except (ConfigError, FileNotFoundError, ValueError, RuntimeError) as exc:
                self.get_logger().error(f"configure refused: {exc}")
                return TransitionCallbackReturn.FAILURE
            self.pub_reward = self.create_lifecycle_publisher(Vector3Stamped, "reward", 10)
            self.pub_joints = self.create_lifecycle_publisher(JointState, "joint_targets", 10)
            self.pub_markers = self.create_lifecycle_publisher(MarkerArray, "skeleton", 10)
            self.pub_diag = self.create_lifecycle_publisher(DiagnosticArray, "/diagnostics", 10)
            self._subs = [
                self.create_subscription(PointCloud2, "keypoints", self.on_keypoints, qos_profile_sensor_data),
                self.create_subscription(PointCloud2, "objects", self.on_objects, qos_profile_sensor_data),
            ]
            self._timer = self.create_timer(self.cfg.report_period_s, self.report)
            self.get_logger().info(
                f"configured: model {self.runtime.card.name} ({self.cfg.backend}), robot {self.cfg.robot}"
            )
            return TransitionCallbackReturn.SUCCESS

        def on_activate(self, state: State) -> TransitionCallbackReturn:
            self._active = True
            return super().on_activate(state)

        def on_deactivate(self, state: State) -> TransitionCallbackReturn:
            self._active = False
            return super().on_deactivate(state)

        def on_cleanup(self, state: State) -> TransitionCallbackReturn:
            self._teardown()
            return TransitionCallbackReturn.SUCCESS

        def on_shutdown(self, state: State) -> TransitionCallbackReturn:
            self._active = False
            self._teardown()
            return TransitionCallbackReturn.SUCCESS

        def _teardown(self) -> None:
            for sub in self._subs:
                self.destroy_subscription(sub)
            self._subs = []
            if self._timer is not None:
                self.destroy_timer(self._timer)
                self._timer = None
            for name in ("pub_reward", "pub_joints", "pub_markers", "pub_diag"):
                pub = getattr(self, name, None)
                if pub is not None:
                    self.destroy_lifecycle_publisher(pub)
                    setattr(self, name, None)
            self.runtime = self.retargeter = None

        # ---- inputs ----
        def on_objects(self, msg: PointCloud2) -> None:
            try:
                obj = pointcloud2_to_array(msg, ("x", "y", "z", "blemished"))
            except PointCloudError as exc:
                self._drop("malformed_objects", f"objects message refused: {exc}")
                return
            if len(obj) == 0 or not np.all(np.isfinite(obj[0])):
                self._drop("objects_missing", "objects message without a finite onion")
                return
            self._objects = (_stamp(msg), obj[0].astype(np.float64))

        def on_keypoints(self, msg: PointCloud2) -> None:
            if not self._active:
                return
            self.counts["frames"] += 1
            try:
                pts = pointcloud2_to_array(msg, ("x", "y", "z", "confidence"))
            except PointCloudError as exc:
                self._drop("malformed", f"keypoint message refused: {exc}")
                return
            if pts.shape[0] != 17:
                self._drop("malformed", f"keypoint message has {pts.shape[0]} points, expected 17 (COCO-17)")
                return
            kp, conf = pts[:, :3].astype(np.float64), pts[:, 3]
            stamp = _stamp(msg)
            self.publish_skeleton(msg, kp, conf)
            if self._objects is None or abs(self._objects[0] - stamp) > self.cfg.max_object_age_s:
                self._drop("no_recent_onion", "no onion message within max_object_age_s of the keypoints")
                return
            onion = self._objects[1]
            state, valid = frame_states(
                kp[None], conf[None], onion[None, :3], onion[3] > 0.5, self.cfg.min_confidence, self.cfg.max_range_m
            )
            if not valid[0]:
                used, used_conf = kp[list(NEEDED_FOR_STATE)], conf[list(NEEDED_FOR_STATE)]
                if not (np.all(np.isfinite(used)) and np.all(np.isfinite(used_conf))):
                    self._drop("non_finite", "needed keypoints missing or non-finite")
                elif np.any(used_conf < self.cfg.min_confidence):
                    self._drop("low_confidence", "needed keypoints below min_confidence")
                else:
                    self._drop("out_of_range", "keypoints or onion farther than max_range_m from the camera")
                return
            out = self.runtime.run("reward", {"state": state})
            g, h = float(out["reward"][0]), float(out["potential"][0])
            if not (np.isfinite(g) and np.isfinite(h)):  # final gate: never a made-up or non-finite value
                self._drop("non_finite_output", "reward network gave a non-finite value")
                return
            reward = Vector3Stamped()
            reward.header = msg.header
            reward.vector.x, reward.vector.y = g, h
            reward.vector.z = float(np.min(conf[list(NEEDED_FOR_STATE)]))
            self.pub_reward.publish(reward)
            self.counts["rewarded"] += 1
            if self.retargeter is not None:
                self.publish_joints(msg, state[0], stamp)
            self._last_good = stamp

        def publish_joints(self, msg: PointCloud2, state: np.ndarray, stamp: float) -> None:
            if stamp - self._last_good > self.cfg.gap_reset_s:
                self.retargeter.reset()
            r = self.retargeter.step(state[:9].astype(np.float64))
            if not (r["error"] <= self.cfg.max_ik_error_m and np.all(np.isfinite(r["q"]))):
                self._drop("ik_unreached", f"retargeting missed the tool target by {r['error'] * 1e3:.1f} mm")
                return
            js = JointState()
            js.header = msg.header
            js.name = list(self.retargeter.robot.joint_names)
            js.position = [float(v) for v in r["q"]]
            self.pub_joints.publish(js)
            self.counts["joint_targets"] += 1

        def publish_skeleton(self, msg: PointCloud2, kp: np.ndarray, conf: np.ndarray) -> None:
            ok = np.all(np.isfinite(kp), axis=1) & np.isfinite(conf) & (conf >= self.cfg.min_confidence)
            spheres = Marker()
            spheres.header, spheres.ns, spheres.id = msg.header, "keypoints", 0
            spheres.type, spheres.action = Marker.SPHERE_LIST, Marker.ADD
            spheres.scale.x = spheres.scale.y = spheres.scale.z = self.cfg.marker_scale
            spheres.color.r, spheres.color.g, spheres.color.b, spheres.color.a = 1.0, 0.6, 0.1, 1.0
            spheres.pose.orientation.w = 1.0
            spheres.points = [Point(x=float(p[0]), y=float(p[1]), z=float(p[2])) for p in kp[ok]]
            bones = Marker()
            bones.header, bones.ns, bones.id = msg.header, "bones", 1
            bones.type, bones.action = Marker.LINE_LIST, Marker.ADD
            bones.scale.x = self.cfg.marker_scale / 3
            bones.color.r, bones.color.g, bones.color.b, bones.color.a = 0.2, 0.8, 1.0, 1.0
            bones.pose.orientation.w = 1.0
            for a, b in BONES:
                if ok[a] and ok[b]:
                    bones.points += [Point(x=float(v[0]), y=float(v[1]), z=float(v[2])) for v in (kp[a], kp[b])]
            self.pub_markers.publish(MarkerArray(markers=[spheres, bones]))

        # ---- reporting ----
        def _drop(self, reason: str, text: str) -> None:
            self.counts[f"dropped_{reason}"] += 1
            self.get_logger().warning(f"no reward for this frame: {text}", throttle_duration_sec=1.0)

        def report(self) -> None:
            if not self._active:
                return
            status = DiagnosticStatus(name=f"{self.get_name()}: frames", hardware_id="irl_reward")
            dropped = sum(v for k, v in self.counts.items() if k.startswith("dropped_"))
            status.level = DiagnosticStatus.OK if dropped == 0 else DiagnosticStatus.WARN
            status.message = f"{self.counts['rewarded']} rewarded, {dropped} dropped of {self.counts['frames']} frames"
            status.values = [KeyValue(key=k, value=str(v)) for k, v in sorted(self.counts.items())]
            arr = DiagnosticArray(status=[status])
            arr.header.stamp = self.get_clock().now().to_msg()
            self.pub_diag.publish(arr)

    return IrlRewardNode


def _stamp(msg) -> float:
    return msg.header.stamp.sec + 1e-9 * msg.header.stamp.nanosec


def make_node(**kwargs):
    """An ``IrlRewardNode`` (class built on first use so this module imports without rclpy)."""
    return _make_node_class()(**kwargs)


def main(args=None) -> None:
    import rclpy
    from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor

    from dynamics_stack.ros.spin import init_with_stop_flag, spin_until_stopped

    stop = init_with_stop_flag(args)
    node = make_node()
    try:
        # A lone run configures and activates itself; under a lifecycle manager, set autostart:=false.
        if node.get_parameter("autostart").value:
            node.trigger_configure()
            node.trigger_activate()
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        spin_until_stopped(executor, stop)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
