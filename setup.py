"""ament_python setup for the ROS 2 package ``dynamics_stack``.

The same file serves two routes: ``colcon build`` in a ROS 2 Jazzy workspace
(data files land in ``share/dynamics_stack`` so ``ros2 launch`` finds them) and
``pip install -e .`` into the project's ``.venv`` (what ``make`` does here).
"""

from pathlib import Path

from setuptools import find_packages, setup

PACKAGE = "dynamics_stack"
HERE = Path(__file__).parent


def data_files_under(folder: str, patterns: tuple[str, ...]) -> list[tuple[str, list[str]]]:
    """Every file under ``folder`` matching ``patterns``, grouped by directory for ``share/``."""
    groups: dict[str, list[str]] = {}
    for pattern in patterns:
        for path in sorted((HERE / folder).rglob(pattern)):
            if path.is_file():
                rel = path.relative_to(HERE)
                groups.setdefault(str(Path("share") / PACKAGE / rel.parent), []).append(str(rel))
    return sorted(groups.items())


setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(include=[f"{p}*" for p in ("dynamics_stack", "fdm_nav", "pgnd", "visual_irl", "sim")]),
    package_data={"": ["*.xml", "*.yaml", "*.json"]},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        *data_files_under("launch", ("*.py",)),
        *data_files_under("config", ("*.yaml", "*.rviz")),
        *data_files_under("models", ("*.json", "*.onnx", "*.safetensors", "*.md")),
    ],
    install_requires=["setuptools"],
    zip_safe=False,
    maintainer="dynamics_stack developers",
    maintainer_email="dev@dynamics-stack.invalid",
    description="Learned dynamics models (FDM navigation, PGND manipulation, visual IRL reward) on ROS 2.",
    license="Apache-2.0",
    tests_require=["pytest"],
    entry_points={
        "console_scripts": [
            "dynstack = dynamics_stack.cli:main",
            "fdm_planner = fdm_nav.node:main",
            "terrain_sim = sim.terrain_node:main",
            "irl_reward = visual_irl.node:main",
            "manip_sim = sim.manip_node:main",
            "pgnd_perception = pgnd.perception_node:main",
            "pgnd_planner = pgnd.planner_node:main",
        ],
        # Command groups of `dynstack` (dynamics_stack/cli.py): name = module:register.
        "dynstack.commands": [
            "nav = fdm_nav.cli:register",
            "manip = pgnd.cli:register",
            "irl = visual_irl.cli:register",
        ],
    },
)
