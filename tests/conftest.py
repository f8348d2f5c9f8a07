"""Test harness: keep DDS on loopback before anything can call rclpy.init().

Runs at collection start, before any test module imports rclpy or mujoco: Fast DDS gets the
project's loopback-only profile, discovery is limited to localhost, the domain id
is random per run, and ROS logs go to a temporary folder.
"""

from __future__ import annotations

import pytest

import sim.gl_backend  # noqa: F401  (MuJoCo's offscreen renderer: OSMesa when there is no display)
from dynamics_stack.ros.env import configure_loopback_dds

DDS_ENV = configure_loopback_dds()


@pytest.fixture
def ros_context():
    """A fresh rclpy context for one test, shut down afterwards."""
    import rclpy
    from rclpy.context import Context

    context = Context()
    rclpy.init(context=context)
    try:
        yield context
    finally:
        context.try_shutdown()


@pytest.fixture
def spin_until():
    """``spin_until(executor, predicate, timeout_s)`` -> bool: spin until the predicate holds.

    The timeout only bounds a test that would otherwise hang; no test asserts on time.
    """
    import time

    def spin(executor, predicate, timeout_s: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if predicate():
                return True
            executor.spin_once(timeout_sec=0.05)
        return predicate()

    return spin
