"""MuJoCo deformable scenes, scripted episodes and the resumable PGND dataset writer."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dynamics_stack.config import ConfigError
from sim.deformable_datagen import DeformGenCfg, generate, load_shard, read_manifest
from sim.deformable_scene import DeformableScene, ObjectParams, num_particles
from sim.deformable_script import DT, PUSH_HEIGHT, simulate_episode

ROPE = ObjectParams(mass=0.05, damping=0.01, friction=0.8, stiffness=0.0)


def test_closed_gripper_lifts_grasped_rope_particles_rigidly():
    scene = DeformableScene("rope", ROPE)
    scene.step(100)
    p0 = scene.particles
    g = p0[20].copy()
    scene.set_gripper(g, 0.0)
    held = scene.close()
    assert 1 <= len(held) <= 5
    for k in range(250):  # 0.5 s: up 5 cm
        scene.set_gripper(g + np.array([0.0, 0.0, 0.05 * min(1.0, (k + 1) / 200)]), 0.0)
        scene.step()
    p1 = scene.particles
    np.testing.assert_allclose(p1[held] - p0[held], np.tile([0.0, 0.0, 0.05], (len(held), 1)), atol=3e-3)
    assert p1[0, 2] < 0.02  # the far end still lies on the table
    scene.open()
    scene.step(300)
    assert scene.particles[held, 2].max() < 0.03  # released: it falls back
    assert scene.finite()


def test_open_gripper_pushes_the_rope():
    scene = DeformableScene("rope", ROPE)
    scene.step(50)
    p0 = scene.particles  # straight along x at y = 0
    start = np.array([0.0, -0.05, PUSH_HEIGHT])
    for k in range(300):  # sweep +y through the middle of the rope at 0.2 m/s
        scene.set_gripper(start + np.array([0.0, 0.2 * (k + 1) * 0.002, 0.0]), 0.0)
        scene.step()
    moved = np.linalg.norm(scene.particles - p0, axis=1)
    assert moved[18:22].min() > 0.03 and moved[0] < moved[20]


def test_episode_layout_and_gripper_values():
    ep = simulate_episode("rope", np.random.default_rng(3), seconds=1.0)
    assert ep["x"].shape == (11, num_particles("rope"), 3) and ep["gripper"].shape == (11, 15)
    assert ep["finite"] and np.isfinite(ep["x"]).all()
    g = ep["gripper"]
    # the recorded velocity of frame k is the displacement of the step k -> k+1
    np.testing.assert_allclose(g[:-1, 3:6], (g[1:, 0:3] - g[:-1, 0:3]) / DT, atol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(g[:, 6:10], axis=1), 1.0, atol=1e-6)
    assert set(np.unique(g[:, 14])) <= {0.0, 1.0}
    assert (ep["x"][..., 2] > -0.005).all()  # on or above the table


def test_dataset_resume_and_refusals(tmp_path):
    cfg = DeformGenCfg(category="rope", shards=3, episodes_per_shard=1, seconds=1.0, seed=7)
    out = tmp_path / "data"
    first = generate(cfg, out, progress=False, max_new_shards=1)
    assert not first["complete"] and len(first["shards"]) == 1
    (out / ".shard_00001.npz.tmp").write_bytes(b"half")  # a crash mid-write
    full = generate(cfg, out, progress=False)
    assert full["complete"] and full["episodes"] == 3
    assert not (out / ".shard_00001.npz.tmp").exists()
    before = load_shard(out / "shard_00002.npz")["x"]
    (out / "shard_00002.npz").unlink()
    again = generate(cfg, out, progress=False)
    np.testing.assert_array_equal(load_shard(out / "shard_00002.npz")["x"], before)  # same seeds, same shard
    assert again["complete"]
    with pytest.raises(ConfigError, match="other settings"):
        generate(
            DeformGenCfg(category="rope", shards=3, episodes_per_shard=1, seconds=1.0, seed=8), out, progress=False
        )


def test_corrupted_dataset_files_get_clear_errors(tmp_path):
    cfg = DeformGenCfg(category="rope", shards=1, episodes_per_shard=1, seconds=1.0)
    generate(cfg, tmp_path, progress=False)
    shard = tmp_path / "shard_00000.npz"
    shard.write_bytes(shard.read_bytes()[:200])
    with pytest.raises(ConfigError, match="shard_00000.npz: unreadable shard"):
        load_shard(shard)
    np.savez(shard, x=np.zeros((1, 11, 40, 3)))
    with pytest.raises(ConfigError, match="lacks array"):
        load_shard(shard)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(ConfigError, match="manifest.json: not valid JSON"):
        read_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(ConfigError, match="format"):
        read_manifest(tmp_path)
    with pytest.raises(ValueError, match="category"):
        DeformGenCfg(category="jelly")
