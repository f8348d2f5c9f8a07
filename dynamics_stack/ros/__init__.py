"""What the nodes share on the ROS side: parameters, spinning, message <-> numpy conversions, diagnostics, rosbag2, DDS setup.

``env``, ``nav_types``, ``stamps`` and the PointCloud2 reader in ``pointcloud``
import nothing from ROS (``env`` must run before the first ``rclpy.init()``);
the other modules import rclpy or message packages. How a node uses them:
docs/ros_nodes.md, "How to write a node here".
"""
