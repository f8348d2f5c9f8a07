"""RGB-D cameras in the deformable scene: real MuJoCo renders (OSMesa without a GPU) agree with the calibration,
leave the physics untouched, and are stored and read back by gen-data --render."""

from __future__ import annotations

import dataclasses
import json

import mujoco
import numpy as np
import pytest

from dynamics_stack.camera import rig_from_dict
from dynamics_stack.cli import main
from dynamics_stack.config import ConfigError
from sim.deformable_cameras import (
    LABEL_GRIPPER,
    LABEL_OBJECT,
    RenderCfg,
    RgbdRenderer,
    RigCfg,
    default_rig,
    mujoco_fovy,
)
from sim.deformable_datagen import load_frames, read_manifest
from sim.deformable_scene import DeformableScene, sample_params, scene_xml


@pytest.mark.parametrize("category", ["rope", "cloth"])
def test_visuals_and_cameras_leave_the_physics_bit_identical(category):
    params = sample_params(category, np.random.default_rng(3))
    plain = mujoco.MjModel.from_xml_string(scene_xml(category, params))  # no beads, print or cameras
    data = mujoco.MjData(plain)
    scene = DeformableScene(category, params, default_rig(RigCfg(cameras=2, width=64, height=48)))
    for model, d in ((plain, data), (scene.model, scene.data)):
        d.mocap_pos[0] = (0.02, 0.0, 0.008)
        for k in range(150):
            d.mocap_pos[0, 0] = 0.02 - 0.001 * k  # sweep the finger through the object
            mujoco.mj_step(model, d)
    assert np.array_equal(data.flexvert_xpos, scene.data.flexvert_xpos)


def test_renders_agree_with_the_calibration():
    rig = default_rig(RigCfg(cameras=3, width=160, height=120))
    scene = DeformableScene("cloth", sample_params("cloth", np.random.default_rng(0)), rig)
    scene.set_gripper(np.array([0.0, 0.0, 0.1]), 0.0)
    scene.step(100)
    renderer = RgbdRenderer(scene.model, rig)
    frame = renderer.render(scene.data)
    renderer.close()
    verts = scene.particles
    for c, cam in enumerate(rig):
        uv, z = cam.project(verts)
        u, v = np.round(uv).astype(int).T
        on = (u >= 0) & (u < cam.width) & (v >= 0) & (v < cam.height)
        labels = frame["labels"][c][v[on], u[on]]
        assert (labels == LABEL_OBJECT).mean() > 0.8  # the gripper hides a few, the edges may fall outside
        seen = labels == LABEL_OBJECT
        # the camera sees the top of a 4 mm thick sheet: depth a little shorter than the vertex's
        gap = z[on][seen] - frame["depth"][c][v[on], u[on]][seen]
        assert np.median(gap) == pytest.approx(0.004, abs=0.003)
        assert (frame["labels"][c] == LABEL_GRIPPER).any()
    assert frame["rgb"].dtype == np.uint8 and frame["rgb"].shape == (3, 120, 160, 3)


def test_the_simulator_refuses_cameras_it_cannot_render():
    cam = default_rig(RigCfg(cameras=1, width=64, height=48))[0]
    assert mujoco_fovy(cam) == pytest.approx(45.0)
    with pytest.raises(ValueError, match="principal point"):
        mujoco_fovy(dataclasses.replace(cam, cx=10.0))


def test_gen_data_render_stores_frames_and_calibration(tmp_path, capsys):
    out = tmp_path / "rgbd"
    args = ["manip", "gen-data", "--out", str(out), "--category", "rope", "--shards", "1", "--episodes-per-shard", "1"]
    args += ["--seconds", "1.0", "--render", "--cameras", "2", "--width", "64", "--height", "48", "--no-progress"]
    assert main(args) == 0
    capsys.readouterr()
    manifest = read_manifest(out)
    rig = rig_from_dict(manifest["cameras"])
    assert [c.name for c in rig] == ["camera0", "camera1"] and rig[0].width == 64
    first = load_frames(out, manifest["shards"][0], manifest)
    again = load_frames(out, manifest["shards"][0], manifest)
    assert first[0]["rgb"].shape == (11, 2, 48, 64, 3) and first[0]["depth"].dtype == np.float32
    assert np.array_equal(first[0]["depth"], again[0]["depth"])  # the sensor noise is seeded per episode
    assert (first[0]["labels"] == LABEL_OBJECT).any()
    # resuming with other camera settings is refused
    bad = [a if a != "64" else "80" for a in args]
    assert main(bad) == 2
    assert "other settings" in capsys.readouterr().err
    # --cameras without --render is refused with a reason
    assert main(["manip", "gen-data", "--out", str(tmp_path / "x"), "--cameras", "2", "--no-progress"]) == 2
    assert "--render" in capsys.readouterr().err


def test_frames_of_a_dataset_without_render_are_refused(tmp_path, capsys):
    args = ["manip", "gen-data", "--out", str(tmp_path), "--category", "rope", "--shards", "1"]
    assert main([*args, "--episodes-per-shard", "1", "--seconds", "1.0", "--no-progress"]) == 0
    capsys.readouterr()
    manifest = read_manifest(tmp_path)
    with pytest.raises(ConfigError, match="no camera frames"):
        load_frames(tmp_path, manifest["shards"][0], manifest)
    assert json.loads((tmp_path / "manifest.json").read_text())["config"]["render"] is None


def test_render_settings_are_validated():
    with pytest.raises(ValueError, match="antialias"):
        RenderCfg(antialias=3)
    with pytest.raises(ValueError, match="cameras"):
        RigCfg(cameras=0)
