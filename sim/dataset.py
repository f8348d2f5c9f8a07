"""``NavWindowDataset``: training windows for the FDM, cut from the shards that ``sim.datagen`` writes.

A window starts at t0, a multiple of 0.5 s (a command boundary, where a
height scan exists). Its fields (float32 tensors unless noted; layout in
sim/README.md):

- ``proprio``      [10, P]   proprio at 20 Hz ending at t0 (last row = t0), fields ``fdm_nav.observation.PROPRIO_FIELDS``
- ``state``        [10, 6]   x, y, sin(yaw), cos(yaw) in the base frame at t0, failure flag, energy (W/kg)
- ``height_scan``  [60, 46]  scan at t0, NaN = missing (rows y +2.95..-2.95, columns x -0.5..+4.0)
- ``commands``     [10, 3]   (vx, vy, wz) of each 0.5 s step after t0
- ``poses``        [10, 3]   (x, y, yaw) at the end of each step, base frame at t0
- ``failure``      [10]      1.0 from the step in which a failure happened onward
- ``failure_cause`` int64 scalar: 0 none, 1 collision, 2 fall, 3 stuck, 4 tipping
- ``terrain_type`` int64 scalar (index into ``sim.terrain.TERRAIN_TYPES``), ``terrain_seed`` int64 scalar

A window is valid when all its samples (0.45 s before t0 to 5 s after) belong
to one episode (no respawn inside) and the robot has not failed at t0.
"""

from __future__ import annotations

import json
import math
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from dynamics_stack.config import ConfigError
from fdm_nav.observation import HISTORY, HORIZON, SAMPLE_PERIOD, SAMPLES_PER_STEP, STEP_DT

MANIFEST = "manifest.json"
FORMAT = "dynstack-nav-shards/1"
SHARD_KEYS = ("proprio", "pose", "failed", "cause", "energy", "episode", "scan", "command")


def manifest_rates(physics_dt: float) -> dict[str, float]:
    """The ``rates`` entry of a dataset manifest: the physics step and the time base the shards were written on."""
    return {
        "physics_dt": physics_dt,
        "proprio_hz": round(1.0 / SAMPLE_PERIOD),
        "scan_hz": round(1.0 / STEP_DT),
        "command_hold_s": STEP_DT,
    }


def valid_windows(episode: np.ndarray, failed: np.ndarray) -> np.ndarray:  # [R, T20] x2 -> [W, 2] (robot, j)
    """All valid (robot, j) window starts of a shard; t0 is 20 Hz sample ``SAMPLES_PER_STEP * j``."""
    _, T = episode.shape
    n_holds = (T - 1) // SAMPLES_PER_STEP
    j = np.arange(1, n_holds - HORIZON + 1)  # needs HISTORY-1 samples before and HORIZON steps after
    if j.size == 0:
        return np.zeros((0, 2), np.int64)
    a = SAMPLES_PER_STEP * j
    first, last = a - (HISTORY - 1), a + SAMPLES_PER_STEP * HORIZON
    same = episode[:, first] == episode[:, last]  # episode ids only grow, so equal ends mean one episode
    ok = same & (failed[:, a] == 0)
    r, k = np.nonzero(ok)
    return np.stack((r, j[k]), axis=1).astype(np.int64)


def window_failure_counts(episode: np.ndarray, failed: np.ndarray) -> tuple[int, int]:
    """(valid windows, windows that contain a failure) of a shard."""
    idx = valid_windows(episode, failed)
    if idx.size == 0:
        return 0, 0
    end = SAMPLES_PER_STEP * idx[:, 1] + SAMPLES_PER_STEP * HORIZON
    return int(idx.shape[0]), int(failed[idx[:, 0], end].sum())


def is_validation_seed(terrain_seed: int, val_fraction: float) -> bool:
    """Deterministic split by terrain seed (CRC32 hash), so a terrain never appears in both splits."""
    return (zlib.crc32(str(int(terrain_seed)).encode()) % 10_000) / 10_000 < val_fraction


def read_shard_manifest(folder: str | Path, fmt: str, command: str) -> dict[str, Any]:
    """A shard dataset's manifest of format ``fmt``; a clear error when it is missing, unreadable or of
    another format (``command`` is the one that writes such a dataset, named in the error)."""
    path = Path(folder) / MANIFEST
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: no dataset manifest here (run `{command}` first)") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or data.get("format") != fmt:
        got = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise ConfigError(f"{path}: field 'format': expected {fmt!r}, got {got!r}")
    return data


def read_manifest(folder: str | Path) -> dict:
    """The navigation dataset's manifest; a clear error when it is missing or not ours."""
    return read_shard_manifest(folder, FORMAT, "dynstack nav gen-data")


def read_shard_arrays(path: str | Path, keys: tuple[str, ...], only: bool = False) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` shard (only ``keys`` with ``only``: a shard may also hold large camera
    frames that a reader of particles does not need); a clear error naming the file when it is
    unreadable or lacks ``keys``. Shared by the navigation and the deformable-object datasets.
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files if not only or k in keys}
    except FileNotFoundError:
        raise
    except Exception as exc:  # zipfile/np errors for a truncated or foreign file
        raise ConfigError(f"{path}: unreadable shard: {exc}") from exc
    missing = [k for k in keys if k not in arrays]
    if missing:
        raise ConfigError(f"{path}: shard lacks array(s) {', '.join(missing)}")
    return arrays


def load_shard(path: str | Path) -> dict[str, np.ndarray]:
    """Arrays of one navigation shard file; a clear error when it is truncated or incomplete."""
    return read_shard_arrays(path, SHARD_KEYS)


def _to_base_frame(pose: np.ndarray, origin: np.ndarray) -> np.ndarray:  # [B, T, 3], [B, 3] -> [B, T, 3]
    """Map-frame (x, y, yaw) expressed in the frame of each row's ``origin`` = (x0, y0, yaw0)."""
    c, s = np.cos(origin[:, 2])[:, None], np.sin(origin[:, 2])[:, None]
    dx, dy = pose[..., 0] - origin[:, None, 0], pose[..., 1] - origin[:, None, 1]
    rel = np.remainder(pose[..., 2] - origin[:, None, 2] + math.pi, 2 * math.pi) - math.pi
    return np.stack((c * dx + s * dy, -s * dx + c * dy, rel), axis=-1)


class NavWindowDataset(Dataset):
    """Random-access windows over every shard of a dataset folder (all shards are held in memory)."""

    def __init__(
        self,
        folder: str | Path,
        split: str = "all",
        val_fraction: float = 0.2,
        terrains: tuple[str, ...] | None = None,
        *,
        max_slow_fraction: float = 1.0,
        slow_distance: float = 1.0,
        failure_repeat: int = 1,
        seed: int = 0,
    ) -> None:
        """Index every valid window of the chosen split.

        ``max_slow_fraction`` < 1 keeps at most that share of failure-free windows whose final
        position is closer than ``slow_distance`` (m) to the start (the authors cap those at 10 %);
        ``failure_repeat`` > 1 lists windows that contain a failure that many times (the
        authors add extra windows before collisions). Both are off by default; ``seed``
        fixes which slow windows are dropped.
        """
        if not 0.0 <= max_slow_fraction <= 1.0:
            raise ValueError(f"max_slow_fraction must be in [0, 1], got {max_slow_fraction}")
        if failure_repeat < 1:
            raise ValueError(f"failure_repeat must be >= 1, got {failure_repeat}")
        if split not in ("all", "train", "val"):
            raise ValueError(f"split must be 'all', 'train' or 'val', got {split!r}")
        if not 0.0 <= val_fraction <= 1.0:
            raise ValueError(f"val_fraction must be in [0, 1], got {val_fraction}")
        self.folder = Path(folder)
        self.manifest = read_manifest(self.folder)
        self.terrain_types: tuple[str, ...] = tuple(self.manifest["terrain_types"])
        self.shards: list[dict[str, np.ndarray]] = []
        self.shard_info: list[dict] = []
        index = []
        for info in self.manifest["shards"]:
            if terrains is not None and info["terrain_type"] not in terrains:
                continue
            is_val = is_validation_seed(info["terrain_seed"], val_fraction)
            if (split == "val" and not is_val) or (split == "train" and is_val):
                continue
            arrays = load_shard(self.folder / info["file"])
            idx = valid_windows(arrays["episode"], arrays["failed"])
            s = len(self.shards)
            self.shards.append(arrays)
            self.shard_info.append(info)
            index.append(np.concatenate((np.full((idx.shape[0], 1), s, np.int64), idx), axis=1))
        self.index = np.concatenate(index, axis=0) if index else np.zeros((0, 3), np.int64)  # [W, 3] shard, robot, j
        if max_slow_fraction < 1.0 or failure_repeat > 1:
            self.index = self._rebalance(max_slow_fraction, slow_distance, failure_repeat, seed)

    def window_stats(self) -> tuple[np.ndarray, np.ndarray]:  # -> distance [W], has_failure [W] bool
        """Final distance from the start (m) and whether a failure happens, for every indexed window."""
        dist = np.zeros(len(self), np.float64)
        fail = np.zeros(len(self), bool)
        for s, z in enumerate(self.shards):
            rows = np.nonzero(self.index[:, 0] == s)[0]
            r, a = self.index[rows, 1], SAMPLES_PER_STEP * self.index[rows, 2]
            end = a + SAMPLES_PER_STEP * HORIZON
            dist[rows] = np.linalg.norm(z["pose"][r, end, :2] - z["pose"][r, a, :2], axis=-1)
            fail[rows] = z["failed"][r, end] > 0
        return dist, fail

    def _rebalance(self, max_slow_fraction: float, slow_distance: float, failure_repeat: int, seed: int) -> np.ndarray:
        dist, fail = self.window_stats()
        rng = np.random.default_rng(seed)
        slow = np.nonzero((dist < slow_distance) & ~fail)[0]  # windows with a failure are never dropped
        fast = np.nonzero((dist >= slow_distance) | fail)[0]
        # keep k slow windows so that k / (k + rest) <= max_slow_fraction
        limit = (
            len(slow) if max_slow_fraction >= 1.0 else int(max_slow_fraction * len(fast) / (1.0 - max_slow_fraction))
        )
        keep = np.sort(np.concatenate((fast, rng.permutation(slow)[: min(len(slow), limit)])))
        extra = [keep[fail[keep]]] * (failure_repeat - 1)
        return self.index[np.sort(np.concatenate([keep, *extra]))]

    def __len__(self) -> int:
        return int(self.index.shape[0])

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        if not -len(self) <= i < len(self):
            raise IndexError(f"window {i} out of range for {len(self)} windows")
        return {k: v[0] for k, v in self.batch([i]).items()}

    def batch(self, indices) -> dict[str, torch.Tensor]:  # indices [B] -> fields with a leading B
        """Windows ``indices`` stacked, in one vectorised gather per shard (much faster than items)."""
        sel = self.index[np.asarray(indices, dtype=np.int64).reshape(-1)]  # [B, 3] shard, robot, j
        parts: list[tuple[np.ndarray, dict[str, np.ndarray]]] = []
        for s in np.unique(sel[:, 0]):
            rows = np.nonzero(sel[:, 0] == s)[0]
            parts.append((rows, self._gather(int(s), sel[rows, 1], sel[rows, 2])))
        order = np.argsort(np.concatenate([rows for rows, _ in parts]), kind="stable")
        keys = parts[0][1].keys() if parts else ()
        out = {k: np.concatenate([p[k] for _, p in parts], axis=0)[order] for k in keys}
        return {
            k: torch.as_tensor(v, dtype=torch.int64 if v.dtype.kind in "iu" else torch.float32) for k, v in out.items()
        }

    def _gather(self, s: int, r: np.ndarray, j: np.ndarray) -> dict[str, np.ndarray]:
        z, info = self.shards[s], self.shard_info[s]
        a = SAMPLES_PER_STEP * j  # [B] 20 Hz index of t0
        hist = a[:, None] + np.arange(-(HISTORY - 1), 1)  # [B, 10]
        ends = a[:, None] + SAMPLES_PER_STEP * np.arange(1, HORIZON + 1)  # [B, 10] 20 Hz index at the end of each step
        rr = r[:, None]
        origin = z["pose"][r, a].astype(np.float64)  # [B, 3]
        past = _to_base_frame(z["pose"][rr, hist].astype(np.float64), origin)  # [B, 10, 3]
        future = _to_base_frame(z["pose"][rr, ends].astype(np.float64), origin)  # [B, 10, 3]
        failed = z["failed"][rr, ends].astype(np.float32)  # [B, 10]
        state = np.concatenate(
            (
                past[..., :2],
                np.sin(past[..., 2:3]),
                np.cos(past[..., 2:3]),
                z["failed"][rr, hist][..., None].astype(np.float32),
                z["energy"][rr, hist][..., None],
            ),
            axis=-1,
        )  # [B, 10, 6]
        cause = np.where(failed[:, -1] > 0, z["cause"][r, ends[:, -1]], 0).astype(np.int64)  # [B]
        B = r.shape[0]
        return {
            "proprio": z["proprio"][rr, hist].astype(np.float32),  # [B, 10, P]
            "state": state.astype(np.float32),  # [B, 10, 6]
            "height_scan": z["scan"][r, j].astype(np.float32),  # [B, 60, 46]
            "commands": z["command"][rr, j[:, None] + np.arange(HORIZON)].astype(np.float32),  # [B, 10, 3]
            "poses": future.astype(np.float32),  # [B, 10, 3]
            "failure": failed,  # [B, 10]
            "failure_cause": cause,  # [B]
            "terrain_type": np.full(B, self.terrain_types.index(info["terrain_type"]), np.int64),  # [B]
            "terrain_seed": np.full(B, int(info["terrain_seed"]), np.int64),  # [B]
        }
