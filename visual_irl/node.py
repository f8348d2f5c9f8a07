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
- ``joint_targets`` (sensor_msgs/JointState): retargeted joints of ``robot``,
  within its position, velocity and acceleration limits (``limits.*``).
- ``joint_trajectory`` (trajectory_msgs/JointTrajectory, with
  ``publish_trajectory``): the same target at ``time_from_start`` = the frame
  interval, then a stop within the limits (positions only), so a controller
  that hears nothing more stops within them; header stamp zero (start on
  receipt).
- ``skeleton`` (visualization_msgs/MarkerArray): keypoints and bones for rviz,
  only the points that pass the same checks as the reward's.
- ``/diagnostics`` (diagnostic_msgs/DiagnosticArray): frame counters and the
  frames received against those the source's stamps say it sent, every
  ``report_period_s``.

A frame with a missing, non-finite or low-confidence keypoint among those the
state needs (shoulders, hips, right elbow and wrist), a malformed message, or
no recent onion gives no reward and no joint targets: it is counted (see
``/diagnostics``) and logged at most once per second (the decisions are
``visual_irl.reward_cycle``). Nothing is published while the node is not
active. Inputs are best effort, keep last ``queue_depth`` (sensor-data QoS):
under a burst the newest frames win and older ones are dropped by DDS, which
``/diagnostics`` shows. Parameters: ``IrlRewardNodeCfg`` (``visual_irl.node_cfg``).
"""

from __future__ import annotations

from builtin_interfaces.msg import Duration
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import Vector3Stamped
from rclpy.lifecycle import LifecycleNode, State, TransitionCallbackReturn
from rclpy.qos import QoSProfile, qos_profile_sensor_data
from sensor_msgs.msg import JointState, PointCloud2
from std_msgs.msg import Header
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint
from visualization_msgs.msg import MarkerArray

from dynamics_stack.checkpoint import ModelFileError
from dynamics_stack.config import ConfigError
from dynamics_stack.paths import resolve_package_file
from dynamics_stack.ros.lifecycle_io import LifecycleIo
from dynamics_stack.ros.node_params import declare_parameters, read_parameters
from dynamics_stack.ros.pointcloud import PointCloudError, pointcloud2_to_array
from dynamics_stack.ros.spin import run_node
from dynamics_stack.ros.stamps import stamp_to_sec
from visual_irl.markers import skeleton_markers
from visual_irl.node_cfg import IrlRewardNodeCfg
from visual_irl.reward_cycle import KEYPOINT_FIELDS, OBJECT_FIELDS, FrameResult, RewardCycle


class IrlRewardNode(LifecycleIo, LifecycleNode):
    """See the module docstring."""

    HARDWARE_ID = "irl_reward"

    def __init__(self, node_name: str = "irl_reward", **kwargs):
        super().__init__(node_name, **kwargs)
        declare_parameters(self, IrlRewardNodeCfg)
        self.cycle: RewardCycle | None = None  # set at configure
        self.ignored_inactive = 0  # keypoint messages that arrived while not active
        self._active = False
        self._subs: list = []
        self._pubs: dict = {}
        self._timer = None

    # ---- lifecycle ----
    def on_configure(self, state: State) -> TransitionCallbackReturn:
        try:
            cfg = read_parameters(self, IrlRewardNodeCfg)
            from dynamics_stack.runtime import load_runtime

            runtime = load_runtime(resolve_package_file(cfg.model), backend=cfg.backend)
            retargeter = None
            if cfg.robot != "none":
                from visual_irl.retarget import Retargeter
                from visual_irl.robots import load_robot

                retargeter = Retargeter(load_robot(cfg.robot))
        except (ConfigError, ModelFileError, OSError, ValueError, RuntimeError) as exc:
            self.get_logger().error(f"configure refused: {exc}")
            return TransitionCallbackReturn.FAILURE
        self.cycle = RewardCycle(cfg, runtime, retargeter)
        self._pubs = {
            "reward": self.create_lifecycle_publisher(Vector3Stamped, "reward", 10),
            "joints": self.create_lifecycle_publisher(JointState, "joint_targets", 10),
            "markers": self.create_lifecycle_publisher(MarkerArray, "skeleton", 10),
            "diagnostics": self.create_lifecycle_publisher(DiagnosticArray, "/diagnostics", 10),
        }
        if cfg.publish_trajectory:
            self._pubs["trajectory"] = self.create_lifecycle_publisher(JointTrajectory, "joint_trajectory", 10)
        # a camera stream: best effort, keep the newest few (a late frame is worth less than the next one)
        qos = QoSProfile(
            reliability=qos_profile_sensor_data.reliability,
            durability=qos_profile_sensor_data.durability,
            history=qos_profile_sensor_data.history,
            depth=cfg.queue_depth,
        )
        self._subs = [
            self.create_subscription(PointCloud2, "keypoints", self.on_keypoints, qos),
            self.create_subscription(PointCloud2, "objects", self.on_objects, qos),
        ]
        self._timer = self.create_timer(cfg.report_period_s, self.report)
        self.get_logger().info(f"configured: model {runtime.card.name} ({cfg.backend}), robot {cfg.robot}")
        return TransitionCallbackReturn.SUCCESS

    # ---- inputs ----
    def on_objects(self, msg: PointCloud2) -> None:
        try:
            objects = pointcloud2_to_array(msg, OBJECT_FIELDS)
        except PointCloudError as exc:
            self._log(self.cycle.refuse("malformed_objects", f"objects message refused: {exc}"))
            return
        self._log(self.cycle.take_objects(stamp_to_sec(msg.header.stamp), objects))

    def on_keypoints(self, msg: PointCloud2) -> None:
        if not self._active:
            self.ignored_inactive += 1
            return
        try:
            points = pointcloud2_to_array(msg, KEYPOINT_FIELDS)
        except PointCloudError as exc:
            self._log(self.cycle.malformed(stamp_to_sec(msg.header.stamp), f"keypoint message refused: {exc}"))
            return
        result = self.cycle.frame(stamp_to_sec(msg.header.stamp), points)
        if result.keypoints is not None:
            markers = skeleton_markers(msg.header, result.keypoints, result.shown, self.cycle.cfg.marker_scale)
            self._pubs["markers"].publish(markers)
        if result.reward is not None:
            reward = Vector3Stamped(header=msg.header)
            reward.vector.x, reward.vector.y, reward.vector.z = result.reward, result.potential, result.min_confidence
            self._pubs["reward"].publish(reward)
        if result.joints is not None:
            names = list(self.cycle.limiter.limits.names)
            self._pubs["joints"].publish(JointState(header=msg.header, name=names, position=result.joints.tolist()))
            if "trajectory" in self._pubs:
                self._pubs["trajectory"].publish(_trajectory(names, result.trajectory, result.step_s))
        self._log(result)

    def _log(self, result: FrameResult | None) -> None:
        if result is not None and result.why:
            self.get_logger().warning(f"no reward for this frame: {result.why}", throttle_duration_sec=1.0)


def _duration(seconds: float) -> Duration:
    ns = round(seconds * 1e9)
    return Duration(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def _trajectory(names: list[str], positions, step_s: float) -> JointTrajectory:
    """Points [P, J] ``step_s`` apart, the first after ``step_s``; header stamp zero: start on receipt.

    Positions only: ros2_control's joint trajectory controller then interpolates linearly, so every segment
    keeps its limited speed (a spline through targets replaced at every frame could overshoot it).
    """
    points = [
        JointTrajectoryPoint(positions=q.tolist(), time_from_start=_duration((k + 1) * step_s))
        for k, q in enumerate(positions)
    ]
    return JointTrajectory(header=Header(), joint_names=names, points=points)


def main(args: list[str] | None = None) -> None:
    """Entry point of the ``irl_reward`` executable."""
    run_node(IrlRewardNode, args)


if __name__ == "__main__":
    main()
