"""Dataset generation: simulate robots on seeded terrains and write one shard file per (terrain, seed).

The plan is fixed by the configuration: shard ``k`` (k = 0 .. len(terrains) x
shards_per_terrain - 1) simulates ``robots`` robots for ``seconds`` on terrain
type ``terrains[k % len(terrains)]`` with terrain seed ``seed * 100_003 + k``
and simulation seed ``seed * 7_919 + k``. A shard therefore comes out the
same whether it is made in the first run or after a crash, and resuming only
has to find which shard files exist:

- every shard is written atomically (temporary file + rename), then the
  manifest is rewritten atomically; a crash loses at most the shard in progress;
- on start, shards listed in the manifest are skipped, a complete shard file
  the manifest does not list yet (a crash between the two renames) is adopted,
  leftover temporary files are removed;
- a folder made with different settings is refused rather than mixed.

Shard layout (``shard_KKKKK.npz``, uncompressed numpy arrays, R robots,
T20 = 10 x holds + 1 samples at 20 Hz, holds = seconds / 0.5):

  proprio  float32 [R, T20, P]     fdm_nav.observation.PROPRIO_FIELDS at 20 Hz
  pose     float32 [R, T20, 3]     x, y, yaw in the map frame
  failed   uint8   [R, T20]        1 while failed (frozen) until respawn
  cause    int8    [R, T20]        failure cause (sim.terrain_sim.FAILURE_CAUSES), 0 while not failed
  energy   float32 [R, T20]        specific power proxy (W/kg)
  episode  int32   [R, T20]        episode counter per robot; grows at each respawn
  scan     float16 [R, holds+1, 60, 46]  height scan at 2 Hz (t = 0.5 j), NaN = missing
  command  float32 [R, holds, 3]   command held during [0.5 j, 0.5 (j+1))
  terrain_type, terrain_seed       int64 scalars
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from dynamics_stack.atomic import atomic_path, atomic_write_json
from dynamics_stack.config import ConfigError, cfg_to_dict
from fdm_nav import observation as obs
from sim.commands import CommandCfg, CommandGenerator
from sim.dataset import FORMAT, MANIFEST, load_shard, manifest_rates, read_manifest, window_failure_counts
from sim.platform import load_platform
from sim.terrain import TERRAIN_TYPES, TerrainCfg, build_terrain, passage_openings
from sim.terrain_gen import sample_params
from sim.terrain_sim import FAILURE_CAUSES, PHYSICS_DT, TerrainSim


@dataclass(frozen=True, kw_only=True)
class GenDataCfg:
    """Settings of one dataset; they fix every shard's content."""

    robots: int = 64
    """Robots simulated in parallel in each shard."""
    seconds: float = 60.0
    """Simulated seconds per shard (a multiple of 0.5 s)."""
    terrains: tuple[str, ...] = TERRAIN_TYPES
    """Terrain types, cycled over the shards."""
    shards_per_terrain: int = 1
    """Shards (terrain seeds) per terrain type."""
    platform: str = "anymal_d"
    """Platform name or YAML path."""
    seed: int = 0
    """Base seed of terrains, spawns, commands and noise."""
    terrain_size: float = 30.0
    """Edge (m) of each shard's square map."""
    resolution: float = 0.05
    """Map cell (m)."""
    difficulty: float = 0.5
    """0..1, scales the random terrain parameters (sim.terrain_gen.sample_params)."""
    respawn_after: float = 6.0
    """Seconds a failed robot stays frozen before respawning (>= 5 s horizon + 0.5 s)."""
    border_margin: float = 1.5
    """Robots closer than this to the map border (m) are respawned (not a failure)."""
    scan: obs.HeightScanCfg = field(default_factory=lambda: obs.HeightScanCfg(noise_std=0.01, dropout=0.01))
    """Height scan noise."""
    commands: CommandCfg = field(default_factory=CommandCfg)
    """Command generator."""
    device: str = "cpu"
    """Torch device for the simulation."""

    def __post_init__(self) -> None:
        if self.robots < 1:
            raise ValueError(f"robots must be >= 1, got {self.robots}")
        holds = self.seconds / obs.STEP_DT
        if not (self.seconds >= 6.0 and abs(holds - round(holds)) < 1e-9):
            raise ValueError(f"seconds must be a multiple of 0.5 and >= 6 (one window needs 5.5 s), got {self.seconds}")
        bad = [t for t in self.terrains if t not in TERRAIN_TYPES]
        if not self.terrains or bad:
            raise ValueError(f"terrains must be non-empty and among {', '.join(TERRAIN_TYPES)}; bad: {bad}")
        if self.shards_per_terrain < 1:
            raise ValueError(f"shards_per_terrain must be >= 1, got {self.shards_per_terrain}")
        if not 8.0 <= self.terrain_size <= 200.0:
            raise ValueError(f"terrain_size must be in [8, 200] m, got {self.terrain_size}")
        if self.respawn_after < 5.5:
            raise ValueError(
                f"respawn_after must be >= 5.5 s (the 5 s horizon must see the frozen robot), got {self.respawn_after}"
            )
        if not 0.0 <= self.border_margin < self.terrain_size / 4:
            raise ValueError(f"border_margin must be in [0, terrain_size/4), got {self.border_margin}")
        if not 0.0 <= self.difficulty <= 1.0:
            raise ValueError(f"difficulty must be in [0, 1], got {self.difficulty}")

    @property
    def num_shards(self) -> int:
        return len(self.terrains) * self.shards_per_terrain


def shard_plan(cfg: GenDataCfg, k: int) -> dict[str, Any]:
    """Terrain type, terrain seed, sim seed and file name of shard ``k``."""
    return {
        "index": k,
        "file": f"shard_{k:05d}.npz",
        "terrain_type": cfg.terrains[k % len(cfg.terrains)],
        "terrain_seed": cfg.seed * 100_003 + k,
        "sim_seed": cfg.seed * 7_919 + k,
    }


def shard_terrain(cfg: GenDataCfg, plan: dict[str, Any]) -> TerrainCfg:
    """The random terrain of a shard (parameters drawn from its terrain seed)."""
    kind = plan["terrain_type"]
    rng = np.random.default_rng(plan["terrain_seed"])
    size = (cfg.terrain_size, cfg.terrain_size)
    if kind == "mixed":
        params: dict[str, Any] = {"tile_size": 10.0, "difficulty": cfg.difficulty}
    else:
        params = cfg_to_dict(sample_params(kind, rng, size, cfg.difficulty))
    return TerrainCfg(type=kind, size=size, resolution=cfg.resolution, seed=plan["terrain_seed"], params=params)


def simulate_shard(cfg: GenDataCfg, plan: dict[str, Any], progress: tqdm | None = None) -> dict[str, np.ndarray]:
    """Run one shard and return its arrays (layout in the module docstring)."""
    dev = torch.device(cfg.device)
    platform = load_platform(cfg.platform)
    terrain = shard_terrain(cfg, plan)
    hm = build_terrain(terrain, dev)
    R = cfg.robots
    sim = TerrainSim(platform, hm, R, dev, scan_cfg=cfg.scan, seed=plan["sim_seed"])
    x0, x1, y0, y1 = hm.extent
    m = cfg.border_margin
    openings = torch.as_tensor(passage_openings(terrain))  # goals through doors and corridors ('passages' only)
    area = (x0 + m, x1 - m, y0 + m, y1 - m)
    gen = CommandGenerator(cfg.commands, R, area, dev, seed=plan["sim_seed"] + 1, openings=openings)
    sim.reset(_spawn(sim, gen, torch.arange(R, device=dev), m))

    holds = round(cfg.seconds / obs.STEP_DT)
    steps_per_hold = round(obs.STEP_DT / PHYSICS_DT)
    T20 = obs.SAMPLES_PER_STEP * holds + 1
    # 20 Hz sample m (1..9) inside a hold is the state after physics step floor(m * 2.5): a
    # zero-order hold of the 50 Hz stream, as a 20 Hz consumer of it would see.
    sample_after = {math.floor(mm * obs.SAMPLE_PERIOD / PHYSICS_DT + 1e-9): mm for mm in range(1, obs.SAMPLES_PER_STEP)}
    proprio = torch.zeros(R, T20, obs.PROPRIO_DIM, device=dev)
    pose = torch.zeros(R, T20, 3, device=dev)
    failed = torch.zeros(R, T20, dtype=torch.uint8, device=dev)
    cause = torch.zeros(R, T20, dtype=torch.int8, device=dev)
    energy = torch.zeros(R, T20, device=dev)
    episode = torch.zeros(R, T20, dtype=torch.int32, device=dev)
    scan = torch.zeros(R, holds + 1, *obs.SCAN_SHAPE, dtype=torch.float16, device=dev)
    command = torch.zeros(R, holds, 3, device=dev)
    ep = torch.zeros(R, dtype=torch.int32, device=dev)
    frozen_for = torch.zeros(R, device=dev)

    def record(i: int) -> None:
        proprio[:, i] = sim.proprio()
        pose[:, i] = sim.poses
        failed[:, i] = sim.failed.to(torch.uint8)
        cause[:, i] = sim.failure_cause.to(torch.int8)
        energy[:, i] = sim.energy
        episode[:, i] = ep

    for j in range(holds + 1):
        if j > 0:
            # Respawn robots frozen long enough, or too close to the border, at command boundaries only.
            xy = sim.poses[:, :2]
            near_border = (xy[:, 0] < x0 + m) | (xy[:, 0] > x1 - m) | (xy[:, 1] < y0 + m) | (xy[:, 1] > y1 - m)
            due = (sim.failed & (frozen_for >= cfg.respawn_after - 1e-6)) | (near_border & ~sim.failed)
            if bool(due.any()):
                ids = torch.nonzero(due).squeeze(1)
                gen.reset(ids)
                sim.reset(_spawn(sim, gen, ids, m), ids)
                ep[ids] += 1
                frozen_for[ids] = 0.0
        record(obs.SAMPLES_PER_STEP * j)
        scan[:, j] = sim.height_scan().to(torch.float16)
        if j == holds:
            break
        cmd = gen.next(sim.poses)
        command[:, j] = cmd
        for s in range(1, steps_per_hold + 1):
            sim.step(cmd)
            if s in sample_after:
                record(obs.SAMPLES_PER_STEP * j + sample_after[s])
        frozen_for = torch.where(sim.failed, frozen_for + obs.STEP_DT, frozen_for)
        if progress is not None:
            progress.update(1)
    out = {
        "proprio": proprio,
        "pose": pose,
        "failed": failed,
        "cause": cause,
        "energy": energy,
        "episode": episode,
        "scan": scan,
        "command": command,
    }
    arrays = {k: v.cpu().numpy() for k, v in out.items()}
    arrays["terrain_type"] = np.array(TERRAIN_TYPES.index(plan["terrain_type"]), np.int64)
    arrays["terrain_seed"] = np.array(plan["terrain_seed"], np.int64)
    return arrays


def _spawn(sim: TerrainSim, gen: CommandGenerator, ids: torch.Tensor, margin: float) -> torch.Tensor:
    """Start poses of robots ``ids``: free poses; on passages, goal-mode robots at an opening (where that is safe)."""
    free = sim.sample_free_poses(int(ids.numel()), margin=margin)
    if gen.openings is None:
        return free
    near = gen.spawn_at_openings(free, ids)
    return torch.where(sim.pose_is_safe(near)[:, None], near, free)


def shard_stats(arrays: dict[str, np.ndarray], plan: dict[str, Any], cfg: GenDataCfg) -> dict[str, Any]:
    """Manifest entry of a shard: windows, failure windows, failure events by cause."""
    windows, fail_windows = window_failure_counts(arrays["episode"], arrays["failed"])
    f = arrays["failed"].astype(np.int16)
    onset = np.diff(f, axis=1, prepend=0) > 0  # [R, T20] first sample of each failure
    causes = arrays["cause"][onset]
    return {
        "index": plan["index"],
        "file": plan["file"],
        "terrain_type": plan["terrain_type"],
        "terrain_seed": plan["terrain_seed"],
        "robots": int(arrays["pose"].shape[0]),
        "seconds": cfg.seconds,
        "windows": windows,
        "failure_windows": fail_windows,
        "failures": {FAILURE_CAUSES[c]: int((causes == c).sum()) for c in range(1, len(FAILURE_CAUSES))},
    }


def _summary(cfg: GenDataCfg, shards: list[dict[str, Any]]) -> dict[str, Any]:
    per: dict[str, dict[str, Any]] = {}
    for s in shards:
        t = per.setdefault(
            s["terrain_type"],
            {
                "shards": 0,
                "robot_seconds": 0.0,
                "windows": 0,
                "failure_windows": 0,
                "failures": dict.fromkeys(FAILURE_CAUSES[1:], 0),
            },
        )
        t["shards"] += 1
        t["robot_seconds"] += s["robots"] * s["seconds"]
        t["windows"] += s["windows"]
        t["failure_windows"] += s["failure_windows"]
        for c, n in s["failures"].items():
            t["failures"][c] += n
    for t in per.values():
        t["failure_rate"] = t["failure_windows"] / t["windows"] if t["windows"] else 0.0
    windows = sum(t["windows"] for t in per.values())
    fw = sum(t["failure_windows"] for t in per.values())
    events = sum(sum(t["failures"].values()) for t in per.values())
    robot_s = sum(t["robot_seconds"] for t in per.values())
    return {
        "per_terrain": per,
        "totals": {
            "shards_done": len(shards),
            "shards_planned": cfg.num_shards,
            "robot_seconds": robot_s,
            "windows": windows,
            "failure_windows": fw,
            "failure_rate": fw / windows if windows else 0.0,
            "failure_events": events,
            "failures_per_robot_hour": events / (robot_s / 3600.0) if robot_s else 0.0,
        },
    }


def _manifest(cfg: GenDataCfg, shards: list[dict[str, Any]]) -> dict[str, Any]:
    platform = load_platform(cfg.platform)
    shards = sorted(shards, key=lambda s: s["index"])
    return {
        "format": FORMAT,
        "config": cfg_to_dict(cfg),
        "platform": cfg_to_dict(platform),
        "terrain_types": list(TERRAIN_TYPES),
        "failure_causes": list(FAILURE_CAUSES),
        "proprio_fields": list(obs.PROPRIO_FIELDS),
        "rates": manifest_rates(PHYSICS_DT),
        "shards": shards,
        **_summary(cfg, shards),
        "complete": len(shards) == cfg.num_shards,
    }


def _comparable(config: dict[str, Any]) -> dict[str, Any]:
    """Settings that fix the shard contents (the device does not)."""
    return {k: v for k, v in config.items() if k != "device"}


def generate(
    cfg: GenDataCfg, out: str | Path, *, progress: bool = True, max_new_shards: int | None = None
) -> dict[str, Any]:
    """Generate (or resume) the dataset of ``cfg`` in ``out``; returns the manifest.

    ``max_new_shards`` stops after that many new shards (to spread a dataset
    over several runs, and for tests of resuming).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob(".shard_*.tmp"):
        stale.unlink()  # a shard interrupted mid-write: it is regenerated below
    shards: dict[int, dict[str, Any]] = {}
    if (out / MANIFEST).exists():
        old = read_manifest(out)
        if _comparable(old["config"]) != _comparable(cfg_to_dict(cfg)):
            diff = sorted(k for k in _comparable(cfg_to_dict(cfg)) if old["config"].get(k) != cfg_to_dict(cfg)[k])
            raise ConfigError(
                f"{out / MANIFEST}: folder holds a dataset made with other settings ({', '.join(diff)}); use a new --out"
            )
        shards = {s["index"]: s for s in old["shards"] if (out / s["file"]).exists()}
    todo = []
    for k in range(cfg.num_shards):
        plan = shard_plan(cfg, k)
        if k in shards:
            continue
        path = out / plan["file"]
        if path.exists():  # written but not yet in the manifest when the last run stopped
            try:
                shards[k] = shard_stats(load_shard(path), plan, cfg)
                continue
            except ConfigError:
                path.unlink()
        todo.append(plan)
    if max_new_shards is not None:
        todo = todo[: max(0, max_new_shards)]
    atomic_write_json(out / MANIFEST, _manifest(cfg, list(shards.values())))
    holds = round(cfg.seconds / obs.STEP_DT)
    bar = tqdm(total=len(todo) * holds, unit="hold", desc="nav gen-data", disable=not progress, smoothing=0.1)
    t_start = time.perf_counter()
    with bar:
        for plan in todo:
            bar.set_postfix_str(f"shard {plan['index']} {plan['terrain_type']}")
            arrays = simulate_shard(cfg, plan, bar)
            with atomic_path(out / plan["file"]) as tmp, open(tmp, "wb") as handle:
                np.savez(handle, **arrays)
            shards[plan["index"]] = shard_stats(arrays, plan, cfg)
            atomic_write_json(out / MANIFEST, _manifest(cfg, list(shards.values())))
    manifest = _manifest(cfg, list(shards.values()))
    manifest["last_run"] = {
        "new_shards": len(todo),
        "wall_s": round(time.perf_counter() - t_start, 3),
        "robot_seconds_per_wall_s": round(
            len(todo) * cfg.robots * cfg.seconds / max(1e-9, time.perf_counter() - t_start), 1
        ),
    }
    atomic_write_json(out / MANIFEST, manifest)
    return manifest
