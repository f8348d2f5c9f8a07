"""Manipulation task files (YAML): an object's start shape, a target shape, success threshold and budget.

The same files feed the in-process closed loop (``dynstack manip benchmark``),
the ``manip_sim`` ROS node and the planner node's target. Format (fields
optional unless marked required):

    name: rope_straighten_01                       # required
    object:                                        # required
      category: rope                               # required: rope | cloth
      params: {mass: 0.06, damping: 0.01, friction: 0.7, stiffness: 0.0}
      start: {curvature: 5.0, yaw: 0.3, x: 0.0, y: 0.02}   # rope arc (1/m); pose of the centre
    target:                                        # required
      generator: line                              # required: line | arc | u_shape | pose | file
      x: 0.0                                       # target centre (line, arc, u_shape) or
      y: 0.1                                       #   translation of the start shape (pose)
      yaw: 0.0                                     # heading / rotation (rad)
      curvature: 0.0                               # arc (1/m)
      width: 0.12                                  # u_shape: distance between the arms (m)
      file: my_target.npy                          # file: [M, 3] cloud (.npy) relative to this file
    success: {chamfer: 0.02}                       # required: Chamfer to the target (m) that counts as done
    budget: {actions: 6, seconds: 60.0}            # grasp-drag-release actions and simulated time allowed
    difficulty: easy                               # easy | medium | hard
    description: "..."

Generators give a cloud of the object's own particle count: ``line``, ``arc``
and ``u_shape`` lay the rope's 40 vertices at their rest spacing along the
curve; ``pose`` moves the object's start shape rigidly by (x, y, yaw) about its
centre. ``load_manip_scenario`` refuses a bad file with a ``ConfigError``
naming the file and the field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dynamics_stack.config import ConfigError, cfg_from_dict, read_yaml_mapping
from sim.deformable_scene import CATEGORIES, SHAPES, ObjectParams
from sim.scenario import scenario_path

SCENARIO_DIR = Path(__file__).parent / "scenarios" / "manip"
GENERATORS = ("line", "arc", "u_shape", "pose", "file")
DIFFICULTIES = ("easy", "medium", "hard")
TABLE_REACH = 0.3  # m: targets and starts stay within this of the table centre (the cameras' view)
REST_HEIGHT = {c: SHAPES[c]["radius"] + 0.001 for c in CATEGORIES}  # vertex height of an object lying flat


@dataclass(frozen=True, kw_only=True)
class ObjectParamsCfg:
    """Physical parameters (sim.deformable_scene.ObjectParams); defaults are mid-range of the datasets."""

    mass: float = 0.06
    """Total mass (kg)."""
    damping: float = 0.01
    """Edge damping (N s/m)."""
    friction: float = 0.7
    """Sliding friction against table and gripper."""
    stiffness: float = 1000.0
    """Young's modulus of the cloth (Pa); ignored for the rope."""

    def __post_init__(self) -> None:
        if not (0.005 <= self.mass <= 1.0 and 0 <= self.damping <= 1.0 and 0.05 <= self.friction <= 2.0):
            raise ValueError(
                f"field 'object.params': mass in [0.005, 1] kg, damping in [0, 1], friction in [0.05, 2] required, "
                f"got {self.mass}, {self.damping}, {self.friction}"
            )
        if not 0 <= self.stiffness <= 5000.0:  # above ~5e3 Pa the 2 ms step of the cloth goes unstable
            raise ValueError(f"field 'object.params.stiffness': must be in [0, 5000] Pa, got {self.stiffness}")


@dataclass(frozen=True, kw_only=True)
class StartShapeCfg:
    """Start shape: the rope bent into a circular arc (curvature 0 = straight), either object placed at a pose."""

    curvature: float = 0.0
    """Rope only: curvature of the arc (1/m); |curvature| x length must stay below 2.4 rad."""
    yaw: float = 0.0
    """Heading of the object (rad)."""
    x: float = 0.0
    """Centre x (m, table frame)."""
    y: float = 0.0
    """Centre y (m, table frame)."""

    def __post_init__(self) -> None:
        if not all(math.isfinite(v) for v in (self.curvature, self.yaw, self.x, self.y)):
            raise ValueError("field 'object.start': values must be finite")
        if abs(self.curvature) > 6.0:
            raise ValueError(f"field 'object.start.curvature': |curvature| must be <= 6 1/m, got {self.curvature}")
        if math.hypot(self.x, self.y) > TABLE_REACH - 0.15:
            raise ValueError(
                f"field 'object.start': centre ({self.x}, {self.y}) is more than {TABLE_REACH - 0.15} m off the table centre"
            )


@dataclass(frozen=True, kw_only=True)
class ObjectCfg:
    """The object and its start."""

    category: str
    """rope or cloth."""
    params: ObjectParamsCfg = ObjectParamsCfg()
    """Physical parameters."""
    start: StartShapeCfg = StartShapeCfg()
    """Start shape and pose."""

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            raise ValueError(f"field 'object.category': must be one of {CATEGORIES}, got {self.category!r}")
        if self.category == "cloth" and self.start.curvature != 0:
            raise ValueError("field 'object.start.curvature': the cloth starts flat (curvature 0)")

    def object_params(self) -> ObjectParams:
        p = self.params
        return ObjectParams(
            mass=p.mass,
            damping=p.damping,
            friction=p.friction,
            stiffness=0.0 if self.category == "rope" else p.stiffness,
        )


@dataclass(frozen=True, kw_only=True)
class TargetCfg:
    """How the target cloud is made."""

    generator: str
    """line | arc | u_shape (rope), pose (rope or cloth: the start shape moved), file."""
    x: float = 0.0
    """Centre x of the target shape, or the translation x for 'pose' (m)."""
    y: float = 0.0
    """Centre y, or the translation y for 'pose' (m)."""
    yaw: float = 0.0
    """Heading of the target shape, or the rotation for 'pose' (rad)."""
    curvature: float = 0.0
    """'arc': curvature (1/m)."""
    width: float = 0.12
    """'u_shape': distance between the two arms (m)."""
    file: str = ""
    """'file': a .npy array [M, 3] (m, table frame), relative to the scenario file."""

    def __post_init__(self) -> None:
        if self.generator not in GENERATORS:
            raise ValueError(f"field 'target.generator': must be one of {GENERATORS}, got {self.generator!r}")
        if not all(math.isfinite(v) for v in (self.x, self.y, self.yaw, self.curvature, self.width)):
            raise ValueError("field 'target': values must be finite")
        if self.generator == "file" and not self.file:
            raise ValueError("field 'target.file': required by generator 'file'")
        if self.generator == "u_shape" and not 0.04 <= self.width <= 0.2:
            raise ValueError(f"field 'target.width': must be in [0.04, 0.2] m, got {self.width}")
        if abs(self.curvature) > 6.0:
            raise ValueError(f"field 'target.curvature': |curvature| must be <= 6 1/m, got {self.curvature}")


@dataclass(frozen=True, kw_only=True)
class SuccessCfg:
    """When the task counts as done."""

    chamfer: float
    """Chamfer distance (sum of both mean nearest-neighbour distances, m) of the object to the target."""

    def __post_init__(self) -> None:
        if not 0.002 <= self.chamfer <= 0.2:
            raise ValueError(f"field 'success.chamfer': must be in [0.002, 0.2] m, got {self.chamfer}")


@dataclass(frozen=True, kw_only=True)
class BudgetCfg:
    """What the planner may spend."""

    actions: int = 6
    """Grasp-drag-release actions."""
    seconds: float = 60.0
    """Simulated seconds."""

    def __post_init__(self) -> None:
        if not 1 <= self.actions <= 50 or not 1.0 <= self.seconds <= 600.0:
            raise ValueError(
                f"field 'budget': actions in 1..50 and seconds in [1, 600] required, got {self.actions}, {self.seconds}"
            )


@dataclass(frozen=True, kw_only=True)
class ManipScenario:
    """One manipulation task (file format in the module docstring)."""

    name: str
    """Task name (the file stem by convention)."""
    object: ObjectCfg
    """The object, its parameters and start shape."""
    target: TargetCfg
    """The target shape."""
    success: SuccessCfg
    """Success threshold."""
    budget: BudgetCfg = BudgetCfg()
    """Actions and time allowed."""
    difficulty: str = "medium"
    """easy | medium | hard."""
    description: str = ""
    """What the task asks."""
    source: str = field(default="", compare=False, init=False)
    """File the task was read from (set by the loader)."""

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("field 'name': must not be empty")
        if self.difficulty not in DIFFICULTIES:
            raise ValueError(f"field 'difficulty': must be one of {DIFFICULTIES}, got {self.difficulty!r}")
        rope_only = ("line", "arc", "u_shape")
        if self.target.generator in rope_only and self.object.category != "rope":
            raise ValueError(
                f"field 'target.generator': {self.target.generator!r} shapes a rope, the object is a {self.object.category}"
            )


def load_manip_scenario(path: str | Path) -> ManipScenario:
    """Read and validate a task file; errors name the file and the field."""
    path = Path(path)
    data = read_yaml_mapping(path, "task")
    missing = [k for k in ("name", "object", "target", "success") if k not in data]
    if missing:
        raise ConfigError(f"{path}: missing field(s) {', '.join(repr(m) for m in missing)}")
    for name, required in (("object", ("category",)), ("target", ("generator",)), ("success", ("chamfer",))):
        if not isinstance(data[name], dict):
            raise ConfigError(f"{path}: field '{name}': expected a mapping, got {data[name]!r}")
        lack = [k for k in required if k not in data[name]]
        if lack:
            raise ConfigError(f"{path}: missing field(s) {', '.join(f'{name}.{k}' for k in lack)}")
    scenario = cfg_from_dict(ManipScenario, data, source=str(path))
    object.__setattr__(scenario, "source", str(path))
    target_cloud(scenario, start_vertices(scenario))  # a missing or malformed target file fails here, named
    return scenario


def start_vertices(scenario: ManipScenario) -> np.ndarray:  # -> [N, 3]
    """The object's vertices before settling: the rest grid bent into the start arc and placed at the start pose."""
    category = scenario.object.category
    shape = SHAPES[category]
    nx, ny, _ = shape["count"]
    sp = shape["spacing"]
    i, j = np.meshgrid(np.arange(nx) - (nx - 1) / 2, np.arange(ny) - (ny - 1) / 2, indexing="ij")
    pts = np.stack((i.ravel() * sp, j.ravel() * sp, np.full(nx * ny, REST_HEIGHT[category])), axis=-1)
    s = scenario.object.start
    if category == "rope":
        pts = _arc(pts[:, 0], s.curvature)
    return _place(pts, s.x, s.y, s.yaw)


def target_cloud(scenario: ManipScenario, start: np.ndarray) -> np.ndarray:  # -> [M, 3]
    """The target cloud of a task (``start``: the object's start vertices, for the 'pose' generator)."""
    t = scenario.target
    where = scenario.source or scenario.name
    n_rope = SHAPES["rope"]["count"][0]
    length = (n_rope - 1) * SHAPES["rope"]["spacing"]
    s = np.linspace(-length / 2, length / 2, n_rope)
    if t.generator == "line":
        cloud = _place(_arc(s, 0.0), t.x, t.y, t.yaw)
    elif t.generator == "arc":
        cloud = _place(_arc(s, t.curvature), t.x, t.y, t.yaw)
    elif t.generator == "u_shape":
        cloud = _place(_u_shape(length, t.width, n_rope), t.x, t.y, t.yaw)
    elif t.generator == "pose":
        c = start.mean(axis=0)
        cloud = _place(start - [c[0], c[1], 0.0], c[0] + t.x, c[1] + t.y, t.yaw)
    else:
        path = Path(where).parent / t.file if where else Path(t.file)
        try:
            cloud = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{where}: field 'target.file': cannot read {path}: {exc}") from exc
        if cloud.ndim != 2 or cloud.shape[1] != 3 or len(cloud) < 3 or not np.isfinite(cloud).all():
            raise ConfigError(
                f"{where}: field 'target.file': {path} must hold a finite [M >= 3, 3] array, got {cloud.shape}"
            )
    if np.hypot(cloud[:, 0], cloud[:, 1]).max() > TABLE_REACH:
        raise ConfigError(
            f"{where}: field 'target': part of the target lies more than {TABLE_REACH} m off the table centre"
        )
    return cloud.astype(np.float64)


def _arc(s: np.ndarray, kappa: float) -> np.ndarray:  # arc length [N] -> points [N, 3] at rest height
    if abs(kappa) < 1e-6:
        x, y = s, np.zeros_like(s)
    else:
        x, y = np.sin(kappa * s) / kappa, (1 - np.cos(kappa * s)) / kappa
        y = y - y.mean()
    return np.stack((x, y, np.full_like(s, REST_HEIGHT["rope"])), axis=-1)


def _u_shape(length: float, width: float, n: int) -> np.ndarray:
    """A U of total ``length``: two straight arms joined by a half circle of diameter ``width``, opening to +x."""
    r = width / 2
    arm = (length - math.pi * r) / 2
    if arm <= 0:
        raise ValueError(f"a U {width} m wide needs more than {length} m of rope")
    s = np.linspace(0.0, length, n)
    pts = np.empty((n, 2))
    for k, d in enumerate(s):
        if d < arm:  # lower arm, from its open end towards the bend
            pts[k] = (arm - d, -r)
        elif d < arm + math.pi * r:
            a = (d - arm) / r  # along the half circle, centred at the origin
            pts[k] = (-r * math.sin(a), -r * math.cos(a))
        else:
            pts[k] = (d - arm - math.pi * r, r)
    pts[:, 0] -= pts[:, 0].mean()
    return np.concatenate((pts, np.full((n, 1), REST_HEIGHT["rope"])), axis=1)


def _place(pts: np.ndarray, x: float, y: float, yaw: float) -> np.ndarray:
    c, s = math.cos(yaw), math.sin(yaw)
    xy = pts[:, :2] - pts[:, :2].mean(axis=0)
    out = pts.copy()
    out[:, 0] = c * xy[:, 0] - s * xy[:, 1] + x
    out[:, 1] = s * xy[:, 0] + c * xy[:, 1] + y
    return out


def manip_scenario_path(name: str | Path) -> Path:
    """A task name of sim/scenarios/manip/ (``rope_straighten_01``) or a file path (``my/task.yaml``)."""
    return scenario_path(name, SCENARIO_DIR)


def shipped_manip_scenarios() -> list[Path]:
    """The task files shipped in sim/scenarios/manip/."""
    return sorted(SCENARIO_DIR.glob("*.yaml"))
