"""Scenario -> USD (sim.terrain_mesh, sim.usd_export, `dynstack nav export-usd`), read back with usd-core's pxr."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from dynamics_stack.cli import main as dynstack
from sim.scenario import load_scenario, scenario_path
from sim.terrain import TerrainCfg, build_terrain
from sim.terrain_mesh import surface_height, terrain_mesh
from sim.usd_export import STAGE, USD_FORMAT, export_scenario_usd, read_stage_info

pxr = pytest.importorskip("pxr")  # a requirement of the project; skipped only in a venv without it


def _read_mesh(path: Path) -> tuple[np.ndarray, np.ndarray]:
    from pxr import Usd, UsdGeom

    stage = Usd.Stage.Open(str(path))  # held: a prim of a released stage is invalid
    mesh = UsdGeom.Mesh(stage.GetPrimAtPath(STAGE.terrain))
    points = np.asarray(mesh.GetPointsAttr().Get(), dtype=np.float64)
    counts = np.asarray(mesh.GetFaceVertexCountsAttr().Get())
    assert (counts == 3).all()  # triangles only
    return points, np.asarray(mesh.GetFaceVertexIndicesAttr().Get()).reshape(-1, 3)


def test_mesh_surface_by_hand():
    # One cell, corners h00=0, h10=1, h11=3, h01=2; (0.25, 0.5) is in the upper triangle (u < v):
    # z = h00 + u (h11 - h01) + v (h01 - h00) = 0 + 0.25 * 1 + 0.5 * 2 = 1.25. (0.5, 0.25): lower, 0 + 0.5 + 0.25 * 2 = 1.0.
    h = np.array([[0.0, 2.0], [1.0, 3.0]])
    z = surface_height(h, (0.0, 0.0), 1.0, np.array([[0.25, 0.5], [0.5, 0.25], [2.0, 0.0]]))
    np.testing.assert_allclose(z[:2], [1.25, 1.0])
    assert np.isnan(z[2])  # off the map
    mesh = terrain_mesh(h, (0.0, 0.0), 1.0)
    assert len(mesh.triangles) == 2
    p = mesh.points[mesh.triangles]  # [2, 3, 3]
    normals = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])
    assert (normals[:, 2] > 0).all()  # counter-clockwise from above: normals point up


def test_flat_areas_merge_without_changing_the_surface():
    # A step: a 0.3 m box on flat ground. Flat floor and box top merge; the surface is the same everywhere.
    h = np.zeros((40, 30))
    h[10:20, 5:15] = 0.3
    mesh = terrain_mesh(h, (-1.0, 2.0), 0.05)
    assert len(mesh.triangles) < 0.5 * 2 * 39 * 29  # far fewer than two per cell
    rng = np.random.default_rng(0)
    xy = np.stack([rng.uniform(-1.0, -1.0 + 39 * 0.05, 2000), rng.uniform(2.0, 2.0 + 29 * 0.05, 2000)], -1)
    z = surface_height(h, (-1.0, 2.0), 0.05, xy)
    # The mesh's own triangles give the same heights as surface_height (barycentric interpolation on each).
    z_mesh = _mesh_heights(mesh.points.astype(np.float64), mesh.triangles, xy)
    np.testing.assert_allclose(z_mesh, z, atol=1e-6)


def _mesh_heights(points: np.ndarray, tris: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Height of the triangle under each point (brute force): the reference surface_height is held to."""
    out = np.full(len(xy), np.nan)
    a, b, c = points[tris[:, 0]], points[tris[:, 1]], points[tris[:, 2]]
    for k, (x, y) in enumerate(xy):
        det = (b[:, 1] - c[:, 1]) * (a[:, 0] - c[:, 0]) + (c[:, 0] - b[:, 0]) * (a[:, 1] - c[:, 1])
        l1 = ((b[:, 1] - c[:, 1]) * (x - c[:, 0]) + (c[:, 0] - b[:, 0]) * (y - c[:, 1])) / det
        l2 = ((c[:, 1] - a[:, 1]) * (x - c[:, 0]) + (a[:, 0] - c[:, 0]) * (y - c[:, 1])) / det
        l3 = 1 - l1 - l2
        inside = np.flatnonzero((l1 >= -1e-9) & (l2 >= -1e-9) & (l3 >= -1e-9))
        if len(inside):
            t = inside[0]
            out[k] = l1[t] * a[t, 2] + l2[t] * b[t, 2] + l3[t] * c[t, 2]
    return out


@pytest.mark.parametrize("name", ["stairs_up_01", "mixed_01", "pits_trench_01", "slope_hill_02"])
def test_exported_mesh_reproduces_the_height_map_at_every_vertex(tmp_path, name):
    scenario = load_scenario(scenario_path(name), check_geometry=False)
    hm = build_terrain(scenario.terrain)
    heights = hm.heights.numpy().astype(np.float64)
    path = tmp_path / f"{name}.usdc"
    export_scenario_usd(scenario, path, hm)
    points, tris = _read_mesh(path)
    # Every mesh vertex is a height sample, at the sample's height (float32 as USD stores points).
    gi = np.round((points[:, 0] - hm.origin[0]) / hm.resolution).astype(int)
    gj = np.round((points[:, 1] - hm.origin[1]) / hm.resolution).astype(int)
    np.testing.assert_allclose(points[:, 0], hm.origin[0] + gi * hm.resolution, atol=1e-4)
    np.testing.assert_allclose(points[:, 2], heights[gi, gj], atol=1e-6)
    # And every height sample lies on the surface of those triangles (merged flat areas included).
    H, W = heights.shape
    i, j = np.meshgrid(np.arange(H), np.arange(W), indexing="ij")
    xy = np.stack([hm.origin[0] + i * hm.resolution, hm.origin[1] + j * hm.resolution], -1).reshape(-1, 2)
    np.testing.assert_allclose(surface_height(heights, hm.origin, hm.resolution, xy), heights.reshape(-1), atol=1e-9)
    rng = np.random.default_rng(1)
    pick = rng.choice(len(xy), 300, replace=False)  # brute force over the file's own triangles at 300 samples
    off = xy[pick] + rng.uniform(0, 0.25 * hm.resolution, (300, 2))  # between the vertices, inside the map
    off = np.minimum(off, [hm.origin[0] + (H - 1) * hm.resolution, hm.origin[1] + (W - 1) * hm.resolution])
    sample_xy = np.concatenate([xy[pick], off])
    expected = np.concatenate([heights.reshape(-1)[pick], surface_height(heights, hm.origin, hm.resolution, off)])
    # float32 points in the file: 1e-5 m is a hundred times their rounding at 20 m from the origin
    np.testing.assert_allclose(_mesh_heights(points, tris, sample_xy), expected, atol=1e-5)


def test_stage_reopens_with_the_expected_prims_apis_and_values(tmp_path):
    from pxr import Usd, UsdGeom, UsdPhysics, UsdShade

    scenario = load_scenario(scenario_path("walls_barrier_02"))
    path = tmp_path / "walls.usdc"
    export_scenario_usd(scenario, path)
    stage = Usd.Stage.Open(str(path))
    assert stage.GetDefaultPrim().GetPath() == STAGE.root
    assert UsdGeom.GetStageUpAxis(stage) == UsdGeom.Tokens.z and UsdGeom.GetStageMetersPerUnit(stage) == 1.0
    types = {p.GetPath().pathString: p.GetTypeName() for p in stage.Traverse()}
    assert types[STAGE.ground] == "Xform" and types[STAGE.terrain] == "Mesh"
    assert [p for p, t in types.items() if t == "Mesh"] == [STAGE.terrain]  # exactly one mesh (the ray caster's)
    terrain = stage.GetPrimAtPath(STAGE.terrain)
    assert terrain.HasAPI(UsdPhysics.CollisionAPI) and terrain.HasAPI(UsdPhysics.MeshCollisionAPI)
    assert UsdPhysics.MeshCollisionAPI(terrain).GetApproximationAttr().Get() == UsdPhysics.Tokens.none
    bound, _ = UsdShade.MaterialBindingAPI(terrain).ComputeBoundMaterial("physics")
    assert bound.GetPath() == STAGE.material
    material = UsdPhysics.MaterialAPI(stage.GetPrimAtPath(STAGE.material))
    assert material.GetStaticFrictionAttr().Get() == pytest.approx(1.0)
    # Authored for PhysX; usd-core has no PhysxSchema, so it lists the schema as authored metadata only.
    assert "PhysxMaterialAPI" in material.GetPrim().GetMetadata("apiSchemas").GetAddedOrExplicitItems()
    assert material.GetPrim().GetAttribute("physxMaterial:frictionCombineMode").Get() == "multiply"
    info = read_stage_info(path)
    assert info["format"] == USD_FORMAT and info["scenario"] == "walls_barrier_02"
    assert info["source"] == scenario.source and info["platform"] == "anymal_d"
    assert info["start"] == pytest.approx({"x": scenario.start.x, "y": scenario.start.y, "yaw": scenario.start.yaw})
    assert info["goal"] == pytest.approx(
        {"x": scenario.goal.x, "y": scenario.goal.y, "tolerance": scenario.goal.tolerance}
    )
    start = UsdGeom.Xformable(stage.GetPrimAtPath(STAGE.start))
    m = start.ComputeLocalToWorldTransform(Usd.TimeCode.Default())
    assert tuple(m.ExtractTranslation())[:2] == pytest.approx((scenario.start.x, scenario.start.y))


def test_a_40_m_map_at_5_cm_stays_within_a_few_mb(tmp_path):
    # mixed_large_03: 40 m x 40 m at 0.05 m = 640,000 samples of mixed terrain (slopes, steps, boxes, rough).
    scenario = load_scenario(scenario_path("mixed_large_03"), check_geometry=False)
    assert scenario.terrain.size == (40.0, 40.0) and scenario.terrain.resolution == 0.05
    done = export_scenario_usd(scenario, tmp_path / "big.usdc")
    assert done["samples"] == 640_000
    assert done["bytes"] < 4e6, done  # measured 2.63 MB; a text .usda of the same mesh is > 20 MB
    with open(tmp_path / "big.usdc", "rb") as f:
        assert f.read(8) == b"PXR-USDC"  # binary crate


def test_non_finite_heights_and_bad_suffix_are_refused(tmp_path):
    with pytest.raises(ValueError, match="finite"):
        terrain_mesh(np.array([[0.0, np.nan], [0.0, 0.0]]), (0.0, 0.0), 0.1)
    scenario = load_scenario(scenario_path("flat_01"), check_geometry=False)
    assert dynstack(["nav", "export-usd", str(scenario_path("flat_01")), "--out", str(tmp_path)]) == 0
    assert (tmp_path / "flat_01.usdc").is_file()
    from dynamics_stack.config import ConfigError

    with pytest.raises(ConfigError, match="usdc"):
        export_scenario_usd(scenario, tmp_path / "x.usda")


def test_export_usd_cli_names_a_bad_file(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\n")
    assert dynstack(["nav", "export-usd", str(bad), "--out", str(tmp_path / "out")]) == 2
    assert "bad.yaml" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # nothing written before every file was read


def test_heights_follow_the_terrain_generator():
    # The mesh is built from HeightMap.heights as the simulator uses them (index [i, j] = origin + (i, j) * res).
    hm = build_terrain(TerrainCfg(type="flat", size=(2.0, 1.0), resolution=0.1, seed=0))
    heights = torch.zeros_like(hm.heights).numpy()
    heights[3, 2] = 0.5
    mesh = terrain_mesh(heights, hm.origin, hm.resolution)
    top = mesh.points[np.argmax(mesh.points[:, 2])]
    assert tuple(top) == pytest.approx((hm.origin[0] + 0.3, hm.origin[1] + 0.2, 0.5))
