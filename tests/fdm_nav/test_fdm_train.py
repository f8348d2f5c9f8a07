"""FDM training on a tiny generated dataset: it learns, resumes exactly, and runs data-parallel under torchrun."""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from dynamics_stack.checkpoint import load_card
from dynamics_stack.cli import main as dynstack
from dynamics_stack.runtime import load_runtime
from fdm_nav.data import load_windows
from fdm_nav.model import FdmCfg
from fdm_nav.train import TrainCfg, checkpoint_dir, train
from sim.datagen import GenDataCfg, generate

ROOT = Path(__file__).resolve().parents[2]
SMALL_MODEL = FdmCfg(cnn_channels=(4, 8, 8, 16), scan_features=32, proprio_hidden=16, rollout_hidden=24)
CFG = TrainCfg(epochs=3, batch_size=64, lr=3e-3, val_fraction=0.3, model=SMALL_MODEL)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("nav_data")
    gen = GenDataCfg(
        robots=8, seconds=12, terrains=("flat", "walls", "pits"), shards_per_terrain=2, terrain_size=12, seed=1
    )
    generate(gen, out, progress=False)
    return out


@pytest.fixture(scope="module")
def windows(dataset):
    return load_windows(dataset, "train", 0.3, progress=False), load_windows(dataset, "val", 0.3, progress=False)


def test_windows_split_by_terrain_seed(windows):
    train_w, val_w = windows
    assert len(train_w) > 0 and len(val_w) > 0
    assert not set(train_w.terrain_seed.tolist()) & set(val_w.terrain_seed.tolist())
    assert torch.isfinite(train_w.height_scan).all()  # missing cells were filled


def test_training_lowers_the_loss(dataset, windows, tmp_path):
    card = train(CFG, dataset, tmp_path / "fdm", progress=False, train_data=windows[0], val_data=windows[1])
    history = card.data["training"]["history"]
    assert len(history) == 3
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    rows = list(csv.DictReader((checkpoint_dir(tmp_path / "fdm") / "log.csv").read_text().splitlines()))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    # The written model loads through both backends and predicts finite poses.
    rt = load_runtime(card.path, "onnx")
    b = windows[1].select(torch.arange(4))
    (ctx,) = rt.run_torch("encode_context", b.proprio, b.state, b.height_scan)
    poses, prob = rt.run_torch("rollout", ctx, b.commands)
    assert torch.isfinite(poses).all() and ((prob >= 0) & (prob <= 1)).all()


def test_resume_continues_exactly_where_it_stopped(dataset, windows, tmp_path):
    cfg = dataclasses.replace(CFG, epochs=2)
    whole = train(cfg, dataset, tmp_path / "whole", progress=False, train_data=windows[0], val_data=windows[1])
    # Same run, interrupted after epoch 1, then resumed.
    train(
        dataclasses.replace(cfg, epochs=1),
        dataset,
        tmp_path / "split",
        progress=False,
        train_data=windows[0],
        val_data=windows[1],
    )
    resumed = train(
        cfg, dataset, tmp_path / "split", resume=True, progress=False, train_data=windows[0], val_data=windows[1]
    )
    a = load_runtime(whole.path).model.state_dict()
    b = load_runtime(resumed.path).model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [h["epoch"] for h in resumed.data["training"]["history"]] == [1, 2]


def _small_yaml(tmp_path: Path) -> Path:
    path = tmp_path / "small.yaml"
    model = dataclasses.asdict(SMALL_MODEL)
    path.write_text(json.dumps({"epochs": 1, "batch_size": 64, "val_fraction": 0.3, "model": model}))  # JSON is YAML
    return path


def test_torchrun_two_cpu_processes_with_gloo(dataset, tmp_path):
    env = os.environ | {"GLOO_SOCKET_IFNAME": "lo", "MASTER_ADDR": "127.0.0.1", "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
        "-m", "dynamics_stack.cli", "nav", "train", "--data", str(dataset), "--out", str(tmp_path / "ddp"),
        "--config", str(_small_yaml(tmp_path)), "--no-progress",
    ]  # fmt: skip
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    card = load_card(tmp_path / "ddp.card.json")
    assert card.data["training"]["processes"] == 2


def test_bad_training_config_is_named(dataset, tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("epochs: 1\nmodel: {rollout_hiden: 8}\n")
    assert dynstack(["nav", "train", "--data", str(dataset), "--out", str(tmp_path / "x"), "--config", str(bad)]) == 2
    assert "bad.yaml: unknown field(s) model.rollout_hiden" in capsys.readouterr().err
