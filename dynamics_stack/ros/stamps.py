"""Message stamps <-> seconds, for any object with ``sec`` and ``nanosec`` (rclpy or rosbags messages).

Imports nothing from ROS, so bag readers and rclpy-free code use the same conversion as the nodes.
"""

from __future__ import annotations

import math
from typing import Any


def stamp_to_sec(stamp: Any) -> float:
    """Seconds of a ``builtin_interfaces/Time`` (``sec`` + ``nanosec``)."""
    return float(stamp.sec) + 1e-9 * float(stamp.nanosec)


def sec_to_parts(t: float) -> tuple[int, int]:
    """(sec, nanosec) of ``t`` seconds: whole seconds rounded down, nanoseconds rounded and kept below 1e9."""
    sec = math.floor(t)
    return int(sec), min(round((t - sec) * 1e9), 999_999_999)


def now_sec(node: Any) -> float:
    """The node's clock now (ROS time, or simulated time under use_sim_time), in seconds."""
    return node.get_clock().now().nanoseconds * 1e-9
