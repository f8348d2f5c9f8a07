"""launch/irl_reward.launch.py, its parameter file and rviz config agree with the node (launch_ros is not
installable here, so the launch file is read as Python source, never executed; same approach as
tests/fdm_nav/test_launch_files.py)."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import yaml

from dynamics_stack.params import ros_parameters
from visual_irl.node import IrlRewardNode
from visual_irl.node_cfg import IrlRewardNodeCfg

ROOT = Path(__file__).resolve().parents[2]
LAUNCH = ROOT / "launch" / "irl_reward.launch.py"


def _calls(tree: ast.AST, name: str) -> list[ast.Call]:
    return [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and getattr(n.func, "id", getattr(n.func, "attr", None)) == name
    ]


def _share_path(expr: ast.AST) -> str | None:
    """os.path.join(share, "config", "x.yaml") -> "config/x.yaml"."""
    if isinstance(expr, ast.Call) and getattr(expr.func, "attr", None) == "join":
        return "/".join(a.value for a in expr.args[1:] if isinstance(a, ast.Constant))
    return None


def test_launch_file_starts_the_installed_executable_with_existing_files():
    tree = ast.parse(LAUNCH.read_text())
    args = {c.args[0].value: {k.arg: k.value for k in c.keywords} for c in _calls(tree, "DeclareLaunchArgument")}
    nodes = [{k.arg: k.value for k in c.keywords} for c in _calls(tree, "Node")]
    ours = [n for n in nodes if n["package"].value == "dynamics_stack"]
    assert len(ours) == 1 and ours[0]["executable"].value == "irl_reward" and ours[0]["name"].value == "irl_reward"
    setup = (ROOT / "setup.py").read_text()
    assert '"irl_reward = visual_irl.node:main"' in setup
    assert callable(importlib.import_module("visual_irl.node").main)
    params_file = _share_path(args["params_file"]["default_value"])
    assert params_file == "config/irl_reward.yaml" and (ROOT / params_file).is_file()
    rviz = [n for n in nodes if n["package"].value == "rviz2"]
    rviz_file = _share_path(rviz[0]["arguments"].elts[1])
    assert rviz_file == "config/irl_reward.rviz" and (ROOT / rviz_file).is_file()
    remapped = {r.elts[0].value for r in ours[0]["remappings"].elts}
    assert remapped == {"keypoints", "objects"}


def test_parameter_file_sets_every_declared_parameter_with_its_type():
    declared = ros_parameters(IrlRewardNodeCfg())
    section = yaml.safe_load((ROOT / "config" / "irl_reward.yaml").read_text())["irl_reward"]["ros__parameters"]
    assert set(section) == set(declared)
    for key, value in section.items():
        assert type(value) is type(declared[key]), (key, value, declared[key])


def test_node_declares_those_parameters_and_rviz_reads_its_topics(ros_context, tiny_model):
    from rclpy.parameter import Parameter

    node = IrlRewardNode(context=ros_context, parameter_overrides=[Parameter("model", value=str(tiny_model[2].path))])
    try:
        assert all(node.has_parameter(k) for k in ros_parameters(IrlRewardNodeCfg()))
        node.trigger_configure()
        topics = {p.topic_name for p in list(node.publishers) + list(node.subscriptions)}
    finally:
        node.destroy_node()
    assert {"/reward", "/joint_targets", "/skeleton", "/diagnostics", "/keypoints", "/objects"} <= topics
    rviz = yaml.safe_load((ROOT / "config" / "irl_reward.rviz").read_text())
    named = [d["Topic"]["Value"] for d in rviz["Visualization Manager"]["Displays"] if "Topic" in d]
    assert named and set(named) <= topics
