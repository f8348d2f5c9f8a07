"""Dataset generation and the window loader: shapes, contents, frozen failures, resuming."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from dynamics_stack.config import ConfigError
from fdm_nav.observation import PROPRIO_DIM
from sim.datagen import GenDataCfg, generate, shard_plan
from sim.dataset import NavWindowDataset, load_shard, read_manifest, valid_windows
from sim.terrain import TERRAIN_TYPES

# Tiny: 4 robots x 12 s per shard on 10 m maps; pillars and walls give failures.
TINY = GenDataCfg(robots=4, seconds=12.0, terrains=("walls", "pillars"), terrain_size=10.0, border_margin=1.0, seed=1)


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("nav_ds")
    generate(TINY, out, progress=False)
    return out


def test_generated_dataset_reloads_with_the_documented_shapes(dataset_dir):
    ds = NavWindowDataset(dataset_dir)
    assert len(ds) > 0
    item = ds[0]
    shapes = {k: tuple(v.shape) for k, v in item.items()}
    assert shapes == {
        "proprio": (10, PROPRIO_DIM),
        "state": (10, 6),
        "height_scan": (60, 46),
        "commands": (10, 3),
        "poses": (10, 3),
        "failure": (10,),
        "failure_cause": (),
        "terrain_type": (),
        "terrain_seed": (),
    }
    for k in ("proprio", "state", "height_scan", "commands", "poses", "failure"):
        assert item[k].dtype == torch.float32
    assert TERRAIN_TYPES[int(item["terrain_type"])] in ("walls", "pillars")
    batch = torch.utils.data.default_collate([ds[i] for i in range(min(4, len(ds)))])
    assert batch["height_scan"].shape[1:] == (60, 46)


def test_window_contents_are_consistent(dataset_dir):
    ds = NavWindowDataset(dataset_dir)
    for i in range(0, len(ds), max(1, len(ds) // 25)):
        w = ds[i]
        # the last state row is the base frame itself
        assert torch.allclose(w["state"][-1, :4], torch.tensor([0.0, 0.0, 0.0, 1.0]), atol=1e-5)
        assert torch.allclose(w["state"][:, 2] ** 2 + w["state"][:, 3] ** 2, torch.ones(10), atol=1e-5)
        assert w["state"][-1, 4] == 0.0  # windows never start failed
        # the proprio's current command at t0 is the command of the step before t0 (held 0.5 s)
        assert (w["failure"][1:] >= w["failure"][:-1]).all()  # failure is sticky
        assert (int(w["failure_cause"]) > 0) == bool(w["failure"][-1] > 0)
        assert w["poses"][:, 2].abs().max() <= math.pi + 1e-5


def test_windows_with_a_failure_show_frozen_poses_after_it(dataset_dir):
    ds = NavWindowDataset(dataset_dir)
    failing = [i for i in range(len(ds)) if ds[i]["failure"][-1] > 0]
    assert failing, "the tiny walls/pillars dataset should contain failures"
    for i in failing:
        w = ds[i]
        k = int(torch.nonzero(w["failure"])[0])
        assert torch.equal(w["poses"][k:], w["poses"][k : k + 1].expand(10 - k, 3))


def test_poses_match_integrated_odometry_in_the_base_frame(dataset_dir):
    """Window poses are the map poses of the shard expressed in the frame at t0."""
    ds = NavWindowDataset(dataset_dir)
    s, r, j = (int(v) for v in ds.index[len(ds) // 2])
    pose = ds.shards[s]["pose"][r]
    w = ds[len(ds) // 2]
    x0, y0, yaw0 = pose[10 * j]
    x, y, _ = pose[10 * j + 100]
    c, sn = math.cos(yaw0), math.sin(yaw0)
    expected = (c * (x - x0) + sn * (y - y0), -sn * (x - x0) + c * (y - y0))
    assert w["poses"][-1, :2].tolist() == pytest.approx(expected, abs=1e-4)


def test_manifest_counts_and_failure_rate(dataset_dir):
    m = read_manifest(dataset_dir)
    assert m["complete"] and m["totals"]["shards_done"] == 2
    assert set(m["per_terrain"]) == {"walls", "pillars"}
    assert m["totals"]["windows"] == len(NavWindowDataset(dataset_dir))
    assert 0.0 < m["totals"]["failure_rate"] < 1.0
    assert m["proprio_fields"][0] == "lin_vel_x"


def test_valid_windows_never_straddle_a_respawn():
    episode = np.zeros((1, 401), np.int32)  # 40 holds of 0.5 s
    episode[0, 150:] = 1  # respawn at sample 150 (t = 7.5 s)
    failed = np.zeros((1, 401), np.uint8)
    idx = valid_windows(episode, failed)
    for _, j in idx:
        a = 10 * j
        assert episode[0, a - 9] == episode[0, a + 100]
    # episode 0: t0 + 5 s must end before sample 150 (j <= 4); episode 1: history from 150 on (j >= 16)
    assert {int(j) for _, j in idx} == set(range(1, 5)) | set(range(16, 31))


def test_split_by_terrain_seed_is_disjoint(dataset_dir):
    train = NavWindowDataset(dataset_dir, split="train", val_fraction=0.5)
    val = NavWindowDataset(dataset_dir, split="val", val_fraction=0.5)
    assert len(train) + len(val) == len(NavWindowDataset(dataset_dir))
    seeds_t = {int(i["terrain_seed"]) for i in train.shard_info}
    seeds_v = {int(i["terrain_seed"]) for i in val.shard_info}
    assert not seeds_t & seeds_v


def test_interrupted_generation_resumes_without_losing_or_duplicating_shards(tmp_path, dataset_dir):
    out = tmp_path / "resumed"
    first = generate(TINY, out, progress=False, max_new_shards=1)  # "interrupted" after one shard
    assert first["totals"]["shards_done"] == 1 and not first["complete"]
    # a crash in the middle of writing the second shard leaves a temporary file behind
    (out / ".shard_00001.npz.abc123.tmp").write_bytes(b"torn")
    second = generate(TINY, out, progress=False)
    assert second["complete"]
    assert [s["index"] for s in second["shards"]] == [0, 1]
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "shard_00000.npz", "shard_00001.npz"]
    for k in range(2):  # identical to the uninterrupted run
        a = load_shard(out / shard_plan(TINY, k)["file"])
        b = load_shard(dataset_dir / shard_plan(TINY, k)["file"])
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])


def test_shard_written_but_not_in_the_manifest_is_adopted(tmp_path):
    out = tmp_path / "adopt"
    generate(TINY, out, progress=False, max_new_shards=1)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["shards"] = []  # as if the process died between the shard rename and the manifest rename
    (out / "manifest.json").write_text(json.dumps(manifest))
    stamp = (out / "shard_00000.npz").stat().st_mtime_ns
    again = generate(TINY, out, progress=False, max_new_shards=0)
    assert [s["index"] for s in again["shards"]] == [0]
    assert (out / "shard_00000.npz").stat().st_mtime_ns == stamp  # adopted, not regenerated


def test_resuming_with_other_settings_is_refused(tmp_path):
    out = tmp_path / "mixed_up"
    generate(TINY, out, progress=False, max_new_shards=0)
    other = GenDataCfg(
        robots=5, seconds=12.0, terrains=("walls", "pillars"), terrain_size=10.0, border_margin=1.0, seed=1
    )
    with pytest.raises(ConfigError, match="robots"):
        generate(other, out, progress=False)


def test_missing_manifest_and_bad_shard_get_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="manifest"):
        NavWindowDataset(tmp_path)
    (tmp_path / "shard_00000.npz").write_bytes(b"not a zip")
    with pytest.raises(ConfigError, match="shard_00000.npz"):
        load_shard(tmp_path / "shard_00000.npz")


def test_bad_generation_settings_are_refused():
    with pytest.raises(ValueError, match="seconds"):
        GenDataCfg(seconds=5.2)
    with pytest.raises(ValueError, match="terrains"):
        GenDataCfg(terrains=("lava",))
    with pytest.raises(ValueError, match="respawn_after"):
        GenDataCfg(respawn_after=2.0)


def test_batch_gathers_the_same_windows_as_items(dataset_dir):
    ds = NavWindowDataset(dataset_dir)
    picks = [len(ds) - 1, 0, len(ds) // 2, 0]  # across shards, repeated, out of order
    batch = ds.batch(picks)
    for row, i in enumerate(picks):
        item = ds[i]
        for key, value in item.items():
            torch.testing.assert_close(batch[key][row], value, equal_nan=True)
    assert batch["failure_cause"].dtype == torch.int64


def test_rebalancing_caps_slow_windows_and_repeats_failures(dataset_dir):
    plain = NavWindowDataset(dataset_dir)
    dist, fail = plain.window_stats()
    capped = NavWindowDataset(dataset_dir, max_slow_fraction=0.1, failure_repeat=3)
    d2, f2 = capped.window_stats()
    unique_rows = np.unique(capped.index, axis=0, return_index=True)[1]
    d_u, f_u = d2[unique_rows], f2[unique_rows]
    assert ((d_u < 1.0) & ~f_u).mean() <= 0.1 + 1e-9  # slow failure-free windows capped at 10 %
    assert int(f_u.sum()) == int(fail.sum())  # no failure window dropped ...
    assert int(f2.sum()) == 3 * int(fail.sum())  # ... and each listed 3 times
    assert int(((d2 >= 1.0) & ~f2).sum()) == int(((dist >= 1.0) & ~fail).sum())
