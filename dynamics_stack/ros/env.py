"""Environment for ROS 2 processes that must keep DDS traffic on loopback (tests, local tools).

Call :func:`configure_loopback_dds` before the first ``rclpy.init()`` of the
process: it points Fast DDS at the project's loopback-only profile, limits
discovery to localhost, picks a domain id (random unless given) and sends ROS
logs to a temporary folder. Robot deployments do not call it.
"""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path

PROFILE = Path(__file__).with_name("fastdds_loopback.xml")


def configure_loopback_dds(domain_id: int | None = None, log_dir: str | None = None) -> dict[str, str]:
    """Set the DDS/ROS environment variables for loopback-only traffic; returns what was set.

    Domain ids are drawn from 1..101 (Fast DDS maps them to ports below 32768 at
    the default port base), so parallel test runs rarely meet.
    """
    env = {
        "RMW_IMPLEMENTATION": "rmw_fastrtps_cpp",
        "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST",
        "FASTDDS_DEFAULT_PROFILES_FILE": str(PROFILE),
        "FASTRTPS_DEFAULT_PROFILES_FILE": str(PROFILE),
        "ROS_DOMAIN_ID": str(domain_id if domain_id is not None else random.randint(1, 101)),
        "ROS_LOG_DIR": log_dir or tempfile.mkdtemp(prefix="dynstack-roslog-"),
    }
    # Jazzy warns when the pre-Jazzy ROS_LOCALHOST_ONLY is set beside the new range setting.
    os.environ.pop("ROS_LOCALHOST_ONLY", None)
    os.environ.update(env)
    return env
