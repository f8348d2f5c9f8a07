"""Calibrated pinhole cameras: projection and back-projection by hand, rig files, and clear errors for bad ones."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dynamics_stack.camera import PinholeCamera, load_rig, look_at, rig_from_dict, save_rig
from dynamics_stack.config import ConfigError


def camera(T=None, name="cam", width=64, height=48, f=50.0) -> PinholeCamera:
    T = look_at((0.3, -0.2, 0.5), (0.0, 0.0, 0.0)) if T is None else T
    return PinholeCamera(
        name=name,
        width=width,
        height=height,
        fx=f,
        fy=f * 1.1,
        cx=(width - 1) / 2 + 1.5,
        cy=(height - 1) / 2 - 2.0,
        T_world_camera=tuple(map(tuple, T)),
    )


def plane_depth(cam: PinholeCamera) -> np.ndarray:
    """Depth along the optical axis of the plane z = 0 at every pixel (ray-plane intersection by hand)."""
    v, u = np.mgrid[0 : cam.height, 0 : cam.width].astype(np.float64)
    d_cam = np.stack(((u - cam.cx) / cam.fx, (v - cam.cy) / cam.fy, np.ones_like(u)), axis=-1)  # z = 1
    d_world = d_cam @ cam.pose[:3, :3].T
    o = cam.position
    s = -o[2] / d_world[..., 2]  # o + s d hits z = 0; s is the depth because d_cam has z = 1
    return s


def test_look_at_puts_the_target_on_the_optical_axis():
    cam = camera()
    uv, z = cam.project(np.zeros(3))
    assert uv == pytest.approx([cam.cx, cam.cy], abs=1e-9)
    assert z == pytest.approx(np.linalg.norm([0.3, -0.2, 0.5]))
    # image y points away from world up: a point above the target appears higher (smaller v)
    uv_up, _ = cam.project(np.array([0.0, 0.0, 0.05]))
    assert uv_up[1] < cam.cy


def test_projection_by_hand():
    cam = camera(T=np.eye(4))  # optical frame = world
    uv, z = cam.project(np.array([0.1, -0.2, 2.0]))
    assert uv == pytest.approx([cam.fx * 0.05 + cam.cx, cam.fy * -0.1 + cam.cy])
    assert z == pytest.approx(2.0)


def test_backprojection_of_a_synthetic_plane_lands_on_the_plane():
    cam = camera()
    depth = plane_depth(cam)
    pts, flat = cam.backproject(depth)
    assert len(pts) == cam.width * cam.height and flat[0] == 0
    assert np.abs(pts[:, 2]).max() < 1e-9
    uv, z = cam.project(pts)  # and back to the same pixels
    v, u = np.divmod(flat, cam.width)
    assert np.abs(uv[:, 0] - u).max() < 1e-6 and np.abs(uv[:, 1] - v).max() < 1e-6
    assert z == pytest.approx(depth.reshape(-1))


def test_backprojection_skips_invalid_pixels_and_moves_along_the_ray():
    cam = camera()
    depth = plane_depth(cam)
    depth[0, :] = 0.0
    depth[1, :] = np.nan
    mask = np.ones_like(depth, dtype=bool)
    mask[:, :3] = False
    pts, _ = cam.backproject(depth, mask)
    assert len(pts) == (cam.height - 2) * (cam.width - 3)
    deeper, _ = cam.backproject(depth, mask, offset=0.01)
    step = np.linalg.norm(deeper - pts, axis=1)
    assert step == pytest.approx(np.full(len(pts), 0.01))
    assert (deeper[:, 2] < 0).all()  # further from a camera above the plane = below it
    with pytest.raises(ValueError, match="cam.*64x48"):
        cam.backproject(np.ones((10, 10)))


def test_rig_file_round_trip_yaml_and_json(tmp_path):
    cams = [camera(name="a"), camera(look_at((-0.4, 0.1, 0.6), (0, 0, 0.02)), name="b")]
    for name in ("rig.yaml", "rig.json"):
        path = save_rig(tmp_path / name, cams)
        back = load_rig(path)
        assert [c.name for c in back] == ["a", "b"]
        for c0, c1 in zip(cams, back, strict=True):
            assert np.allclose(c0.K, c1.K) and np.allclose(c0.pose, c1.pose)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["cameras"][0].pop("K"), "camera 'a'.*missing field.*K"),
        (lambda d: d["cameras"][0].update(K=[[1, 0, 0], [0, 1, 0], [0, 0, 2]]), "camera 'a'.*K must be"),
        (lambda d: d["cameras"][0].update(width=0), "camera 'a'.*image size"),
        (lambda d: d["cameras"][0].update(width=3.5), "camera 'a'.*width must be an integer"),
        (lambda d: d["cameras"][0]["T_world_camera"][0].__setitem__(0, 2.0), "camera 'a'.*not a proper rotation"),
        (lambda d: d["cameras"][0]["T_world_camera"].pop(), "camera 'a'.*4x4"),
        (lambda d: d["cameras"][1].update(name="a"), "names must be unique"),
        (lambda d: d.update(format="something/2"), "format"),
        (lambda d: d.update(cameras=[]), "non-empty list"),
        (lambda d: d["cameras"][0].update(lens="fisheye"), "unknown field.*lens"),
    ],
)
def test_bad_rig_files_name_the_camera_and_field(tmp_path, edit, message):
    good = save_rig(tmp_path / "rig.json", [camera(name="a"), camera(name="b")])
    data = json.loads(good.read_text())
    edit(data)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match=message):
        load_rig(bad)


def test_missing_and_unreadable_rig_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_rig(tmp_path / "nope.yaml")
    (tmp_path / "x.yaml").write_text("cameras: [")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_rig(tmp_path / "x.yaml")
    with pytest.raises(ConfigError, match="mapping"):
        rig_from_dict([1, 2])
