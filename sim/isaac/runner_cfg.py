"""Settings of the Isaac Sim runner (``sim/isaac/run_scenario.py``): ``IsaacRunnerCfg`` and its command line.

Every field is one ``--option`` of the runner (``parse_args``), so a
default lives here only. No Isaac import.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from dataclasses import dataclass

from dynamics_stack.config import field_docs
from sim.terrain_node_cfg import TerrainSimNodeCfg


@dataclass(frozen=True, kw_only=True)
class IsaacRunnerCfg:
    """Everything the Isaac runner takes."""

    scenario: str
    """Scenario YAML (any file in the sim/scenarios/nav format) or a shipped scenario's name."""
    robot_usd: str
    """USD of the robot (e.g. Isaac Lab's ANYmal-D asset); local path or URL Isaac Sim can open."""
    policy: str
    """Exported locomotion policy (TorchScript policy.pt from Isaac Lab's rsl_rl play.py)."""
    out: str = "isaac_episode.json"
    """Episode JSON to write (format dynstack-nav-episode/1, the embedded benchmark's episode fields)."""
    stage: str = ""
    """Exported scenario stage (.usdc from dynstack nav export-usd); empty: exported next to ``out`` first."""
    planner: str = "fdm"
    """Label of the planner driving cmd_vel, written into the episode (the runner does not start it)."""
    headless: bool = True
    """Run Isaac Sim without a window."""
    map_size: float = TerrainSimNodeCfg().map_size
    """Edge [m] of the square elevation map published around the robot (terrain_sim's default)."""
    stiffness: float = 40.0
    """Joint PD stiffness [N m/rad]: Isaac Lab's ANYDRIVE_3_SIMPLE_ACTUATOR_CFG (the policy trained on an LSTM
    actuator model; this ideal PD drive is a stand-in, see docs/isaac_sim.md)."""
    damping: float = 5.0
    """Joint PD damping [N m s/rad] (ANYDRIVE_3_SIMPLE_ACTUATOR_CFG)."""
    effort_limit: float = 80.0
    """Joint torque limit [N m] (ANYDRIVE_3_SIMPLE_ACTUATOR_CFG effort_limit)."""
    base_link: str = "base"
    """Name of the base body in the robot asset (contact sensor for the collision rule)."""

    def __post_init__(self) -> None:
        for name in ("scenario", "robot_usd", "policy", "out"):
            if not getattr(self, name):
                raise ValueError(f"{name} must not be empty")
        for name in ("map_size", "stiffness", "damping", "effort_limit"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be finite and > 0, got {value}")


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def build_parser() -> argparse.ArgumentParser:
    """One option per field, help from the field docstrings' first sentence, defaults from the dataclass."""
    parser = argparse.ArgumentParser(
        prog="run_scenario.py",
        description="Run one navigation scenario in Isaac Sim 5.x behind the runner contract's ROS 2 topics "
        "(docs/isaac_sim.md). Not run in this repository.",
    )
    docs = field_docs(IsaacRunnerCfg)
    for f in dataclasses.fields(IsaacRunnerCfg):
        required = f.default is dataclasses.MISSING
        if f.type in ("bool", bool):
            parser.add_argument(
                _flag(f.name), action=argparse.BooleanOptionalAction, default=f.default, help=docs[f.name]
            )
            continue
        kind = float if f.type in ("float", float) else str
        default = None if required else f.default
        parser.add_argument(_flag(f.name), type=kind, required=required, default=default, help=docs[f.name])
    return parser


def parse_args(argv: list[str] | None = None) -> IsaacRunnerCfg:
    """The runner's settings from its command line (a bad value exits with the field's name)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return IsaacRunnerCfg(**vars(args))
    except ValueError as exc:
        parser.error(str(exc))
        raise  # unreachable: parser.error exits
