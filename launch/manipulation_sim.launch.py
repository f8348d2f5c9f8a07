"""The manipulation stack in simulation: ``ros2 launch dynamics_stack manipulation_sim.launch.py [task:=NAME]``.

Starts ``manip_sim`` (sim/manip_node.py: one task in MuJoCo with four RGB-D
cameras and a gripper), ``pgnd_perception`` (images -> tracked particles),
``pgnd_planner`` (PGND-MPPI -> gripper targets) and rviz2 with
config/manipulation.rviz. Parameters: config/manipulation_sim.yaml and
config/manipulation.yaml, then the launch arguments. The simulator publishes
/clock (rendering runs slower than real time on a CPU), so the other nodes
run on simulated time. The defaults are the rope's; for a cloth task:
``task:=cloth_translate_01 model:=models/pgnd_cloth_planning.card.json particles:=400 surface_offset:=0.004``.
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
    sim_params = os.path.join(share, "config", "manipulation_sim.yaml")
    robot_params = os.path.join(share, "config", "manipulation.yaml")
    rviz_config = os.path.join(share, "config", "manipulation.rviz")
    return LaunchDescription(
        [
            DeclareLaunchArgument("task", default_value="rope_straighten_01", description="task name or YAML path"),
            DeclareLaunchArgument(
                "model", default_value="models/pgnd_rope_planning.card.json", description="PGND model card"
            ),
            DeclareLaunchArgument("particles", default_value="40", description="the model's particle count"),
            DeclareLaunchArgument("surface_offset", default_value="0.0055", description="half the object's thickness"),
            DeclareLaunchArgument("rviz", default_value="true", description="start rviz2"),
            Node(
                package="dynamics_stack",
                executable="manip_sim",
                name="manip_sim",
                output="screen",
                parameters=[sim_params, {"scenario": LaunchConfiguration("task")}],
            ),
            Node(
                package="dynamics_stack",
                executable="pgnd_perception",
                name="pgnd_perception",
                output="screen",
                parameters=[
                    robot_params,
                    {
                        "use_sim_time": True,
                        "perception.particles": LaunchConfiguration("particles"),
                        "perception.surface_offset": LaunchConfiguration("surface_offset"),
                    },
                ],
            ),
            Node(
                package="dynamics_stack",
                executable="pgnd_planner",
                name="pgnd_planner",
                output="screen",
                parameters=[robot_params, {"use_sim_time": True, "model": LaunchConfiguration("model")}],
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
