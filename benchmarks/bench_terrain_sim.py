"""Benchmark of the terrain surrogate: env-steps/s at N = 256, 1024, 4096 robots, sensors included.

One env-step is one robot advanced by one physics step (0.02 s). Each timed
loop runs the way dataset generation does: commands from the time-correlated
generator every 0.5 s, physics every 0.02 s, proprioception at 20 Hz and the
60 x 46 height scan at 2 Hz for every robot. The loop does not copy results
into dataset buffers; ``--datagen`` also times one real ``gen-data`` shard.

Writes ``benchmarks/results/terrain_sim.json`` (``steps_per_s`` per N for the
CPU, ``steps_per_s_cuda`` when a GPU is present) and prints a table. A
program, not a test: nothing here is asserted.

Usage: python benchmarks/bench_terrain_sim.py [--sim-seconds 4] [--sizes 256 1024 4096] [--threads 1 0] [--datagen]
"""

from __future__ import annotations

import argparse
import math
import os
import platform as host
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dynamics_stack.atomic import atomic_write_json
from sim.commands import CommandCfg, CommandGenerator
from sim.platform import load_platform
from sim.terrain import TerrainCfg, build_terrain
from sim.terrain_sim import PHYSICS_DT, TerrainSim

RESULT = Path(__file__).parent / "results" / "terrain_sim.json"
STEPS_PER_HOLD = round(0.5 / PHYSICS_DT)  # 25 physics steps per 0.5 s command
PROPRIO_STEPS = {math.floor(m * 0.05 / PHYSICS_DT + 1e-9) for m in range(1, 10)} | {STEPS_PER_HOLD}  # 20 Hz


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run(n: int, device: torch.device, sim_seconds: float) -> dict:
    """Time ``sim_seconds`` of N robots on a 40 m mixed map, sensors included."""
    hm = build_terrain(TerrainCfg(type="mixed", size=(40.0, 40.0), seed=0, params={"tile_size": 8.0}), device)
    sim = TerrainSim(load_platform("anymal_d"), hm, n, device, seed=0)
    sim.reset(sim.sample_free_poses(n, margin=2.0))
    gen = CommandGenerator(CommandCfg(), n, (-18.0, 18.0, -18.0, 18.0), device, seed=0)
    holds = max(1, round(sim_seconds / 0.5))

    def one_hold() -> None:
        cmd = gen.next(sim.poses)
        sim.height_scan()  # 2 Hz
        for s in range(1, STEPS_PER_HOLD + 1):
            sim.step(cmd)
            if s in PROPRIO_STEPS:
                sim.proprio()  # 20 Hz

    one_hold()  # warm-up
    sync(device)
    t0 = time.perf_counter()
    for _ in range(holds):
        one_hold()
    sync(device)
    wall = time.perf_counter() - t0
    steps = holds * STEPS_PER_HOLD
    # Component timings (separately, same state).
    cmd = gen.next(sim.poses)
    sync(device)
    t = time.perf_counter()
    for _ in range(50):
        sim.step(cmd)
    sync(device)
    physics_ms = (time.perf_counter() - t) / 50 * 1e3
    t = time.perf_counter()
    for _ in range(5):
        sim.height_scan()
    sync(device)
    scan_ms = (time.perf_counter() - t) / 5 * 1e3
    t = time.perf_counter()
    for _ in range(50):
        sim.proprio()
    sync(device)
    proprio_ms = (time.perf_counter() - t) / 50 * 1e3
    return {
        "device": str(device),
        "robots": n,
        "sim_seconds": holds * 0.5,
        "wall_s": round(wall, 4),
        "steps_per_s": round(n * steps / wall, 1),
        "robot_seconds_per_s": round(n * steps * PHYSICS_DT / wall, 1),
        "physics_step_ms": round(physics_ms, 3),
        "height_scan_ms": round(scan_ms, 3),
        "proprio_ms": round(proprio_ms, 3),
        "failed_fraction_at_end": round(float(sim.failed.float().mean()), 4),
    }


def run_datagen(robots: int, seconds: float) -> dict:
    """One real gen-data shard (mixed terrain) including recording and the atomic shard write."""
    from sim.datagen import GenDataCfg, generate

    cfg = GenDataCfg(robots=robots, seconds=seconds, terrains=("mixed",), seed=0)
    with tempfile.TemporaryDirectory() as folder:
        t = time.perf_counter()
        manifest = generate(cfg, folder, progress=False)
        wall = time.perf_counter() - t
        size = sum(p.stat().st_size for p in Path(folder).glob("shard_*.npz"))
    return {
        "robots": robots,
        "seconds": seconds,
        "wall_s": round(wall, 3),
        "robot_seconds_per_s": round(robots * seconds / wall, 1),
        "windows": manifest["totals"]["windows"],
        "windows_per_s": round(manifest["totals"]["windows"] / wall, 1),
        "shard_mb": round(size / 1e6, 2),
        "failure_rate": round(manifest["totals"]["failure_rate"], 4),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 1024, 4096])
    parser.add_argument("--sim-seconds", type=float, default=4.0, help="simulated seconds per timed run")
    parser.add_argument(
        "--threads",
        type=int,
        nargs="+",
        default=[1, 0],
        help="torch CPU thread counts to run; the first gives the headline steps_per_s (0: torch's default)",
    )
    parser.add_argument("--datagen", action="store_true", help="also time one gen-data shard (256 robots, 30 s)")
    parser.add_argument("--out", type=Path, default=RESULT)
    args = parser.parse_args()

    load_before = round(os.getloadavg()[0], 2)
    default_threads = torch.get_num_threads()
    thread_counts = [t or default_threads for t in args.threads]
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    rows = []
    print(
        f"{'device':>6} {'thr':>3} {'N':>6} {'env-steps/s':>12} {'robot-s/s':>10} {'phys ms':>8} {'scan ms':>8} {'prop ms':>8}"
    )
    for threads in thread_counts:
        torch.set_num_threads(threads)
        for device in devices:
            for n in args.sizes:
                r = {"threads": threads, **run(n, device, args.sim_seconds)}
                rows.append(r)
                print(
                    f"{r['device']:>6} {threads:>3} {n:>6} {r['steps_per_s']:>12,.0f} {r['robot_seconds_per_s']:>10,.0f} "
                    f"{r['physics_step_ms']:>8.2f} {r['height_scan_ms']:>8.1f} {r['proprio_ms']:>8.3f}"
                )
    main_threads = thread_counts[0]

    def per_n(device: str, threads: int) -> dict[str, float]:
        return {
            str(r["robots"]): r["steps_per_s"]
            for r in rows
            if r["device"].startswith(device) and r["threads"] == threads
        }

    result = {
        "benchmark": "terrain_sim",
        "what": "env-steps/s (robots x 0.02 s physics steps per wall second) incl. commands at 2 Hz, "
        "height scan 60x46 at 2 Hz and proprio at 20 Hz for every robot; mixed 40 m x 40 m map, anymal_d",
        "host": {
            "machine": host.machine(),
            "cpu_count": os.cpu_count(),
            "torch": torch.__version__,
            "torch_default_threads": default_threads,
            "load_avg_1min_before": load_before,
            "load_avg_1min_after": round(os.getloadavg()[0], 2),
            "note": "shared 2-core machine; other sessions' processes may have run concurrently (see load_avg)",
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        },
        "physics_dt": PHYSICS_DT,
        "scan_hz": 2,
        "proprio_hz": 20,
        "threads": main_threads,
        "steps_per_s": per_n("cpu", main_threads),
        "steps_per_s_by_threads": {str(t): per_n("cpu", t) for t in thread_counts},
        "results": rows,
    }
    if torch.cuda.is_available():
        result["steps_per_s_cuda"] = per_n("cuda", main_threads)
    if args.datagen:
        torch.set_num_threads(1)  # what `dynstack nav gen-data` uses by default
        result["datagen"] = {"threads": 1, **run_datagen(256, 30.0)}
        d = result["datagen"]
        print(
            f"gen-data: {d['robots']} robots x {d['seconds']} s in {d['wall_s']} s = {d['robot_seconds_per_s']} robot-s/s, "
            f"{d['windows_per_s']} windows/s, {d['shard_mb']} MB"
        )
    atomic_write_json(args.out, result)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
