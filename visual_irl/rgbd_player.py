"""``rgbd_player``: a camera stand-in that plays a folder of recorded RGB-D frames on a camera driver's topics.

Publishes, every 1 / ``rate_hz`` s, one frame of ``folder`` (``visual_irl.rgbd_folder``), every message
stamped with the node's clock now (as a live camera stamps its capture) and ``frame_id``:

- ``color/image_raw`` (sensor_msgs/Image, rgb8), ``depth/image_raw`` (16UC1 millimetres or 32FC1
  metres, ``depth_encoding``; registered to the colour image), ``color/camera_info`` (the folder's camera);
- with ``publish_onion``: ``objects`` (sensor_msgs/PointCloud2, fields x y z blemished, one point):
  the onion ``irl_reward`` needs, standing in for an object detector.

The topics are those ``keypoint_detector`` reads. After the last frame it starts again (``loop``) or
stops publishing. A rosbag2 of a real camera plays with ``ros2 bag play`` where ROS is installed;
this node covers machines without it. Parameters: ``RgbdPlayerNodeCfg`` (``visual_irl.rgbd_player_cfg``).
"""

from __future__ import annotations

import numpy as np
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image, PointCloud2
from std_msgs.msg import Header

from dynamics_stack.config import ConfigError
from dynamics_stack.ros.image_convert import array_to_image, camera_info
from dynamics_stack.ros.node_params import declare_parameters, read_parameters
from dynamics_stack.ros.pointcloud import array_to_pointcloud2
from dynamics_stack.ros.spin import run_node
from visual_irl.reward_cycle import OBJECT_FIELDS
from visual_irl.rgbd_folder import RgbdFolderError, read_rgbd_folder
from visual_irl.rgbd_player_cfg import RgbdPlayerNodeCfg


class RgbdPlayerNode(Node):
    """See the module docstring."""

    def __init__(self, node_name: str = "rgbd_player", **kwargs):
        super().__init__(node_name, **kwargs)
        declare_parameters(self, RgbdPlayerNodeCfg)
        self.cfg = cfg = read_parameters(self, RgbdPlayerNodeCfg)
        try:
            self.folder = read_rgbd_folder(cfg.folder)
        except RgbdFolderError as exc:
            raise ConfigError(f"{node_name}: parameter folder: {exc}") from exc
        self.published = 0  # frames published
        self._next = 0
        self.pub_color = self.create_publisher(Image, "color/image_raw", 5)
        self.pub_depth = self.create_publisher(Image, "depth/image_raw", 5)
        self.pub_info = self.create_publisher(CameraInfo, "color/camera_info", 5)
        self.pub_objects = self.create_publisher(PointCloud2, "objects", 5) if cfg.publish_onion else None
        self.timer = self.create_timer(1.0 / cfg.rate_hz, self.tick)
        self.get_logger().info(f"playing {len(self.folder)} frames of {self.folder.path} at {cfg.rate_hz} Hz")

    def tick(self) -> None:
        if self._next >= len(self.folder):
            if not self.cfg.loop:
                return
            self._next = 0
        try:
            rgb, depth_mm = self.folder.load(self._next)
        except RgbdFolderError as exc:
            self.get_logger().error(f"frame {self._next} skipped: {exc}", throttle_duration_sec=1.0)
            self._next += 1
            return
        self._next += 1
        header = Header(stamp=self.get_clock().now().to_msg(), frame_id=self.cfg.frame_id)
        if self.cfg.depth_encoding == "16UC1":
            depth = array_to_image(depth_mm, "16UC1", header)
        else:
            depth = array_to_image(
                np.where(depth_mm > 0, depth_mm / 1000.0, np.nan).astype(np.float32), "32FC1", header
            )
        if self.pub_objects is not None:
            self.pub_objects.publish(array_to_pointcloud2(np.array([self.cfg.onion]), OBJECT_FIELDS, header=header))
        self.pub_info.publish(camera_info(self.folder.camera, header))
        self.pub_depth.publish(depth)
        self.pub_color.publish(array_to_image(rgb, "rgb8", header))
        self.published += 1


def main(args: list[str] | None = None) -> None:
    """Entry point of the ``rgbd_player`` executable."""
    run_node(RgbdPlayerNode, args)


if __name__ == "__main__":
    main()
