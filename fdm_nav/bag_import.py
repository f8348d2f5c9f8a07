"""rosbag2 (MCAP or sqlite3) -> an FDM training dataset in the simulator's shard format (sim/README.md).

``dynstack nav import-bag BAG --out DIR`` reads the robot's odometry
(nav_msgs/Odometry), elevation maps (sensor_msgs/PointCloud2, one point per
cell in the odometry frame) and velocity commands (geometry_msgs/Twist or
TwistStamped) with the rosbags library (no ROS install, no rclpy), and writes
``DIR/shard_00000.npz`` + ``DIR/manifest.json`` that ``sim.dataset`` and
``dynstack nav train`` read. One bag is one robot (R = 1).

How the recording becomes the dataset's 20 Hz / 2 Hz layout (times are the
bag's receive timestamps, the one clock every topic has):

- 20 Hz samples from the first time both odometry and a map exist to the
  last odometry; each sample takes the latest odometry (zero-order hold, as
  the simulator's datasets do). Proprio as the planner node builds it
  (``fdm_nav.node_inputs``): body twist, gravity from the orientation, the
  command being tracked and the one before it, base height over the map.
- A gap in odometry longer than ``max_gap`` s starts a new episode, so no
  training window spans it.
- Scans at 2 Hz from the latest map at the sample's pose (NaN = unknown, kept).
- ``command`` of each 0.5 s step: the mean of the 20 Hz commands inside it
  (a robot's commands change at 10 Hz; the FDM's time base is 0.5 s).
- Failures: from the simulator's status topic when the bag has it (JSON with
  ``failed``/``cause``); a real robot's bag has none and counts as failure-free.

Messages with non-finite numbers are dropped and counted (manifest
``import.dropped``). A missing topic, an unreadable or truncated bag, or too
little data for one window are errors that name the bag and what is wrong.
"""

from __future__ import annotations

import json
import math
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dynamics_stack.atomic import atomic_path, atomic_write_json
from dynamics_stack.config import ConfigError, cfg_to_dict
from dynamics_stack.ros.bag import open_bag, typestore
from fdm_nav.node_inputs import gravity_in_body, grid_height_map
from fdm_nav.observation import (
    GRAVITY,
    HISTORY,
    HORIZON,
    PROPRIO_DIM,
    PROPRIO_FIELDS,
    SAMPLE_PERIOD,
    SAMPLES_PER_STEP,
    SCAN_SHAPE,
    STEP_DT,
    height_scan,
)
from sim.dataset import FORMAT, MANIFEST, manifest_rates, window_failure_counts
from sim.platform import load_platform
from sim.terrain_sim import FAILURE_CAUSES, PHYSICS_DT

TERRAIN = "recorded"  # terrain type of imported data


class BagImportError(ConfigError):
    """The bag cannot be turned into a dataset; the message names the bag and the reason."""


@dataclass(frozen=True, kw_only=True)
class BagImportCfg:
    """Topics and conversion settings of ``dynstack nav import-bag``."""

    odometry_topic: str = "/odometry"
    """nav_msgs/Odometry topic."""
    map_topic: str = "/elevation_map"
    """sensor_msgs/PointCloud2 elevation topic (one point per cell, odometry frame)."""
    cmd_topic: str = "/cmd_vel"
    """geometry_msgs/Twist or TwistStamped command topic."""
    status_topic: str = "/terrain_sim/status"
    """Optional std_msgs/String JSON status with failure flags (the simulator's); absent = no failures."""
    map_resolution: float = 0.0
    """Cell size [m] of the elevation cloud's grid; 0: taken from the cloud."""
    platform: str = "anymal_d"
    """Platform the data comes from (name in sim/platforms/ or YAML); recorded in the manifest."""
    max_gap: float = 0.25
    """Longest odometry gap [s] inside one episode."""
    cmd_timeout: float = 0.5
    """A command older than this [s] counts as zero (what the robot's controller does)."""

    def __post_init__(self) -> None:
        if not (math.isfinite(self.map_resolution) and self.map_resolution >= 0):
            raise ValueError(f"map_resolution must be finite and >= 0, got {self.map_resolution}")
        for name in ("max_gap", "cmd_timeout"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be finite and > 0, got {value}")


def read_bag(bag: str | Path, cfg: BagImportCfg) -> dict[str, Any]:
    """Every usable message of the four topics as arrays (times in s), plus drop counts."""
    from rosbags.rosbag2 import ReaderError

    from dynamics_stack.ros.nav_convert import MessageError, elevation_cloud_to_grid, odometry_to_sample, twist_to_array

    bag = Path(bag)
    reader = open_bag(bag, BagImportError)
    store = typestore()
    try:
        topics = {c.topic: c for c in reader.connections}
        need = (cfg.odometry_topic, cfg.map_topic, cfg.cmd_topic)
        missing = [t for t in need if t not in topics]
        if missing:
            raise BagImportError(f"{bag}: missing topic(s) {missing}; the bag has {sorted(topics)}")
        wanted = [topics[t] for t in (*need, cfg.status_topic) if t in topics]
        odom, maps, cmds, status = [], [], [], []
        dropped: dict[str, int] = {}
        try:
            for conn, t_ns, raw in reader.messages(connections=wanted):
                t = t_ns * 1e-9
                try:
                    msg = store.deserialize_cdr(raw, conn.msgtype)
                    if conn.topic == cfg.odometry_topic:
                        odom.append((t, odometry_to_sample(msg)))
                    elif conn.topic == cfg.map_topic:
                        maps.append((t, elevation_cloud_to_grid(msg, cfg.map_resolution)))
                    elif conn.topic == cfg.cmd_topic:
                        cmds.append((t, twist_to_array(msg, conn.topic)))
                    else:
                        data = json.loads(msg.data)
                        status.append((t, bool(data["failed"]), FAILURE_CAUSES.index(data.get("cause", "none"))))
                except (MessageError, ValueError, KeyError, TypeError, AssertionError, IndexError):
                    # Non-finite numbers, bad JSON, or a message rosbags' CDR reader cannot decode.
                    dropped[conn.topic] = dropped.get(conn.topic, 0) + 1
        except (ReaderError, EOFError, OSError, ValueError, AssertionError) as exc:
            raise BagImportError(f"{bag}: the bag ends early or is corrupt (truncated recording?): {exc}") from exc
    finally:
        reader.close()
    for name, items in (("odometry", odom), ("map", maps)):
        if not items:
            raise BagImportError(f"{bag}: no usable {name} message on its topic")
    return {"odom": odom, "maps": maps, "cmds": cmds, "status": status, "dropped": dropped}


def bag_to_arrays(data: dict[str, Any], cfg: BagImportCfg, bag: str = "bag") -> dict[str, np.ndarray]:
    """The shard arrays (R = 1) of what ``read_bag`` returned."""
    platform = load_platform(cfg.platform)
    t_odom = np.array([t for t, _ in data["odom"]])
    order = np.argsort(t_odom, kind="stable")
    odom = [data["odom"][i][1] for i in order]
    t_odom = t_odom[order]
    t_map = np.array([t for t, _ in data["maps"]])
    t0, t_end = max(t_odom[0], t_map.min()), t_odom[-1]
    holds = math.floor((t_end - t0) / (SAMPLES_PER_STEP * SAMPLE_PERIOD) + 1e-9)
    need = HORIZON + 1  # one window: 0.45 s history before t0 = 0.5 s, plus 5 s ahead
    if holds < need:
        raise BagImportError(
            f"{bag}: {max(0.0, t_end - t0):.1f} s of odometry with a map; one training window needs {need * STEP_DT:.1f} s"
        )
    T20 = SAMPLES_PER_STEP * holds + 1
    ts = (
        t0 + SAMPLE_PERIOD * np.arange(T20) + 1e-6
    )  # 1 us: a message stamped at the sample time counts (float rounding)
    io = np.searchsorted(t_odom, ts, side="right") - 1  # [T20] latest odometry at each sample
    im = np.searchsorted(np.sort(t_map), ts, side="right") - 1
    maps = [data["maps"][i][1] for i in np.argsort(t_map, kind="stable")]
    # Energy proxy per odometry message (as the simulator and the node compute it).
    vel = np.array([[o.linear[0], o.linear[1], o.angular[2]] for o in odom])  # [M, 3]
    z = np.array([o.position[2] for o in odom])
    dt = np.maximum(np.diff(t_odom), 1e-6)
    acc = np.diff(vel, axis=0) / dt[:, None]
    climb = np.maximum(0.0, np.diff(z) / dt)
    e = np.abs((acc[:, :2] * vel[1:, :2]).sum(-1)) + GRAVITY * climb + 0.1 * np.abs(acc[:, 2] * vel[1:, 2])
    energy_all = np.concatenate([[0.0], e])
    # Commands: latest at each sample, zero when older than cmd_timeout; prev = the distinct one before.
    t_cmd = np.array([t for t, _ in data["cmds"]]) if data["cmds"] else np.zeros(0)
    c_all = np.array([c for _, c in data["cmds"]]) if data["cmds"] else np.zeros((0, 3))
    # A command acts after it arrives: at a sample time the robot still tracks the one before (as in the dataset).
    ic = np.searchsorted(t_cmd, ts - 2e-6, side="right") - 1
    cmd = np.zeros((T20, 3))
    prev = np.zeros((T20, 3))
    cur, before = np.zeros(3), np.zeros(3)
    for k in range(T20):
        now = c_all[ic[k]] if ic[k] >= 0 and ts[k] - t_cmd[ic[k]] <= cfg.cmd_timeout else np.zeros(3)
        if not np.array_equal(now, cur):
            before, cur = cur, now
        cmd[k], prev[k] = cur, before
    # Episodes: a new one at each edge of an odometry gap.
    gap = (io < 0) | (ts - t_odom[np.maximum(io, 0)] > cfg.max_gap)
    edges = np.concatenate([[False], gap[1:] != gap[:-1]])
    episode = np.cumsum(edges).astype(np.int32)
    # Failures from the simulator's status, when recorded.
    failed = np.zeros(T20, np.uint8)
    cause = np.zeros(T20, np.int8)
    if data["status"]:
        t_s = np.array([s[0] for s in data["status"]])
        i_s = np.searchsorted(t_s, ts, side="right") - 1
        ok = i_s >= 0
        failed[ok] = np.array([data["status"][i][1] for i in i_s[ok]], np.uint8)
        cause[ok] = np.array([data["status"][i][2] for i in i_s[ok]], np.int8)
    proprio = np.zeros((T20, PROPRIO_DIM), np.float32)
    pose = np.zeros((T20, 3), np.float32)
    energy = np.zeros(T20, np.float32)
    for k in range(T20):
        o = odom[max(io[k], 0)]
        grid = maps[max(im[k], 0)]
        ground = grid.height_at(o.position[0], o.position[1])
        base_h = o.position[2] - ground if math.isfinite(ground) else platform.base_height
        proprio[k] = np.concatenate([o.linear, o.angular, gravity_in_body(o.quaternion), cmd[k], prev[k], [base_h]])
        pose[k] = o.pose2d
        energy[k] = energy_all[max(io[k], 0)]
    scan = np.zeros((holds + 1, *SCAN_SHAPE), np.float16)
    for j in range(holds + 1):
        k = SAMPLES_PER_STEP * j
        o, grid = odom[max(io[k], 0)], maps[max(im[k], 0)]
        hm = grid_height_map(grid.heights, grid.origin, grid.resolution)
        s = height_scan(hm, torch.as_tensor(pose[k : k + 1]), torch.tensor([float(o.position[2])]))
        scan[j] = s[0].numpy().astype(np.float16)
    command = cmd[: SAMPLES_PER_STEP * holds].reshape(holds, SAMPLES_PER_STEP, 3).mean(axis=1).astype(np.float32)
    return {
        "proprio": proprio[None],
        "pose": pose[None],
        "failed": failed[None],
        "cause": cause[None],
        "energy": energy[None],
        "episode": episode[None],
        "scan": scan[None],
        "command": command[None],
        "terrain_type": np.array(0, np.int64),
        "terrain_seed": np.array(zlib.crc32(str(bag).encode()) % 2**31, np.int64),
    }


def import_bag(bag: str | Path, out: str | Path, cfg: BagImportCfg | None = None) -> dict[str, Any]:
    """Read ``bag`` and write the dataset folder ``out``; returns the manifest."""
    cfg = cfg or BagImportCfg()
    bag, out = Path(bag), Path(out)
    data = read_bag(bag, cfg)
    arrays = bag_to_arrays(data, cfg, str(bag))
    out.mkdir(parents=True, exist_ok=True)
    file = "shard_00000.npz"
    with atomic_path(out / file) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, **arrays)
    windows, fail_windows = window_failure_counts(arrays["episode"], arrays["failed"])
    f = arrays["failed"].astype(np.int16)
    onset = np.diff(f, axis=1, prepend=0) > 0
    events = {FAILURE_CAUSES[c]: int(((arrays["cause"] == c) & onset).sum()) for c in range(1, len(FAILURE_CAUSES))}
    seconds = round((arrays["pose"].shape[1] - 1) * SAMPLE_PERIOD, 3)
    shard = {
        "index": 0,
        "file": file,
        "terrain_type": TERRAIN,
        "terrain_seed": int(arrays["terrain_seed"]),
        "robots": 1,
        "seconds": seconds,
        "windows": windows,
        "failure_windows": fail_windows,
        "failures": events,
    }
    rate = fail_windows / windows if windows else 0.0
    manifest = {
        "format": FORMAT,
        "config": {"source_bag": str(bag), **cfg_to_dict(cfg)},
        "platform": cfg_to_dict(load_platform(cfg.platform)),
        "terrain_types": [TERRAIN],
        "failure_causes": list(FAILURE_CAUSES),
        "proprio_fields": list(PROPRIO_FIELDS),
        "rates": manifest_rates(PHYSICS_DT),
        "shards": [shard],
        "per_terrain": {
            TERRAIN: {
                "shards": 1,
                "robot_seconds": seconds,
                "windows": windows,
                "failure_windows": fail_windows,
                "failures": events,
                "failure_rate": rate,
            }
        },
        "totals": {
            "shards_done": 1,
            "shards_planned": 1,
            "robot_seconds": seconds,
            "windows": windows,
            "failure_windows": fail_windows,
            "failure_rate": rate,
            "failure_events": sum(events.values()),
        },
        "complete": True,
        "import": {
            "messages": {"odometry": len(data["odom"]), "maps": len(data["maps"]), "commands": len(data["cmds"])},
            "dropped": data["dropped"],
            "status_topic_found": bool(data["status"]),
            "history": HISTORY,
        },
    }
    atomic_write_json(out / MANIFEST, manifest)
    return manifest
