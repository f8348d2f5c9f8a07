"""``dynstack manip perceive``: a rendered PGND dataset -> the same episodes as perceived particles.

Each episode's camera frames (with the dataset's sensor noise) go through the
tracker (``pgnd.perception.tracking``); the output is a PGND dataset in the
layout ``sim.deformable_datagen`` writes, so ``dynstack manip train`` and
``eval-model`` read it unchanged, with:

  x        float32 [E, T+1, N, 3]  perceived particles (what a robot has), table frame
  x_true   float32 [E, T+1, N, 3]  where the material under each perceived particle really is
                                   (``pgnd.perception.quality.material_tracks`` from the vertices)
  seen     float32 [E, T+1]        share of particles some camera saw in each frame
  gripper, params, action          copied from the source

The manifest records the source, the perception settings and the perception
quality per episode (Chamfer to the vertices, track drift). Shards are
written atomically one by one; a rerun keeps finished shards (resume).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from dynamics_stack.atomic import atomic_path, atomic_write_json
from dynamics_stack.camera import rig_from_dict
from dynamics_stack.config import ConfigError, cfg_from_dict, cfg_to_dict
from pgnd.perception.config import PerceptionCfg
from pgnd.perception.quality import material_tracks, perception_quality
from pgnd.perception.tracking import track_episode
from sim.deformable_cameras import LABEL_GRIPPER, LABEL_OBJECT
from sim.deformable_datagen import FORMAT, MANIFEST, load_frames, load_shard, read_manifest


def perceive_dataset(
    source: str | Path, out: str | Path, cfg: PerceptionCfg, *, progress: bool = True, max_new_shards: int | None = None
) -> dict[str, Any]:
    """Track every episode of the rendered dataset ``source`` into ``out``; returns the manifest."""
    source, out = Path(source), Path(out)
    if source.resolve() == out.resolve():
        raise ConfigError(f"{out}: the perceived dataset needs a folder of its own, not its source")
    src = read_manifest(source)
    if "cameras" not in src:
        raise ConfigError(f"{source / MANIFEST}: dataset has no camera frames (make it with `manip gen-data --render`)")
    cameras = rig_from_dict(src["cameras"], str(source / MANIFEST))
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob(".shard_*.tmp"):
        stale.unlink()
    done: dict[int, dict[str, Any]] = {}
    if (out / MANIFEST).exists():
        old = read_manifest(out)
        old_cfg = cfg_from_dict(PerceptionCfg, old.get("perception", {}).get("config", {}), str(out / MANIFEST))
        if old_cfg != cfg or old.get("perception", {}).get("source") != str(source):
            raise ConfigError(
                f"{out / MANIFEST}: folder holds particles perceived otherwise or from another source; use a new --out"
            )
        done = {s["index"]: s for s in old["shards"] if (out / s["file"]).exists()}
    todo = [s for s in src["shards"] if s["index"] not in done]
    if max_new_shards is not None:
        todo = todo[: max(0, max_new_shards)]
    bar = tqdm(total=sum(s["episodes"] for s in todo), unit="episode", desc="manip perceive", disable=not progress)
    t0 = time.perf_counter()
    with bar:
        for shard in todo:
            arrays, quality = perceive_shard(source, shard, src, cameras, cfg, bar)
            with atomic_path(out / shard["file"]) as tmp, open(tmp, "wb") as handle:
                np.savez(handle, **arrays)
            done[shard["index"]] = {
                **{k: shard[k] for k in ("index", "file", "episodes", "actions")},
                "quality": quality,
            }
            atomic_write_json(out / MANIFEST, _manifest(src, source, cfg, done))
    manifest = _manifest(src, source, cfg, done)
    manifest["last_run"] = {"new_shards": len(todo), "wall_s": round(time.perf_counter() - t0, 1)}
    atomic_write_json(out / MANIFEST, manifest)
    return manifest


def perceive_shard(
    source: Path, shard: dict[str, Any], src: dict[str, Any], cameras: list, cfg: PerceptionCfg, bar: tqdm | None = None
) -> tuple[dict[str, np.ndarray], list[dict[str, float]]]:
    """Tracked particles, material tracks and quality of every episode of one source shard."""
    base = load_shard(source / shard["file"], src["num_particles"])
    frames = load_frames(source, shard, src)
    xs, trues, seens, quality = [], [], [], []
    for e, fr in enumerate(frames):
        masks = fr["labels"] == LABEL_OBJECT
        try:
            x, seen = track_episode(cameras, cfg, fr["rgb"], fr["depth"], masks)
        except ValueError as exc:
            raise ConfigError(f"{source / shard['file']} episode {e}: {exc}") from exc
        xs.append(x.astype(np.float32))
        trues.append(material_tracks(x[0], base["x"][e]).astype(np.float32))
        seens.append(seen.astype(np.float32))
        q = perception_quality(x, base["x"][e], src["dt"])
        q["gripper_pixels"] = float((fr["labels"] == LABEL_GRIPPER).mean())
        quality.append({k: round(v, 5) for k, v in q.items()})
        if bar is not None:
            bar.update(1)
    arrays = {
        "x": np.stack(xs),
        "x_true": np.stack(trues),
        "seen": np.stack(seens),
        "gripper": base["gripper"],
        "params": base["params"],
        "action": base["action"],
    }
    return arrays, quality


def _manifest(src: dict[str, Any], source: Path, cfg: PerceptionCfg, done: dict[int, dict[str, Any]]) -> dict[str, Any]:
    listed = [done[k] for k in sorted(done)]
    quality = [q for s in listed for q in s["quality"]]
    summary = {k: round(float(np.mean([q[k] for q in quality])), 5) for k in quality[0]} if quality else {}
    return {
        "format": FORMAT,
        "config": src["config"],
        "category": src["category"],
        "num_particles": cfg.particles,
        "dt": src["dt"],
        "frames": src["frames"],
        "gripper_fields": src["gripper_fields"],
        "param_names": src["param_names"],
        "actions": src["actions"],
        "cameras": src["cameras"],
        "perception": {"source": str(source), "config": cfg_to_dict(cfg), "quality_mean": summary},
        "shards": listed,
        "episodes": sum(s["episodes"] for s in listed),
        "complete": len(listed) == len(src["shards"]),
    }
