"""The core, models, planners, control cycles and simulators import and run with rclpy made unimportable.

Only the ROS adapters may import rclpy or message packages: the node files,
their rviz marker modules and ``dynamics_stack.ros`` (``ROS_MODULES``). A new
node adds its files there; everything else is checked by walking the packages.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Every package that must stay free of rclpy; sub-modules listed where they exist.
CORE_MODULES = [
    "dynamics_stack",
    "dynamics_stack.mppi",
    "dynamics_stack.runtime",
    "dynamics_stack.checkpoint",
    "dynamics_stack.config",
    "dynamics_stack.atomic",
    "dynamics_stack.cli",
    "dynamics_stack.ros.env",
    "dynamics_stack.ros.nav_types",
    "dynamics_stack.ros.pointcloud",
    "dynamics_stack.ros.stamps",
    "dynamics_stack.params",
    "fdm_nav.control_cycle",
    "fdm_nav.node_cfg",
    "visual_irl.reward_cycle",
    "visual_irl.node_cfg",
    "sim.terrain_node_cfg",
    "dynamics_stack.examples.unicycle",
    "fdm_nav",
    "pgnd",
    "visual_irl",
    "sim",
]
ROS_PACKAGES = (
    "rclpy", "rclpy.node", "sensor_msgs", "geometry_msgs", "std_msgs", "nav_msgs", "visualization_msgs",
    "trajectory_msgs",
)  # fmt: skip
# The ROS adapters: node files and what only they use. dynamics_stack.ros.* is ROS-side too, but for the
# modules listed in CORE_MODULES (loopback setup, plain message numbers, stamps, PointCloud2 reading).
ROS_MODULES = {
    "fdm_nav.node",
    "fdm_nav.markers",
    "sim.terrain_node",
    "sim.manip_node",
    "visual_irl.node",
    "visual_irl.markers",
    "pgnd.perception_node",
    "pgnd.planner_node",
    "pgnd.manip_markers",
}


def _run_blocked(code: str) -> subprocess.CompletedProcess:
    blocker = "import sys\n" + "".join(f"sys.modules[{name!r}] = None\n" for name in ROS_PACKAGES)
    return subprocess.run(
        [sys.executable, "-c", blocker + textwrap.dedent(code)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_blocking_really_blocks_rclpy():
    proc = _run_blocked("import rclpy")
    assert proc.returncode != 0 and "ModuleNotFoundError" in proc.stderr


@pytest.mark.parametrize("module", CORE_MODULES)
def test_module_imports_without_rclpy(module):
    proc = _run_blocked(f"import {module}")
    assert proc.returncode == 0, proc.stderr


def test_every_nav_manip_irl_sim_module_imports_without_rclpy():
    # Walks the packages so new core modules are covered without editing this list;
    # the ROS adapters (ROS_MODULES and dynamics_stack.ros) are the only exceptions.
    proc = _run_blocked(
        f"""
        import importlib, pkgutil
        for pkg_name in ("dynamics_stack", "fdm_nav", "pgnd", "visual_irl", "sim"):
            pkg = importlib.import_module(pkg_name)
            for info in pkgutil.walk_packages(pkg.__path__, pkg_name + "."):
                if info.name in {sorted(ROS_MODULES)!r} or info.name.startswith("dynamics_stack.ros."):
                    continue
                importlib.import_module(info.name)
        print("ok")
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("ok")


def test_mppi_example_runs_without_rclpy():
    proc = _run_blocked(
        """
        from dynamics_stack.examples.unicycle import UnicycleCfg, make_unicycle_mppi, run_unicycle_episode
        problem = UnicycleCfg()
        print(run_unicycle_episode(problem, make_unicycle_mppi(problem)).reached)
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "True"
