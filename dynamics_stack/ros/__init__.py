"""Thin rclpy helpers shared by the nodes: DDS-on-loopback setup, message <-> numpy conversions.

``dynamics_stack.ros.env`` imports nothing from ROS (it must run before the first
``rclpy.init()``); the other modules import ROS message packages.
"""
