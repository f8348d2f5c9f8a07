"""The whole stack in simulation: ``ros2 launch dynamics_stack navigation_sim.launch.py [scenario:=NAME]``.

Starts ``terrain_sim`` (sim/terrain_node.py, one scenario of the embedded
simulator in real time), ``fdm_planner`` (fdm_nav/node.py) and rviz2 with
config/navigation.rviz. Parameters: config/navigation.yaml, then
config/navigation_sim.yaml (later files win), then the launch arguments.
Send a goal with rviz's "2D Goal Pose" tool, or ``publish_goal:=true`` to
have the simulator send the scenario's goal after a few seconds.
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
    robot_params = os.path.join(share, "config", "navigation.yaml")
    sim_params = os.path.join(share, "config", "navigation_sim.yaml")
    rviz_config = os.path.join(share, "config", "navigation.rviz")
    return LaunchDescription(
        [
            DeclareLaunchArgument("scenario", default_value="flat_01", description="scenario name or YAML path"),
            DeclareLaunchArgument("publish_goal", default_value="false", description="send the scenario goal"),
            DeclareLaunchArgument("backend", default_value="onnx", description="planner backend: onnx or torch"),
            DeclareLaunchArgument("rviz", default_value="true", description="start rviz2"),
            Node(
                package="dynamics_stack",
                executable="terrain_sim",
                name="terrain_sim",
                output="screen",
                parameters=[
                    sim_params,
                    {
                        "scenario": LaunchConfiguration("scenario"),
                        "publish_goal": LaunchConfiguration("publish_goal"),
                    },
                ],
            ),
            Node(
                package="dynamics_stack",
                executable="fdm_planner",
                name="fdm_planner",
                output="screen",
                parameters=[robot_params, sim_params, {"backend": LaunchConfiguration("backend")}],
            ),
            Node(
                package="rviz2",
                executable="rviz2",
                name="rviz2",
                arguments=["-d", rviz_config],
                condition=IfCondition(LaunchConfiguration("rviz")),
            ),
        ]
    )
