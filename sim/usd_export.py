"""Scenario -> USD stage (``dynstack nav export-usd``): what Isaac Sim (5.x) opens to run a scenario file.

Stage layout (``STAGE`` names every path; the Isaac runner reads the same names):

    /World                       Xform, the default prim (a stage referenced elsewhere brings all of it)
      ground                     Xform: the prim Isaac Lab's height scanners ray-cast against (/World/ground)
        terrain                  Mesh: the whole terrain as ONE triangle mesh (the ray-cast scanner takes one
                                 mesh), CollisionAPI + MeshCollisionAPI (approximation none: the triangles
                                 themselves), physics material bound with purpose "physics"
      Looks/terrain_physics      Material with PhysicsMaterialAPI (static/dynamic friction, restitution) and
                                 PhysxMaterialAPI's combine modes
      start                      Xform at the start pose on the ground (translate x, y, z; rotateZ = yaw);
                                 attributes dynstack:x, dynstack:y, dynstack:yaw [m, m, rad]
      goal                       Xform at the goal on the ground; dynstack:x, dynstack:y, dynstack:tolerance [m]

Z up, metres (metersPerUnit 1), binary crate (``.usdc``, or ``.usd`` written
as crate). The layer's customLayerData holds the scenario's name, source
file, platform, time limit and ``format``. The mesh comes from
``sim.terrain_mesh`` (vertices on the height map's samples, flat areas
merged losslessly). Needs the ``usd-core`` package (``pxr``), imported here
only, so nothing else of the project depends on it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from dynamics_stack.config import ConfigError
from sim.height_map import HeightMap
from sim.scenario import Scenario
from sim.terrain_mesh import TriangleMesh, surface_height, terrain_mesh

USD_FORMAT = "dynstack-nav-usd/1"
# The terrain material of Isaac Lab's velocity tasks (LocomotionVelocityRoughEnvCfg), which its locomotion policies
# were trained on: static and dynamic friction 1.0, restitution 0, friction and restitution combined by "multiply".
STATIC_FRICTION = 1.0
DYNAMIC_FRICTION = 1.0
RESTITUTION = 0.0
COMBINE_MODE = "multiply"
# PhysX's own material schema (PhysxSchema is not in usd-core): applied by name, its attributes written as tokens.
PHYSX_MATERIAL_API = "PhysxMaterialAPI"
PHYSX_COMBINE_ATTRS = ("physxMaterial:frictionCombineMode", "physxMaterial:restitutionCombineMode")
PHYSICS_PURPOSE = "physics"  # UsdShade material purpose read by physics (UsdPhysics schema documentation)


class STAGE:
    """Prim paths of an exported stage."""

    root = "/World"
    ground = "/World/ground"
    terrain = "/World/ground/terrain"
    material = "/World/Looks/terrain_physics"
    start = "/World/start"
    goal = "/World/goal"


def _require_pxr() -> None:
    try:
        import pxr  # noqa: F401
    except ImportError as exc:  # a clear line instead of a traceback
        raise ConfigError("USD export needs the usd-core package (pip install usd-core; see requirements.txt)") from exc


def ground_height(height_map: HeightMap, x: float, y: float) -> float:
    """Surface height of the exported mesh at (x, y) [m]."""
    heights = height_map.heights.detach().cpu().numpy()
    return float(surface_height(heights, height_map.origin, height_map.resolution, np.array([x, y])))


def export_scenario_usd(scenario: Scenario, path: str | Path, height_map: HeightMap | None = None) -> dict[str, Any]:
    """Write ``scenario`` as a USD stage to ``path`` (.usd or .usdc); returns a summary (path, counts, bytes)."""
    _require_pxr()
    from pxr import Sdf, Usd, UsdGeom

    from sim.terrain import build_terrain

    path = Path(path)
    if path.suffix not in (".usd", ".usdc"):
        raise ConfigError(f"{path}: a binary USD stage is written as .usdc or .usd, not {path.suffix or 'no suffix'}")
    hm = height_map if height_map is not None else build_terrain(scenario.terrain)
    heights = hm.heights.detach().cpu().numpy()
    mesh = terrain_mesh(heights, hm.origin, hm.resolution)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")  # written whole, then renamed (nothing half-written)
    layer = Sdf.Layer.CreateNew(str(tmp), args={"format": "usdc"})
    stage = Usd.Stage.Open(layer)
    UsdGeom.SetStageUpAxis(stage, UsdGeom.Tokens.z)
    UsdGeom.SetStageMetersPerUnit(stage, 1.0)
    world = UsdGeom.Xform.Define(stage, STAGE.root)
    stage.SetDefaultPrim(world.GetPrim())
    UsdGeom.Xform.Define(stage, STAGE.ground)  # the parent first, or it is left typeless
    _terrain(stage, mesh)
    start, goal = scenario.start, scenario.goal
    _marker(stage, STAGE.start, (start.x, start.y, ground_height(hm, start.x, start.y)), start.yaw)
    _attrs(stage.GetPrimAtPath(STAGE.start), {"x": start.x, "y": start.y, "yaw": start.yaw})
    _marker(stage, STAGE.goal, (goal.x, goal.y, ground_height(hm, goal.x, goal.y)), 0.0)
    _attrs(stage.GetPrimAtPath(STAGE.goal), {"x": goal.x, "y": goal.y, "tolerance": goal.tolerance})
    layer.customLayerData = {
        "format": USD_FORMAT,
        "scenario": scenario.name,
        "source": scenario.source,
        "platform": scenario.platform,
        "time_limit": float(scenario.time_limit),
        "terrain_type": scenario.terrain.type,
        "resolution": float(hm.resolution),
    }
    layer.Save()
    del stage, layer
    tmp.replace(path)
    return {
        "file": str(path),
        "scenario": scenario.name,
        "vertices": len(mesh.points),
        "triangles": len(mesh.triangles),
        "samples": int(heights.size),
        "bytes": path.stat().st_size,
    }


def _terrain(stage, mesh: TriangleMesh) -> None:
    from pxr import Sdf, UsdGeom, UsdPhysics, UsdShade, Vt

    geom = UsdGeom.Mesh.Define(stage, STAGE.terrain)
    geom.CreatePointsAttr(Vt.Vec3fArray.FromNumpy(mesh.points))
    geom.CreateFaceVertexCountsAttr(Vt.IntArray.FromNumpy(mesh.face_vertex_counts))
    geom.CreateFaceVertexIndicesAttr(Vt.IntArray.FromNumpy(mesh.triangles.reshape(-1)))
    geom.CreateSubdivisionSchemeAttr(UsdGeom.Tokens.none)  # triangles as they are, no smoothing
    lo, hi = mesh.points.min(axis=0), mesh.points.max(axis=0)
    geom.CreateExtentAttr(Vt.Vec3fArray.FromNumpy(np.stack([lo, hi]).astype(np.float32)))
    prim = geom.GetPrim()
    UsdPhysics.CollisionAPI.Apply(prim)
    # Approximation none: collide with the triangles themselves (a static terrain needs no convex hull).
    UsdPhysics.MeshCollisionAPI.Apply(prim).CreateApproximationAttr(UsdPhysics.Tokens.none)
    material = UsdShade.Material.Define(stage, STAGE.material)
    physics = UsdPhysics.MaterialAPI.Apply(material.GetPrim())
    physics.CreateStaticFrictionAttr(STATIC_FRICTION)
    physics.CreateDynamicFrictionAttr(DYNAMIC_FRICTION)
    physics.CreateRestitutionAttr(RESTITUTION)
    material.GetPrim().AddAppliedSchema(PHYSX_MATERIAL_API)
    for name in PHYSX_COMBINE_ATTRS:
        material.GetPrim().CreateAttribute(name, Sdf.ValueTypeNames.Token).Set(COMBINE_MODE)
    # Purpose "physics": PhysX takes the friction from this binding; a render material can be bound beside it.
    UsdShade.MaterialBindingAPI.Apply(prim).Bind(material, UsdShade.Tokens.weakerThanDescendants, PHYSICS_PURPOSE)


def _marker(stage, prim_path: str, xyz: tuple[float, float, float], yaw: float) -> None:
    from pxr import UsdGeom

    xform = UsdGeom.Xform.Define(stage, prim_path)
    xform.AddTranslateOp().Set(tuple(float(v) for v in xyz))
    xform.AddRotateZOp().Set(math.degrees(yaw))  # USD rotations are in degrees


def _attrs(prim, values: dict[str, float]) -> None:
    from pxr import Sdf

    for name, value in values.items():
        prim.CreateAttribute(f"dynstack:{name}", Sdf.ValueTypeNames.Double, custom=True).Set(float(value))


def read_stage_info(path: str | Path) -> dict[str, Any]:
    """What an exported stage says about itself: layer metadata, start and goal values, mesh counts and APIs."""
    _require_pxr()
    from pxr import Usd, UsdGeom, UsdPhysics

    stage = Usd.Stage.Open(str(path))
    if stage is None:
        raise ConfigError(f"{path}: not a USD stage")
    terrain = stage.GetPrimAtPath(STAGE.terrain)
    if not terrain or terrain.GetTypeName() != "Mesh":
        raise ConfigError(f"{path}: no terrain mesh at {STAGE.terrain} (not written by dynstack nav export-usd?)")

    def values(prim_path: str) -> dict[str, float]:
        prim = stage.GetPrimAtPath(prim_path)
        return {a.GetName().split(":", 1)[1]: a.Get() for a in prim.GetAttributes() if a.GetNamespace() == "dynstack"}

    return {
        **dict(stage.GetRootLayer().customLayerData),
        "start": values(STAGE.start),
        "goal": values(STAGE.goal),
        "up_axis": UsdGeom.GetStageUpAxis(stage),
        "meters_per_unit": UsdGeom.GetStageMetersPerUnit(stage),
        "collision": terrain.HasAPI(UsdPhysics.CollisionAPI) and terrain.HasAPI(UsdPhysics.MeshCollisionAPI),
    }
