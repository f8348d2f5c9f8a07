"""The launch files, parameter files and rviz config agree with the nodes (launch_ros is not installable here).

Each ``launch/*.launch.py`` is read as Python source (AST), never executed:
every ``Node(...)`` of this package must name an executable that setup.py
installs and whose entry point exists; every parameter file and rviz config
it names must exist; every parameter it sets (inline or through a YAML
section for the node's name) must be one the node declares, with the type
the node declares (rclpy refuses an int for a double). The rviz config's
topics must be topics the nodes publish or subscribe. That the parameter
files hold every parameter with its default is tests/dynamics_stack/test_params.py.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
LAUNCH_FILES = sorted((ROOT / "launch").glob("navigation*.launch.py")) + sorted(
    (ROOT / "launch").glob("manipulation*.launch.py")
)  # the navigation and manipulation stacks
BUILTIN_PARAMS = {"use_sim_time"}  # declared by rclpy itself


def _console_scripts() -> dict[str, str]:
    tree = ast.parse((ROOT / "setup.py").read_text())
    scripts = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and " = " in node.value and ":" in node.value:
            name, target = (s.strip() for s in node.value.split("=", 1))
            scripts[name] = target
    return scripts


def _declared(executable: str) -> dict[str, object]:
    from dynamics_stack.cli import build_parser
    from dynamics_stack.params import NODES, ros_parameters

    build_parser()  # the packages' command groups register their nodes
    assert executable in NODES, f"no parameter list known for executable {executable}"
    return ros_parameters(NODES[executable].cfg_class()())


class LaunchSource:
    """Resolves the strings a launch file builds (constants, variables, os.path.join, launch arguments)."""

    def __init__(self, path: Path):
        self.path = path
        self.tree = ast.parse(path.read_text())
        self.assign = {
            t.id: n.value
            for n in ast.walk(self.tree)
            if isinstance(n, ast.Assign)
            for t in n.targets
            if isinstance(t, ast.Name)
        }
        self.arguments = {}
        for call in self.calls("DeclareLaunchArgument"):
            kw = {k.arg: k.value for k in call.keywords}
            self.arguments[call.args[0].value] = kw.get("default_value")

    def calls(self, name: str) -> list[ast.Call]:
        return [
            n
            for n in ast.walk(self.tree)
            if isinstance(n, ast.Call) and getattr(n.func, "id", getattr(n.func, "attr", None)) == name
        ]

    def resolve(self, expr: ast.AST | None):
        """A string (file names: the last path component joined under the share folder), a dict, or None."""
        if expr is None:
            return None
        if isinstance(expr, ast.Constant):
            return expr.value
        if isinstance(expr, ast.Name):
            return self.resolve(self.assign.get(expr.id))
        if isinstance(expr, ast.Dict):
            return {self.resolve(k): v for k, v in zip(expr.keys, expr.values, strict=True)}
        if isinstance(expr, ast.Call):
            func = getattr(expr.func, "id", getattr(expr.func, "attr", None))
            if func == "join":  # os.path.join(share, "config", "x.yaml") -> config/x.yaml
                parts = [self.resolve(a) for a in expr.args[1:]]
                return "/".join(str(p) for p in parts)
            if func == "LaunchConfiguration":
                return self.resolve(self.arguments.get(expr.args[0].value))
        return None


def _nodes(src: LaunchSource) -> list[dict]:
    nodes = []
    for call in src.calls("Node"):
        kw = {k.arg: k.value for k in call.keywords}
        nodes.append(
            {
                "package": src.resolve(kw.get("package")),
                "executable": src.resolve(kw.get("executable")),
                "name": src.resolve(kw.get("name")),
                "parameters": list(kw["parameters"].elts) if "parameters" in kw else [],
                "arguments": [src.resolve(a) for a in kw["arguments"].elts] if "arguments" in kw else [],
            }
        )
    return nodes


def _same_type(value, default) -> bool:
    if isinstance(default, list):
        return isinstance(value, list) and all(_same_type(v, default[0]) for v in value) if default else True
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(default, bool)
    return type(value) is type(default)


def test_there_are_two_navigation_launch_files():
    assert {p.name for p in LAUNCH_FILES} >= {"navigation.launch.py", "navigation_sim.launch.py"}


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_file_names_existing_executables_files_and_declared_parameters(path):
    src = LaunchSource(path)
    scripts = _console_scripts()
    nodes = _nodes(src)
    assert nodes, f"{path.name} starts no node"
    for node in nodes:
        if node["package"] == "rviz2":
            rviz = [a for a in node["arguments"] if isinstance(a, str) and a.endswith(".rviz")]
            assert rviz and all((ROOT / r).is_file() for r in rviz), (path.name, rviz)
            continue
        assert node["package"] == "dynamics_stack", node
        exe = node["executable"]
        assert exe in scripts, f"{path.name}: executable {exe!r} is not a console_script of setup.py"
        module, func = scripts[exe].split(":")
        assert callable(getattr(importlib.import_module(module), func)), scripts[exe]
        declared = _declared(exe)
        checked = 0
        for item in node["parameters"]:
            value = src.resolve(item)
            if isinstance(value, dict):  # inline parameters
                for key in value:
                    assert key in declared or key in BUILTIN_PARAMS, f"{path.name}: {exe} has no parameter {key!r}"
                    checked += 1
                continue
            assert isinstance(value, str) and value.endswith(".yaml"), f"{path.name}: unresolved parameters {item}"
            file = ROOT / value
            assert file.is_file(), f"{path.name}: parameter file {value} does not exist"
            data = yaml.safe_load(file.read_text())
            section = data.get(node["name"], {}).get("ros__parameters", {})
            for key, v in section.items():
                assert key in declared or key in BUILTIN_PARAMS, f"{value}: {exe} has no parameter {key!r}"
                assert key in BUILTIN_PARAMS or _same_type(v, declared[key]), (
                    f"{value}: {key} = {v!r} is not of the declared type {type(declared[key]).__name__}"
                )
                checked += 1
        assert checked, f"{path.name}: no parameters checked for {exe}"


def test_nodes_really_declare_those_parameters_and_rviz_topics_exist(ros_context):
    from fdm_nav.node import PlannerNode
    from sim.terrain_node import TerrainSimNode

    planner = PlannerNode(context=ros_context)
    sim = TerrainSimNode(context=ros_context)
    try:
        assert planner.trigger_configure().value is not None and planner.settings is not None
        for node, exe in ((planner, "fdm_planner"), (sim, "terrain_sim")):
            missing = [k for k in _declared(exe) if not node.has_parameter(k)]
            assert not missing, (exe, missing)
        topics = {p.topic_name for n in (planner, sim) for p in list(n.publishers) + list(n.subscriptions)}
    finally:
        sim.destroy_node()
        planner.destroy_node()
    rviz = yaml.safe_load((ROOT / "config" / "navigation.rviz").read_text())
    manager = rviz["Visualization Manager"]
    assert manager["Global Options"]["Fixed Frame"] == "odom"
    named = [d["Topic"]["Value"] for d in manager["Displays"] if "Topic" in d]
    named += [t["Topic"]["Value"] for t in manager["Tools"] if t["Class"].endswith("SetGoal")]
    assert "/goal_pose" in named
    assert set(named) <= topics, set(named) - topics
