"""Imports run one way: core <- simulators <- applications, and the robot's process never loads the simulator.

Layers, lowest first (a module may import its own package and the layers below it):

1. ``dynamics_stack``: the shared core; it names no package above it (the
   command groups are found through entry points, see setup.py).
2. ``fdm_nav.observation``: the observation contract, a leaf importing nothing
   of the project, which the simulator builds its sensors on; and
   ``fdm_nav.runner_contract``, the topics a simulator provides for the
   planner, a leaf that imports only the observation contract.
3. ``sim``: the embedded simulators and their nodes.
4. ``fdm_nav``, ``pgnd``, ``visual_irl``: the three applications, which do not
   import each other.

Every import counts, also the ones inside functions. Read as source (AST).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("dynamics_stack", "sim", "fdm_nav", "pgnd", "visual_irl")
CONTRACT = "fdm_nav.observation"
RUNNER_CONTRACT = "fdm_nav.runner_contract"
ALLOWED = {
    "dynamics_stack": {"dynamics_stack"},
    CONTRACT: set(),
    RUNNER_CONTRACT: {CONTRACT},
    "sim": {"dynamics_stack", "sim", CONTRACT, RUNNER_CONTRACT},
    "fdm_nav": {"dynamics_stack", "sim", "fdm_nav", CONTRACT, RUNNER_CONTRACT},
    "pgnd": {"dynamics_stack", "sim", "pgnd"},
    "visual_irl": {"dynamics_stack", "sim", "visual_irl"},
}


def _layer(module: str) -> str:
    for leaf in (CONTRACT, RUNNER_CONTRACT):
        if module == leaf or module.startswith(leaf + "."):
            return leaf
    return module.split(".")[0]


def _imports(path: Path) -> set[str]:
    """Absolute project modules imported anywhere in ``path``."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.update(f"{node.module}.{alias.name}" for alias in node.names)  # a name or a submodule
    return {n for n in names if n.split(".")[0] in PACKAGES}


def _modules() -> list[tuple[str, Path]]:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found.append((module.removesuffix(".__init__"), path))
    return found


def test_no_import_runs_upward_or_sideways():
    bad = []
    for module, path in _modules():
        layer = _layer(module)
        bad += [f"{module} -> {m}" for m in sorted(_imports(path)) if _layer(m) not in ALLOWED[layer]]
    assert not bad, "imports against the layers:\n" + "\n".join(bad)


def test_the_robot_side_node_loads_no_simulator():
    """Importing the planner node loads the height-map container of ``sim`` and nothing else of it."""
    code = "import sys, fdm_nav.node; print(sorted(m for m in sys.modules if m == 'sim' or m.startswith('sim.')))"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "['sim', 'sim.height_map']"
