"""A real interruption: SIGKILL a `dynstack nav gen-data` process after its first shard, then resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np

from sim.datagen import GenDataCfg, generate
from sim.dataset import load_shard

ARGS = ["--robots", "2", "--seconds", "6", "--terrains", "flat", "walls", "pits", "--shards-per-terrain", "2",
        "--terrain-size", "10", "--seed", "2", "--no-progress"]  # fmt: skip
CFG = GenDataCfg(
    robots=2, seconds=6.0, terrains=("flat", "walls", "pits"), shards_per_terrain=2, terrain_size=10.0, seed=2
)


def _shards_done(out) -> int:
    try:
        return json.loads((out / "manifest.json").read_text())["totals"]["shards_done"]
    except (FileNotFoundError, json.JSONDecodeError, KeyError):
        return 0


def test_killed_generation_resumes_without_losing_or_duplicating_shards(tmp_path):
    out = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-m", "dynamics_stack.cli", "nav", "gen-data", "--out", str(out), *ARGS],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120.0  # bounds a hang only; nothing is asserted on time
    while _shards_done(out) < 1 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = _shards_done(out)
    assert done_before >= 1
    # every file the killed run left is complete or a temporary file; resuming fixes the rest
    manifest = generate(CFG, out, progress=False)
    assert manifest["complete"]
    assert [s["index"] for s in manifest["shards"]] == list(range(CFG.num_shards))
    names = sorted(p.name for p in out.iterdir())
    assert names == ["manifest.json"] + [f"shard_{k:05d}.npz" for k in range(CFG.num_shards)]
    reference = tmp_path / "reference"
    generate(CFG, reference, progress=False)
    for k in range(CFG.num_shards):
        a, b = load_shard(out / f"shard_{k:05d}.npz"), load_shard(reference / f"shard_{k:05d}.npz")
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])
