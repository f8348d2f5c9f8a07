"""From an RGB-D camera to the reward: ``ros2 launch dynamics_stack irl_reward_camera.launch.py``.

Starts ``keypoint_detector`` (visual_irl/detector_node.py, config/keypoint_detector.yaml) on the
camera's colour image, aligned depth and camera_info, and ``irl_reward`` (visual_irl/node.py,
config/irl_reward.yaml) on the detector's keypoints; both configure and activate themselves. The
camera topics default to a RealSense driver's (realsense2_camera with ``align_depth.enable:=true``);
``folder:=DIR`` also starts ``rgbd_player`` (visual_irl/rgbd_player.py) on those topics instead of a
camera, with ``publish_onion:=true`` standing in for the onion detector. rviz shows the skeleton
(``rviz:=false`` to leave it out).
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition, LaunchConfigurationNotEquals
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from launch import LaunchDescription


def generate_launch_description():
    share = get_package_share_directory("dynamics_stack")
    color = LaunchConfiguration("color_topic")
    depth = LaunchConfiguration("depth_topic")
    info = LaunchConfiguration("camera_info_topic")
    keypoints = LaunchConfiguration("keypoints_topic")
    objects = LaunchConfiguration("objects_topic")
    return LaunchDescription(
        [
            DeclareLaunchArgument(
                "detector_params_file",
                default_value=os.path.join(share, "config", "keypoint_detector.yaml"),
                description="parameter file of the keypoint_detector node",
            ),
            DeclareLaunchArgument(
                "params_file",
                default_value=os.path.join(share, "config", "irl_reward.yaml"),
                description="parameter file of the irl_reward node",
            ),
            DeclareLaunchArgument("color_topic", default_value="/camera/camera/color/image_raw"),
            DeclareLaunchArgument("depth_topic", default_value="/camera/camera/aligned_depth_to_color/image_raw"),
            DeclareLaunchArgument("camera_info_topic", default_value="/camera/camera/color/camera_info"),
            DeclareLaunchArgument("keypoints_topic", default_value="/keypoints", description="PointCloud2"),
            DeclareLaunchArgument("objects_topic", default_value="/objects", description="PointCloud2 in"),
            DeclareLaunchArgument("folder", default_value="", description="RGB-D folder to play instead of a camera"),
            DeclareLaunchArgument("publish_onion", default_value="false", description="player: publish an onion"),
            DeclareLaunchArgument("rviz", default_value="true", description="start rviz2"),
            Node(
                package="dynamics_stack",
                executable="rgbd_player",
                name="rgbd_player",
                output="screen",
                parameters=[
                    os.path.join(share, "config", "rgbd_player.yaml"),
                    {"folder": LaunchConfiguration("folder"), "publish_onion": LaunchConfiguration("publish_onion")},
                ],
                remappings=[
                    ("color/image_raw", color),
                    ("depth/image_raw", depth),
                    ("color/camera_info", info),
                    ("objects", objects),
                ],
                condition=LaunchConfigurationNotEquals("folder", ""),
            ),
            Node(
                package="dynamics_stack",
                executable="keypoint_detector",
                name="keypoint_detector",
                output="screen",
                parameters=[LaunchConfiguration("detector_params_file")],
                remappings=[
                    ("color/image_raw", color),
                    ("depth/image_raw", depth),
                    ("color/camera_info", info),
                    ("keypoints", keypoints),
                ],
            ),
            Node(
                package="dynamics_stack",
                executable="irl_reward",
                name="irl_reward",
                output="screen",
                parameters=[LaunchConfiguration("params_file")],
                remappings=[("keypoints", keypoints), ("objects", objects)],
            ),
            Node(
                package="rviz2",
                executable="rviz2",
                name="rviz2",
                arguments=["-d", os.path.join(share, "config", "irl_reward.rviz")],
                condition=IfCondition(LaunchConfiguration("rviz")),
            ),
        ]
    )
