"""Navigation scenario files (YAML): terrain, platform, start, goal, time limit.

The same files feed the embedded simulator, the planner benchmark, the
terrain_sim node, ``dynstack nav export-usd`` and the Isaac Sim runner
(``sim/isaac/``). Format (every field required unless marked optional):

    name: stairs_up_01
    platform: anymal_d                    # a file in sim/platforms/ (or a path)
    terrain: {type: stairs, size: [20.0, 20.0], resolution: 0.05, seed: 3,
              params: {rise: 0.15, ...},  # the type's *Params fields (sim.terrain_gen)
              keep_clear: [[x, y, r]]}    # optional
    start: {x: -8.0, y: 0.0, yaw: 0.0}    # m, m, rad (map frame, map centred on 0)
    goal: {x: 8.0, y: 0.0, tolerance: 0.5}
    time_limit: 40.0                      # s
    description: "..."                    # optional
    tags: [direct_blocked]                # optional labels

``load_scenario`` refuses a bad file with a ``ConfigError`` that names the
file and the field: missing, unknown or mistyped fields, invalid terrain
parameters, and (unless ``check_geometry=False``) a start or goal off the map
or inside an obstacle or pit.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from dynamics_stack.config import ConfigError, cfg_from_dict, read_yaml_mapping
from sim.height_map import HeightMap
from sim.platform import load_platform
from sim.terrain import TerrainCfg, build_terrain
from sim.terrain_sim import TerrainSim

SCENARIO_DIR = Path(__file__).parent / "scenarios" / "nav"
REQUIRED = ("name", "platform", "terrain", "start", "goal", "time_limit")


def _finite(name: str, *values: float) -> None:
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"field '{name}': values must be finite, got {values}")


@dataclass(frozen=True, kw_only=True)
class StartCfg:
    """Start pose of the robot."""

    x: float
    """x (m, map frame)."""
    y: float
    """y (m, map frame)."""
    yaw: float = 0.0
    """Heading (rad)."""

    def __post_init__(self) -> None:
        _finite("start", self.x, self.y, self.yaw)


@dataclass(frozen=True, kw_only=True)
class GoalCfg:
    """Goal position and how close counts as reached."""

    x: float
    """x (m, map frame)."""
    y: float
    """y (m, map frame)."""
    tolerance: float = 0.5
    """Success radius (m); 0.5 m as in the authors' evaluation (Roth et al., RSS 2025; docs/references.md)."""

    def __post_init__(self) -> None:
        _finite("goal", self.x, self.y, self.tolerance)
        if self.tolerance <= 0:
            raise ValueError(f"field 'goal.tolerance': must be > 0, got {self.tolerance}")


@dataclass(frozen=True, kw_only=True)
class Scenario:
    """One navigation scenario (see the module docstring for the file format)."""

    name: str
    """Scenario name (the file stem by convention)."""
    platform: str
    """Platform name in sim/platforms/ or a path to a platform YAML."""
    terrain: TerrainCfg
    """The terrain (type, size, resolution, seed, params)."""
    start: StartCfg
    """Start pose."""
    goal: GoalCfg
    """Goal."""
    time_limit: float
    """Seconds allowed to reach the goal."""
    description: str = ""
    """What the scenario tests."""
    tags: tuple[str, ...] = ()
    """Free labels, e.g. 'direct_blocked', 'direct_deadly'."""
    source: str = field(default="", compare=False, init=False)
    """File the scenario was read from (set by load_scenario, not read from the file)."""

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("field 'name': must not be empty")
        if not (math.isfinite(self.time_limit) and 0 < self.time_limit <= 3600):
            raise ValueError(f"field 'time_limit': must be in (0, 3600] s, got {self.time_limit}")


def load_scenario(path: str | Path, check_geometry: bool = True) -> Scenario:
    """Read and validate a scenario file; errors name the file and the field."""
    path = Path(path)
    data = read_yaml_mapping(path, "scenario")
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise ConfigError(f"{path}: missing field(s) {', '.join(repr(m) for m in missing)}")
    for name in ("terrain", "start", "goal"):
        if not isinstance(data[name], dict):
            raise ConfigError(f"{path}: field '{name}': expected a mapping, got {data[name]!r}")
    for name, required in (("terrain", ("type",)), ("start", ("x", "y")), ("goal", ("x", "y"))):
        lack = [k for k in required if k not in data[name]]
        if lack:
            raise ConfigError(f"{path}: missing field(s) {', '.join(f'{name}.{k}' for k in lack)}")
    scenario = cfg_from_dict(Scenario, data, source=str(path))
    object.__setattr__(scenario, "source", str(path))  # frozen; the only field not from the file
    try:
        load_platform(scenario.platform)
    except ConfigError as exc:
        raise ConfigError(f"{path}: field 'platform': {exc}") from exc
    if check_geometry:
        check_geometry_of(scenario)
    return scenario


def check_geometry_of(scenario: Scenario, height_map: HeightMap | None = None) -> HeightMap:
    """Start and goal on the map and not inside an obstacle or pit; returns the built height map."""
    where = scenario.source or scenario.name
    hm = height_map if height_map is not None else build_terrain(scenario.terrain)
    platform = load_platform(scenario.platform)
    x0, x1, y0, y1 = hm.extent
    s, g = scenario.start, scenario.goal
    r = platform.radius
    if not (x0 + r <= s.x <= x1 - r and y0 + r <= s.y <= y1 - r):
        raise ConfigError(
            f"{where}: field 'start': ({s.x}, {s.y}) is off the map or within {r:.2f} m (the robot's radius) "
            f"of its border; the map spans x [{x0:.2f}, {x1:.2f}], y [{y0:.2f}, {y1:.2f}]"
        )
    if not (x0 <= g.x <= x1 and y0 <= g.y <= y1):
        raise ConfigError(
            f"{where}: field 'goal': ({g.x}, {g.y}) is off the map (x [{x0:.2f}, {x1:.2f}], y [{y0:.2f}, {y1:.2f}])"
        )
    sim = TerrainSim(platform, hm, 1, hm.device)
    if not bool(sim.pose_is_safe(torch.tensor([[s.x, s.y, s.yaw]], device=hm.device))[0]):
        raise ConfigError(
            f"{where}: field 'start': the robot's footprint at ({s.x}, {s.y}, yaw {s.yaw}) overlaps an obstacle or pit, "
            "or the ground there is too uneven to stand on"
        )
    if bool(hm.unsafe(torch.tensor([g.x, g.y], device=hm.device))):
        raise ConfigError(f"{where}: field 'goal': ({g.x}, {g.y}) is inside an obstacle or pit")
    return hm


def scenario_to_dict(scenario: Scenario) -> dict[str, Any]:
    """Plain dict of a scenario in the file format (for writing scenario files)."""
    t = scenario.terrain
    out: dict[str, Any] = {
        "name": scenario.name,
        "platform": scenario.platform,
        "terrain": {
            "type": t.type,
            "size": list(t.size),
            "resolution": t.resolution,
            "seed": t.seed,
            "params": dict(t.params),
        },
        "start": dataclasses.asdict(scenario.start),
        "goal": dataclasses.asdict(scenario.goal),
        "time_limit": scenario.time_limit,
    }
    if t.keep_clear:
        out["terrain"]["keep_clear"] = [list(z) for z in t.keep_clear]
    if scenario.description:
        out["description"] = scenario.description
    if scenario.tags:
        out["tags"] = list(scenario.tags)
    return out


def scenario_path(name: str | Path, folder: Path = SCENARIO_DIR) -> Path:
    """A scenario name of ``folder`` (sim/scenarios/nav/: ``flat_01``) or a file path (``my/scenario.yaml``)."""
    path = Path(name)
    if path.suffix in (".yaml", ".yml"):
        return path
    return folder / f"{name}.yaml"


def shipped_scenarios() -> list[Path]:
    """The scenario files shipped in sim/scenarios/nav/."""
    return sorted(SCENARIO_DIR.glob("*.yaml"))


def make_sim(
    scenario: Scenario,
    num_robots: int = 1,
    device: torch.device | str = "cpu",
    seed: int = 0,
    height_map: HeightMap | None = None,
) -> TerrainSim:
    """A ``TerrainSim`` of the scenario's platform and terrain with every robot reset to the start pose."""
    hm = height_map if height_map is not None else build_terrain(scenario.terrain, device)
    sim = TerrainSim(load_platform(scenario.platform), hm, num_robots, device, seed=seed)
    s = scenario.start
    sim.reset(torch.tensor([[s.x, s.y, s.yaw]], device=sim.device).expand(num_robots, 3))
    return sim


def goal_reached(scenario: Scenario, poses: torch.Tensor) -> torch.Tensor:  # poses [N, 3] -> [N] bool
    """Whether each pose is within the goal tolerance."""
    goal = torch.tensor([scenario.goal.x, scenario.goal.y], device=poses.device)
    return (poses[:, :2] - goal).norm(dim=-1) <= scenario.goal.tolerance
