"""PGND dataset generation: scripted gripper episodes with one deformable category, one shard file per block.

Shard ``k`` holds ``episodes_per_shard`` episodes; episode ``e`` of it is drawn
from the seed sequence ``(seed, k, e, attempt)``, so a shard comes out the same
in the first run or after a crash (an episode whose physics goes non-finite
is redrawn with the next ``attempt``). Written the same robust way as the
navigation datasets (``sim.datagen``): each shard atomically, then the
manifest; a rerun skips listed shards, adopts complete unlisted ones, removes
leftover temporary files, and refuses a folder made with other settings.

Shard layout (``shard_KKKKK.npz``, E episodes, T+1 frames at 10 Hz, N particles):

  x        float32 [E, T+1, N, 3]  particle (flex vertex) positions, m, z up, table top z = 0
  gripper  float32 [E, T+1, 15]    centre, linear velocity, quaternion wxyz, angular velocity,
                                   grasp radius, openness (1 open, 0 closed); velocities of step t -> t+1
  params   float32 [E, 4]          mass, damping, friction, stiffness (``sim.deformable_scene.PARAM_NAMES``)
  action   int64   [E]             0 grasp, 1 push

With ``--render`` (``DeformGenCfg.render``), every frame of every camera of the rig too
(C cameras of H x W px; the manifest's ``cameras`` holds their calibration in the
``dynamics_stack.camera`` rig layout, ``depth_unit`` the depth scale); such shards are
compressed (``np.savez_compressed``):

  rgb      uint8   [E, T+1, C, H, W, 3]  colour images
  depth    uint16  [E, T+1, C, H, W]     depth along the optical axis in ``depth_unit`` m (0 = none)
  labels   uint8   [E, T+1, C, H, W]     0 background, 1 object, 2 gripper (segmentation)
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from dynamics_stack.atomic import atomic_path, atomic_write_json
from dynamics_stack.camera import RIG_FORMAT
from dynamics_stack.config import ConfigError, cfg_from_dict, cfg_to_dict
from sim.dataset import read_shard_arrays, read_shard_manifest
from sim.deformable_cameras import (
    DEPTH_UNIT,
    RenderCfg,
    add_sensor_noise,
    default_rig,
    depth_from_uint16,
    depth_to_uint16,
)
from sim.deformable_scene import CATEGORIES, PARAM_NAMES, num_particles
from sim.deformable_script import ACTIONS, DEFAULT_ACTIONS, DT, simulate_episode

FORMAT = "dynstack-manip-shards/1"
MANIFEST = "manifest.json"
SHARD_KEYS = ("x", "gripper", "params", "action")
FRAME_KEYS = ("rgb", "depth", "labels")
GRIPPER_FIELDS = (
    "px", "py", "pz", "vx", "vy", "vz", "qw", "qx", "qy", "qz", "wx", "wy", "wz", "radius", "openness",
)  # fmt: skip
MAX_ATTEMPTS = 5
NOISE_STREAM = 7919  # last word of an episode's sensor-noise seed: a stream of its own beside the physics'


@dataclass(frozen=True, kw_only=True)
class DeformGenCfg:
    """Settings of one PGND dataset; they fix every shard's content."""

    category: str = "rope"
    """Object category (sim.deformable_scene.CATEGORIES)."""
    shards: int = 8
    """Number of shard files."""
    episodes_per_shard: int = 8
    """Episodes per shard."""
    seconds: float = 5.0
    """Length of each episode (s); >= 3.3 s so that a 30-step evaluation fits after 2 history frames."""
    seed: int = 0
    """Base seed."""
    actions: tuple[str, ...] = DEFAULT_ACTIONS
    """Kinds of episode drawn (sim.deformable_script.ACTIONS): grasp, push and, for planning models, drag.
    The default draws exactly as datasets made before 'drag' existed."""
    render: RenderCfg | None = None
    """Render RGB-D frames of a camera rig and store them in the shards (``--render``); None = particles only.
    The simulated episodes are the same either way."""

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            raise ValueError(f"category must be one of {', '.join(CATEGORIES)}, got {self.category!r}")
        if self.shards < 1 or self.episodes_per_shard < 1:
            raise ValueError(
                f"shards and episodes_per_shard must be >= 1, got {self.shards}, {self.episodes_per_shard}"
            )
        if (
            not self.actions
            or any(a not in ACTIONS for a in self.actions)
            or len(set(self.actions)) != len(self.actions)
        ):
            raise ValueError(f"actions must be distinct kinds among {ACTIONS}, got {self.actions}")
        steps = self.seconds / DT
        if not (self.seconds >= 1.0 and abs(steps - round(steps)) < 1e-9):
            raise ValueError(f"seconds must be a multiple of {DT} and >= 1, got {self.seconds}")


def read_manifest(folder: str | Path) -> dict[str, Any]:
    """The PGND dataset's manifest; a clear error when it is missing, unreadable or not a PGND dataset."""
    return read_shard_manifest(folder, FORMAT, "dynstack manip gen-data")


def load_shard(path: str | Path, n_particles: int | None = None) -> dict[str, np.ndarray]:
    """Particle arrays of one shard; a clear error naming the file when it is truncated, incomplete or mis-shaped."""
    path = Path(path)
    arrays = read_shard_arrays(path, SHARD_KEYS, only=True)
    x, g = arrays["x"], arrays["gripper"]
    if x.ndim != 4 or x.shape[-1] != 3 or g.shape[:2] != x.shape[:2] or g.shape[-1] != len(GRIPPER_FIELDS):
        raise ConfigError(
            f"{path}: array shapes x {x.shape}, gripper {g.shape} do not fit [E, T+1, N, 3] / [E, T+1, 15]"
        )
    if n_particles is not None and x.shape[2] != n_particles:
        raise ConfigError(f"{path}: shard has {x.shape[2]} particles, the manifest says {n_particles}")
    if not (np.isfinite(x).all() and np.isfinite(g).all()):
        raise ConfigError(f"{path}: shard holds non-finite values")
    return arrays


def load_frames(folder: str | Path, shard: dict[str, Any], manifest: dict[str, Any]) -> list[dict[str, np.ndarray]]:
    """The camera frames of every episode of one rendered shard (``shard``: its manifest entry), as the
    sensors deliver them: rgb uint8 [T+1, C, H, W, 3], depth float32 [T+1, C, H, W] (m, 0 = none) and
    labels uint8 [T+1, C, H, W].

    Shards hold exact renders (they compress ~20x better than noisy ones); the sensor noise of the
    dataset's ``render`` settings is added here from a seed of its own per episode
    (seed, shard, episode, ``NOISE_STREAM``), so every reader sees the same noisy frames.
    """
    path = Path(folder) / shard["file"]
    cfg = cfg_from_dict(DeformGenCfg, manifest["config"], source=str(Path(folder) / MANIFEST))
    if cfg.render is None or "depth_unit" not in manifest:
        raise ConfigError(f"{Path(folder) / MANIFEST}: this dataset has no camera frames (made without --render)")
    arrays = read_shard_arrays(path, FRAME_KEYS, only=True)
    rgb, depth, labels = arrays["rgb"], arrays["depth"], arrays["labels"]
    if rgb.ndim != 6 or rgb.shape[-1] != 3 or depth.shape != rgb.shape[:-1] or labels.shape != depth.shape:
        raise ConfigError(
            f"{path}: frame shapes rgb {rgb.shape}, depth {depth.shape}, labels {labels.shape} do not fit "
            "[E, T+1, C, H, W, 3] / [E, T+1, C, H, W]"
        )
    episodes = []
    for e in range(rgb.shape[0]):
        clean = {"rgb": rgb[e], "depth": depth_from_uint16(depth[e], manifest["depth_unit"]), "labels": labels[e]}
        rng = np.random.default_rng([cfg.seed, shard["index"], e, NOISE_STREAM])
        episodes.append(add_sensor_noise(clean, cfg.render, rng))
    return episodes


def simulate_shard(cfg: DeformGenCfg, k: int, progress: tqdm | None = None) -> tuple[dict[str, np.ndarray], int]:
    """Episodes of shard ``k`` (layout in the module docstring) and how many draws were redrawn."""
    eps, redrawn = [], 0
    for e in range(cfg.episodes_per_shard):
        for attempt in range(MAX_ATTEMPTS):
            ep = simulate_episode(
                cfg.category,
                np.random.default_rng([cfg.seed, k, e, attempt]),
                cfg.seconds,
                render=cfg.render,
                actions=cfg.actions,
            )
            if ep["finite"]:
                break
            redrawn += 1
        else:
            raise RuntimeError(f"shard {k} episode {e}: physics non-finite in {MAX_ATTEMPTS} draws")
        eps.append(ep)
        if progress is not None:
            progress.update(cfg.seconds)
    keys = SHARD_KEYS + (FRAME_KEYS if cfg.render is not None else ())
    arrays = {key: np.stack([ep[key] for ep in eps]) for key in keys}
    if cfg.render is not None:
        arrays["depth"] = depth_to_uint16(arrays["depth"])
    return arrays, redrawn


def _entry(k: int, arrays: dict[str, np.ndarray], redrawn: int = 0) -> dict[str, Any]:
    counts = np.bincount(arrays["action"], minlength=len(ACTIONS))
    return {
        "index": k,
        "file": f"shard_{k:05d}.npz",
        "episodes": int(arrays["x"].shape[0]),
        "actions": {a: int(c) for a, c in zip(ACTIONS, counts, strict=True)},
        "redrawn": redrawn,
    }


def _manifest(cfg: DeformGenCfg, shards: dict[int, dict[str, Any]]) -> dict[str, Any]:
    listed = [shards[k] for k in sorted(shards)]
    cameras = {}
    if cfg.render is not None:
        rig = default_rig(cfg.render.rig)
        cameras = {"cameras": {"format": RIG_FORMAT, "frame": "table", "cameras": [c.to_dict() for c in rig]}}
        cameras["depth_unit"] = DEPTH_UNIT
    return {
        **cameras,
        "format": FORMAT,
        "config": cfg_to_dict(cfg),
        "category": cfg.category,
        "num_particles": num_particles(cfg.category),
        "dt": DT,
        "frames": round(cfg.seconds / DT) + 1,
        "gripper_fields": list(GRIPPER_FIELDS),
        "param_names": list(PARAM_NAMES),
        "actions": list(ACTIONS),
        "shards": listed,
        "episodes": sum(s["episodes"] for s in listed),
        "complete": len(listed) == cfg.shards,
    }


def generate(
    cfg: DeformGenCfg, out: str | Path, *, progress: bool = True, max_new_shards: int | None = None
) -> dict[str, Any]:
    """Generate (or resume) the dataset of ``cfg`` in ``out``; returns the manifest."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob(".shard_*.tmp"):
        stale.unlink()  # interrupted mid-write: regenerated below
    shards: dict[int, dict[str, Any]] = {}
    if (out / MANIFEST).exists():
        old = read_manifest(out)
        # through the dataclass, so a manifest written before a field existed reads with its default
        old_cfg = cfg_to_dict(cfg_from_dict(DeformGenCfg, old["config"], source=str(out / MANIFEST)))
        if old_cfg != cfg_to_dict(cfg):
            diff = sorted(k for k, v in cfg_to_dict(cfg).items() if old_cfg.get(k) != v)
            raise ConfigError(
                f"{out / MANIFEST}: folder holds a dataset made with other settings ({', '.join(diff)}); use a new --out"
            )
        shards = {s["index"]: s for s in old["shards"] if (out / s["file"]).exists()}
    todo = []
    for k in range(cfg.shards):
        path = out / f"shard_{k:05d}.npz"
        if k in shards:
            continue
        if path.exists():  # written, but the run stopped before the manifest listed it
            try:
                shards[k] = _entry(k, load_shard(path, num_particles(cfg.category)))
                continue
            except ConfigError:
                path.unlink()
        todo.append(k)
    if max_new_shards is not None:
        todo = todo[: max(0, max_new_shards)]
    atomic_write_json(out / MANIFEST, _manifest(cfg, shards))
    bar = tqdm(
        total=len(todo) * cfg.episodes_per_shard * cfg.seconds,
        unit="sim s",
        desc=f"manip gen-data {cfg.category}",
        disable=not progress,
    )
    t0 = time.perf_counter()
    with bar:
        for k in todo:
            arrays, redrawn = simulate_shard(cfg, k, bar)
            with atomic_path(out / f"shard_{k:05d}.npz") as tmp, open(tmp, "wb") as handle:
                (np.savez_compressed if cfg.render is not None else np.savez)(handle, **arrays)
            shards[k] = _entry(k, arrays, redrawn)
            atomic_write_json(out / MANIFEST, _manifest(cfg, shards))
    wall = time.perf_counter() - t0
    manifest = _manifest(cfg, shards)
    sim_s = len(todo) * cfg.episodes_per_shard * cfg.seconds
    manifest["last_run"] = {
        "new_shards": len(todo),
        "wall_s": round(wall, 3),
        "sim_s_per_wall_s": round(sim_s / wall, 2) if todo else None,
    }
    atomic_write_json(out / MANIFEST, manifest)
    return manifest
