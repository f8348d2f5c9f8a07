"""PGND speed: model steps per second for N = 1000 particles on a 50^3 grid, and simulator data rate.

Model: the architecture of the shipped rope model (``--model``, default
models/pgnd_rope.card.json) with N = 1000 (the anchor's particle count; the
weights do not change the timing, so they are freshly initialised). One model
step (dt = 0.1 s) for a single trajectory (B = 1, tracking) and a batch of 32
(the anchor's MPPI samples), with:

- torch CPU, dense grid (the fixed-shape graph that is exported),
- torch CPU, touched-node table (``compact_grid``, training path),
- ONNX Runtime CPU (the Jetson path),
- torch CUDA when a GPU is present (``--device cuda`` to require it).

Simulator: simulated seconds per wall second of ``sim.deformable_script``
episodes (rope, cloth) on one thread. Prints a table and writes
benchmarks/results/pgnd.json.

Run: ``.venv/bin/python benchmarks/bench_pgnd.py [--threads 1] [--reps 10] [--device cuda]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from timing import time_calls  # benchmarks/timing.py (the script's folder is on sys.path)

from dynamics_stack.atomic import atomic_write_json
from dynamics_stack.checkpoint import load_card
from dynamics_stack.config import cfg_from_dict, cfg_to_dict
from dynamics_stack.paths import PACKAGE_ROOT, resolve_package_file
from dynamics_stack.runtime import OnnxRuntime, save_model
from pgnd.model import Pgnd, PgndCfg

ROOT = PACKAGE_ROOT  # the source checkout
RESULTS = Path(__file__).with_name("results") / "pgnd.json"


def inputs(B: int, N: int, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    """A cloth-sized cloud on the table with some motion, and a closed gripper moving over it."""
    g = torch.Generator().manual_seed(0)
    x = torch.zeros(B, 3, N, 3)
    x[..., :2] = (torch.rand(B, 1, N, 2, generator=g) - 0.5) * 0.3
    x[..., 2] = 0.005 + torch.rand(B, 1, N, generator=g) * 0.03
    x = x + torch.arange(3).view(1, 3, 1, 1) * 0.002
    grip = torch.zeros(B, 15)
    grip[:, 0:3] = torch.tensor([0.05, 0.0, 0.02])
    grip[:, 3:6] = torch.tensor([0.1, 0.0, 0.05])
    grip[:, 6] = 1.0
    grip[:, 13] = 0.02
    return x.to(device), grip.to(device)


def steps_per_s(fn, reps: int, sync=lambda: None) -> float:
    def call():
        fn()
        sync()

    return 1000.0 / statistics.median(time_calls(call, reps, warmup=2))


def bench_model(cfg: PgndCfg, batches: list[int], reps: int, device: str) -> dict:
    torch.manual_seed(0)
    model = Pgnd(cfg).eval()
    rows: dict[str, dict[str, float]] = {}
    with torch.inference_mode():
        for B in batches:
            x, g = inputs(B, cfg.num_particles, "cpu")
            model.compact_grid = False
            rows.setdefault("torch_cpu_dense", {})[f"B{B}"] = steps_per_s(lambda x=x, g=g: model.step(x, g), reps)
            model.compact_grid = True
            rows.setdefault("torch_cpu_compact", {})[f"B{B}"] = steps_per_s(lambda x=x, g=g: model.step(x, g), reps)
            model.compact_grid = False
    with tempfile.TemporaryDirectory() as tmp:
        card = save_model(Path(tmp) / "bench", model, kind="pgnd", config=cfg_to_dict(cfg))
        rt = OnnxRuntime(load_card(card.path), threads=torch.get_num_threads())
        for B in batches:
            x, g = inputs(B, cfg.num_particles, "cpu")
            feeds = {"x_hist": x.numpy(), "gripper": g.numpy()}
            rows.setdefault("onnxruntime_cpu", {})[f"B{B}"] = steps_per_s(lambda f=feeds: rt.run("step", f), reps)
    if device == "cuda":
        gpu = Pgnd(cfg).to("cuda").eval()
        with torch.inference_mode():
            for B in batches:
                x, g = inputs(B, cfg.num_particles, "cuda")
                rows.setdefault("torch_cuda_dense", {})[f"B{B}"] = steps_per_s(
                    lambda x=x, g=g: gpu.step(x, g), reps, torch.cuda.synchronize
                )
    return rows


def bench_sim(episodes: int) -> dict:
    from sim.deformable_script import simulate_episode

    out = {}
    for category in ("rope", "cloth"):
        t0 = time.perf_counter()
        for e in range(episodes):
            simulate_episode(category, np.random.default_rng([99, e]), 5.0)
        out[category] = round(episodes * 5.0 / (time.perf_counter() - t0), 2)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=resolve_package_file("models/pgnd_rope.card.json"))
    parser.add_argument("--particles", type=int, default=1000)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch and ONNX Runtime CPU threads (default 1: on the shared 2-core machine, 2 threads made the "
        "torch step ~10x slower, results/pgnd_threads2.json)",
    )
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--sim-episodes", type=int, default=2, help="episodes per category (0 skips)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        print("bench_pgnd: --device cuda but CUDA is not available")
        return 2
    device = "cuda" if args.device in ("auto", "cuda") and torch.cuda.is_available() else "cpu"
    torch.set_num_threads(args.threads)
    card = load_card(args.model)
    cfg = dataclasses.replace(cfg_from_dict(PgndCfg, card.config, str(args.model)), num_particles=args.particles)
    load_before = os.getloadavg()[0]
    rows = bench_model(cfg, args.batches, args.reps, device)
    sim = bench_sim(args.sim_episodes) if args.sim_episodes > 0 else {}
    print(f"PGND step, N = {cfg.num_particles}, grid {cfg.grid_size}^3, {args.threads} threads: steps per second")
    print(f"{'backend':<22}" + "".join(f"{'B=' + str(b):>10}" for b in args.batches))
    for name, row in rows.items():
        print(f"{name:<22}" + "".join(f"{row[f'B{b}']:>10.2f}" for b in args.batches))
    for category, rate in sim.items():
        print(f"simulator {category}: {rate} simulated s per wall s (1 thread)")
    result = {
        "model_config": cfg_to_dict(cfg),
        "source_card": str(args.model.relative_to(ROOT) if args.model.is_relative_to(ROOT) else args.model),
        "threads": args.threads,
        "steps_per_s": rows,
        "sim_seconds_per_wall_second": sim,
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "torch": torch.__version__,
            # other jobs on the machine slow every figure down; the 1-minute load average says how busy it was
            "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        },
        "cuda": torch.cuda.get_device_name(0) if device == "cuda" else None,
        "note": "median of --reps calls after 2 warm-up calls; timings on a CPU shared with other jobs vary",
    }
    atomic_write_json(args.out, result)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
