"""``pgnd_perception``: calibrated RGB-D cameras + object masks -> tracked object particles (sensor_msgs/PointCloud2).

Per camera ``N`` of the rig file (``camera_rig``; no tf2 here, so the
extrinsics come from the calibration file, as a user's hand-eye calibration
gives them):

- subscribes ``cameraN/color/image_raw`` (rgb8 or bgr8), ``cameraN/depth/image_raw``
  (32FC1 metres or 16UC1 millimetres; 0 or NaN = no return),
  ``cameraN/mask/image_raw`` (mono8, > 127 = object: a segmentation node's
  output) and ``cameraN/camera_info`` (checked against the calibration: a
  camera whose intrinsics or size differ is refused, with the reason);
- subscribes ``perception/reset`` (std_msgs/Empty): the next frame starts a
  fresh track (the planner asks before each action);
- publishes ``object/particles`` (PointCloud2 x, y, z in ``frame_id``, stamped
  with the frame's stamp; the same N particles in the same order while one
  track lasts), ``~/status`` (JSON: seen share, restarts, frames dropped by
  reason) and ``/diagnostics`` (1 Hz);
- with ``fit_splats``, ``object/splats`` (PointCloud2, one point per Gaussian,
  columns ``pgnd.splats.gaussians.CLOUD_FIELDS``) fitted to the first frame
  of each track on a worker thread and stamped like that frame's particles,
  which the splats are bound to.

The decisions are ``pgnd.perception_cycle.PerceptionCycle`` (no rclpy):
frame assembly by stamp, tracking, restarts. Parameters:
``PerceptionNodeCfg`` (``pgnd.perception_node_cfg``).
"""

from __future__ import annotations

import json
from collections import Counter
from functools import partial

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node
from rclpy.qos import QoSProfile
from sensor_msgs.msg import CameraInfo, Image, PointCloud2
from std_msgs.msg import Empty, Header, String

from dynamics_stack.camera import load_rig
from dynamics_stack.paths import resolve_package_file
from dynamics_stack.ros.diagnostics import diagnostics
from dynamics_stack.ros.image_convert import ImageError, check_camera_info, image_to_array
from dynamics_stack.ros.nav_convert import sec_to_stamp
from dynamics_stack.ros.node_params import declare_parameters, read_parameters
from dynamics_stack.ros.pointcloud import array_to_pointcloud2
from dynamics_stack.ros.spin import run_node
from dynamics_stack.ros.stamps import stamp_to_sec
from pgnd.perception_cycle import PerceptionCycle
from pgnd.perception_node_cfg import PerceptionNodeCfg


class PerceptionNode(Node):
    """See the module docstring."""

    def __init__(self, node_name: str = "pgnd_perception", **kwargs):
        super().__init__(node_name, **kwargs)
        declare_parameters(self, PerceptionNodeCfg)
        self.cfg = cfg = read_parameters(self, PerceptionNodeCfg)
        self.rig = load_rig(resolve_package_file(cfg.camera_rig))
        self.cycle = PerceptionCycle(self.rig, cfg.perception, cfg.slop, cfg.min_seen)
        self.dropped: Counter[str] = Counter()
        self.info_ok: dict[str, bool] = {c.name: False for c in self.rig}
        self.seen = 0.0
        self.published = 0
        qos = QoSProfile(depth=5)
        for cam in self.rig:
            for kind in ("color", "depth", "mask"):
                self.create_subscription(
                    Image, f"{cam.name}/{kind}/image_raw", partial(self._on_image, cam.name, kind), qos
                )
            self.create_subscription(CameraInfo, f"{cam.name}/camera_info", partial(self._on_info, cam), qos)
        self.create_subscription(Empty, "perception/reset", self._on_reset, 10)
        self.pub_particles = self.create_publisher(PointCloud2, "object/particles", 10)
        self.pub_splats = self.create_publisher(PointCloud2, "object/splats", 1)
        self._fitter = None
        if cfg.fit_splats:
            import concurrent.futures

            self._fitter = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="splat_fit")

        self.pub_status = self.create_publisher(String, "~/status", 10)
        self.pub_diag = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_timer(1.0, self._diagnostics)
        self.get_logger().info(
            f"{len(self.rig)} cameras ({', '.join(c.name for c in self.rig)}), {cfg.perception.particles} particles"
        )

    def _drop(self, reason: str, detail: str) -> None:
        self.dropped[reason] += 1
        self.get_logger().warning(f"image dropped ({reason}): {detail}", throttle_duration_sec=1.0)

    def _on_info(self, cam, msg: CameraInfo) -> None:
        try:
            check_camera_info(msg, cam)
        except ImageError as exc:
            if self.info_ok[cam.name] or not self.dropped[f"camera_info:{cam.name}"]:
                self.get_logger().error(str(exc))
            self.info_ok[cam.name] = False
            self.dropped[f"camera_info:{cam.name}"] += 1
            return
        self.info_ok[cam.name] = True

    def _on_reset(self, _msg: Empty) -> None:
        self.cycle.reset()

    def _on_image(self, camera: str, kind: str, msg: Image) -> None:
        if not self.info_ok[camera]:
            self._drop("no_valid_camera_info", f"{camera}: no camera_info matching the calibration yet")
            return
        try:
            image = image_to_array(msg)
            if kind == "depth":
                image = np.where(np.isfinite(image) & (image < self.cfg.max_depth), image, 0.0).astype(np.float32)
            elif kind == "mask":
                if image.ndim != 2:
                    raise ImageError(f"mask must be mono8, got {msg.encoding}")
                image = image > 127
            elif image.ndim != 3:
                raise ImageError(f"colour image must be rgb8 or bgr8, got {msg.encoding}")
            out = self.cycle.add_image(camera, kind, stamp_to_sec(msg.header.stamp), image)

        except (ImageError, ValueError) as exc:
            self._drop("malformed", f"{camera}/{kind}: {exc}")
            return
        if out is None:
            return
        self.seen = out.seen
        header = Header(frame_id=self.cfg.frame_id, stamp=sec_to_stamp(out.stamp))
        self.pub_particles.publish(array_to_pointcloud2(out.points.astype(np.float32), ("x", "y", "z"), header))
        self.published += 1
        self.pub_status.publish(String(data=json.dumps(self.status(out.restarted))))
        if out.restarted and self._fitter is not None:
            frame = self.cycle.last_frame
            self._fitter.submit(self._fit_and_publish, frame, header)

    def _fit_and_publish(self, frame, header: Header) -> None:
        from pgnd.splats.fit import fit_splats
        from pgnd.splats.gaussians import CLOUD_FIELDS, gaussians_to_array

        try:
            splats, _ = fit_splats(frame.rgb, frame.depth, frame.masks, self.rig, self.cfg.splat)
        except ValueError as exc:  # too little of the object in view: no splats this time
            self.get_logger().warning(f"splat fit skipped: {exc}")
            return
        self.pub_splats.publish(array_to_pointcloud2(gaussians_to_array(splats), CLOUD_FIELDS, header))

    def status(self, restarted: bool = False) -> dict:
        return {
            "published": self.published,
            "seen": round(self.seen, 3),
            "restarted": restarted,
            "restarts": self.cycle.restarts,
            "empty_frames": self.cycle.empty,
            "incomplete_frames": self.cycle.frames.dropped,
            "dropped": dict(self.dropped),
        }

    def _diagnostics(self) -> None:
        s = self.status()
        ok = all(self.info_ok.values()) and self.published > 0
        message = "tracking" if ok else "waiting for calibrated camera streams"
        values = {k: str(v) for k, v in s.items()}
        self.pub_diag.publish(diagnostics(self.get_name(), ok, message, values, self.get_clock().now().to_msg()))


def main(args: list[str] | None = None) -> None:
    run_node(PerceptionNode, args)


if __name__ == "__main__":
    main()
