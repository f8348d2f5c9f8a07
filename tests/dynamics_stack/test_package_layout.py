"""The ROS 2 package metadata: package.xml format 3, ament resource marker, installed data files."""

from __future__ import annotations

import ast
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_package_xml_is_format_3_and_names_the_package():
    root = ET.parse(ROOT / "package.xml").getroot()
    assert root.tag == "package" and root.attrib["format"] == "3"
    assert root.findtext("name") == "dynamics_stack"
    assert root.find("export/build_type").text == "ament_python"
    run_deps = {e.text for e in root.findall("exec_depend")}
    assert {"rclpy", "geometry_msgs", "sensor_msgs", "nav_msgs", "visualization_msgs"} <= run_deps


def test_ament_resource_marker_and_setup_cfg():
    assert (ROOT / "resource" / "dynamics_stack").is_file()
    cfg = (ROOT / "setup.cfg").read_text()
    assert "install_scripts=$base/lib/dynamics_stack" in cfg  # where `ros2 run` looks for executables


def test_setup_installs_launch_config_models_and_the_cli():
    tree = ast.parse((ROOT / "setup.py").read_text())
    source = ast.unparse(tree)
    for folder in ("launch", "config", "models"):
        assert f'data_files_under("{folder}"' in source.replace("'", '"')
    assert "dynstack = dynamics_stack.cli:main" in source


def test_project_folders_exist():
    for folder in (
        "dynamics_stack",
        "fdm_nav",
        "pgnd",
        "visual_irl",
        "sim",
        "launch",
        "config",
        "models",
        "tests",
        "benchmarks",
    ):
        assert (ROOT / folder).is_dir(), folder
