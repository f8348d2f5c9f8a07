"""The reward node with rviz: ``ros2 launch dynamics_stack irl_reward.launch.py``.

Starts ``irl_reward`` (visual_irl/node.py) with config/irl_reward.yaml (or
``params_file:=...``); it configures and activates itself (parameter
``autostart``). Remap its inputs to the keypoint detector's topics: keypoints
(sensor_msgs/PointCloud2, fields x y z confidence, 17 COCO-17 points in index
order, camera optical frame) and objects (sensor_msgs/PointCloud2, fields
x y z blemished, first point = the onion in hand). rviz shows the skeleton
markers in the camera frame (``rviz:=false`` to leave it out).
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from launch import LaunchDescription


def generate_launch_description():
    share = get_package_share_directory("dynamics_stack")
    return LaunchDescription(
        [
            DeclareLaunchArgument(
                "params_file",
                default_value=os.path.join(share, "config", "irl_reward.yaml"),
                description="parameter file of the irl_reward node",
            ),
            DeclareLaunchArgument("keypoints_topic", default_value="/keypoints", description="PointCloud2 in"),
            DeclareLaunchArgument("objects_topic", default_value="/objects", description="PointCloud2 in"),
            DeclareLaunchArgument("rviz", default_value="true", description="start rviz2"),
            Node(
                package="dynamics_stack",
                executable="irl_reward",
                name="irl_reward",
                output="screen",
                parameters=[LaunchConfiguration("params_file")],
                remappings=[
                    ("keypoints", LaunchConfiguration("keypoints_topic")),
                    ("objects", LaunchConfiguration("objects_topic")),
                ],
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
