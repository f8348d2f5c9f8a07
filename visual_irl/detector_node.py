"""``keypoint_detector``: lifecycle node from an RGB-D camera to the 3-D person keypoints ``irl_reward`` reads.

Subscribes (relative names; remap to the camera driver's, e.g. a RealSense's
``/camera/camera/color/image_raw``, ``.../aligned_depth_to_color/image_raw``, ``.../color/camera_info``):

- ``color/image_raw`` (sensor_msgs/Image, rgb8 or bgr8);
- ``depth/image_raw`` (sensor_msgs/Image, 16UC1 millimetres or 32FC1 metres, 0 or NaN = no
  measurement; registered to the colour image: same size, same pixels);
- ``color/camera_info`` (sensor_msgs/CameraInfo of the colour camera, no distortion: rectified images).

Images and camera_info are subscribed ``image_reliability`` (reliable by default, as a RealSense driver
publishes; best_effort for a driver with sensor-data QoS), keep last ``queue_depth``; a publisher whose QoS
does not match is logged and counted (``incompatible_qos``). Colour and depth of one frame are paired by
stamp (within ``slop``). Publishes, for each frame in which a person is found:

- ``keypoints`` (sensor_msgs/PointCloud2): the 17 COCO-17 keypoints in index order, float32 fields
  ``x y z confidence``, metres in the colour image's optical frame (its header: stamp = the colour
  image's capture time, frame_id its frame); NaN with confidence 0 where a keypoint has no depth;
  confidence = the detector's visibility score times depth validity. Exactly what ``irl_reward`` reads.
- ``/diagnostics`` (diagnostic_msgs/DiagnosticArray): frames, published, dropped by reason, the
  detector's time, every ``report_period_s``.

A frame of the wrong encoding, colour and depth of different sizes, no usable CameraInfo, a depth
image without a valid pixel, nobody in view, or no depth under any keypoint gives no message; it is
counted by reason and logged at most once per second (``visual_irl.detector_cycle``). Nothing is
published while inactive. Parameters: ``KeypointDetectorNodeCfg`` (``visual_irl.detector_node_cfg``).
"""

from __future__ import annotations

from functools import partial

from diagnostic_msgs.msg import DiagnosticArray
from rclpy.event_handler import QoSRequestedIncompatibleQoSInfo, SubscriptionEventCallbacks
from rclpy.lifecycle import LifecycleNode, State, TransitionCallbackReturn
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image, PointCloud2

from dynamics_stack.config import ConfigError
from dynamics_stack.ros.image_convert import ImageError, camera_from_info, image_to_array
from dynamics_stack.ros.lifecycle_io import LifecycleIo
from dynamics_stack.ros.node_params import declare_parameters, read_parameters
from dynamics_stack.ros.pointcloud import array_to_pointcloud2
from dynamics_stack.ros.spin import run_node
from dynamics_stack.ros.stamps import stamp_to_sec
from visual_irl.detector_cycle import COLOR_ENCODINGS, DEPTH_ENCODINGS, Detection, DetectorCycle
from visual_irl.detector_node_cfg import KeypointDetectorNodeCfg
from visual_irl.pose_detectors import DetectorError, make_detector
from visual_irl.reward_cycle import KEYPOINT_FIELDS


class KeypointDetectorNode(LifecycleIo, LifecycleNode):
    """See the module docstring."""

    HARDWARE_ID = "keypoint_detector"

    def __init__(self, node_name: str = "keypoint_detector", **kwargs):
        super().__init__(node_name, **kwargs)
        declare_parameters(self, KeypointDetectorNodeCfg)
        self.cycle: DetectorCycle | None = None  # set at configure
        self.ignored_inactive = 0  # images that arrived while not active
        self._active = False
        self._info_key = None
        self._subs: list = []
        self._pubs: dict = {}
        self._timer = None

    # ---- lifecycle ----
    def on_configure(self, state: State) -> TransitionCallbackReturn:
        try:
            cfg = read_parameters(self, KeypointDetectorNodeCfg)
            detector = make_detector(cfg.detector, cfg.mediapipe, cfg.onnx)
        except (ConfigError, DetectorError) as exc:
            self.get_logger().error(f"configure refused: {exc}")
            return TransitionCallbackReturn.FAILURE
        self.cycle = DetectorCycle(cfg, detector)
        self._pubs = {
            "keypoints": self.create_lifecycle_publisher(PointCloud2, "keypoints", 10),
            "diagnostics": self.create_lifecycle_publisher(DiagnosticArray, "/diagnostics", 10),
        }
        reliability = {"reliable": ReliabilityPolicy.RELIABLE, "best_effort": ReliabilityPolicy.BEST_EFFORT}
        qos = QoSProfile(
            reliability=reliability[cfg.image_reliability],
            durability=DurabilityPolicy.VOLATILE,
            history=HistoryPolicy.KEEP_LAST,
            depth=cfg.queue_depth,
        )
        events = SubscriptionEventCallbacks(incompatible_qos=self.on_incompatible_qos)
        self._subs = [
            self.create_subscription(
                Image, "color/image_raw", partial(self.on_image, "color"), qos, event_callbacks=events
            ),
            self.create_subscription(
                Image, "depth/image_raw", partial(self.on_image, "depth"), qos, event_callbacks=events
            ),
            self.create_subscription(CameraInfo, "color/camera_info", self.on_camera_info, qos, event_callbacks=events),
        ]
        self._timer = self.create_timer(cfg.report_period_s, self.report)
        self.get_logger().info(f"configured: detector {cfg.detector}")
        return TransitionCallbackReturn.SUCCESS

    # ---- inputs ----
    def on_incompatible_qos(self, info: QoSRequestedIncompatibleQoSInfo) -> None:
        if self.cycle is not None:
            self.cycle.counts["incompatible_qos"] += 1
        self.get_logger().error(
            f"a publisher's QoS does not match this node's image subscriptions (policy id {info.last_policy_kind}): "
            f"set image_reliability to match the camera driver's (reliable or best_effort)",
            throttle_duration_sec=1.0,
        )

    def on_camera_info(self, msg: CameraInfo) -> None:
        key = (msg.width, msg.height, tuple(msg.k), tuple(msg.d))
        if self.cycle is None or key == self._info_key:
            return
        self._info_key = key
        try:
            self.cycle.take_camera(camera_from_info(msg, name=msg.header.frame_id or "camera"))
        except ImageError as exc:
            self.get_logger().error(f"camera_info refused: {exc}")
            self.cycle.take_camera(None, f"camera_info refused: {exc}")

    def on_image(self, kind: str, msg: Image) -> None:
        if not self._active:
            self.ignored_inactive += 1
            return
        stamp = stamp_to_sec(msg.header.stamp)
        try:
            image = image_to_array(msg)
        except ImageError as exc:
            known = COLOR_ENCODINGS + DEPTH_ENCODINGS + ("mono8",)
            reason = "malformed" if msg.encoding in known else "wrong_encoding"
            self._log(self.cycle.drop(stamp, reason, f"{kind} image refused: {exc}"))
            return
        result = self.cycle.add(kind, stamp, msg.encoding, image, tag=msg.header)
        if result is None:
            return
        if result.keypoints is not None:  # the colour image's header: its stamp and optical frame
            self._pubs["keypoints"].publish(array_to_pointcloud2(result.keypoints, KEYPOINT_FIELDS, header=result.tag))
        self._log(result)

    def _log(self, result: Detection) -> None:
        if result.why:
            self.get_logger().warning(f"no keypoints for this frame: {result.why}", throttle_duration_sec=1.0)


def main(args: list[str] | None = None) -> None:
    """Entry point of the ``keypoint_detector`` executable."""
    run_node(KeypointDetectorNode, args)


if __name__ == "__main__":
    main()
