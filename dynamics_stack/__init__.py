"""Shared core of dynamics_stack: MPPI engine, model runtime, checkpoints, configs, CLI.

Nothing in this package imports rclpy at import time; the ROS helpers live in
``dynamics_stack.ros`` and are only imported by nodes and tests that need them.
"""

__version__ = "0.1.0"
