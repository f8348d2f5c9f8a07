"""The navigation planner on the robot: ``ros2 launch dynamics_stack navigation.launch.py``.

Starts ``fdm_planner`` (fdm_nav/node.py) with config/navigation.yaml (or
``params_file:=...``). The node configures and activates itself (parameter
``autostart``). Remap the inputs to the robot's topics with the launch
arguments: odometry (nav_msgs/Odometry, REP-105 odom -> base_link), the
elevation map (sensor_msgs/PointCloud2 of the elevation layer, in the
odometry frame) and cmd_vel. Goals come on goal_pose (rviz "2D Goal Pose").
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from launch import LaunchDescription


def generate_launch_description():
    share = get_package_share_directory("dynamics_stack")
    return LaunchDescription(
        [
            DeclareLaunchArgument(
                "params_file",
                default_value=os.path.join(share, "config", "navigation.yaml"),
                description="parameter file of the fdm_planner node",
            ),
            DeclareLaunchArgument("use_sim_time", default_value="false", description="follow /clock"),
            DeclareLaunchArgument("odometry_topic", default_value="/odometry", description="nav_msgs/Odometry"),
            DeclareLaunchArgument(
                "elevation_topic", default_value="/elevation_map", description="sensor_msgs/PointCloud2"
            ),
            DeclareLaunchArgument("cmd_vel_topic", default_value="/cmd_vel", description="velocity command out"),
            Node(
                package="dynamics_stack",
                executable="fdm_planner",
                name="fdm_planner",
                output="screen",
                parameters=[
                    LaunchConfiguration("params_file"),
                    {"use_sim_time": LaunchConfiguration("use_sim_time")},
                ],
                remappings=[
                    ("odometry", LaunchConfiguration("odometry_topic")),
                    ("elevation_map", LaunchConfiguration("elevation_topic")),
                    ("cmd_vel", LaunchConfiguration("cmd_vel_topic")),
                ],
            ),
        ]
    )
