"""Manipulation planner speed: one plan (K samples, T steps, I MPPI iterations) with the shipped PGND planning models.

For the rope (40 particles) and the cloth (400), from a resting object and a
target 8 cm away: the wall time of ``ManipPlanner.plan`` (grasp choice batch +
I iterations + the final rollout), split into the PGND rollouts and the rest
(matching, critics, MPPI updates), on the CPU with 1 and 2 torch threads and on
CUDA when a GPU is present. Also the batched model step alone at B = K, on the
active-node path the planner uses and on the dense fixed-shape path that is
exported to ONNX, as the ratio the change to active nodes bought.

Goals (issue "Manipulation III"): a plan of K = 32, T = 10, >= 3 iterations in
under 5 s on the 2-core CPU and under 0.5 s on a GPU.
Prints a table and writes benchmarks/results/manip_planner.json.
Run: ``.venv/bin/python benchmarks/bench_manip_planner.py [--reps 3] [--threads 1 2]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from timing import time_calls  # benchmarks/timing.py (the script's folder is on sys.path)

from dynamics_stack.atomic import atomic_write_json
from dynamics_stack.runtime import TorchRuntime, load_card
from pgnd.planner import ManipPlanner, ManipPlannerCfg

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).with_name("results") / "manip_planner.json"
OBJECTS = {"rope": "pgnd_rope_planning", "cloth": "pgnd_cloth_planning"}


def resting(category: str) -> np.ndarray:
    if category == "rope":
        return np.stack((np.linspace(-0.195, 0.195, 40), np.zeros(40), np.full(40, 0.006)), axis=-1)
    u = np.linspace(-0.1425, 0.1425, 20)
    x, y = np.meshgrid(u, u, indexing="ij")
    return np.stack((x.ravel(), y.ravel(), np.full(400, 0.005)), axis=-1)


class Timed:
    """Wraps the model's rollout to add up the time spent in it."""

    def __init__(self, model):
        self.model, self.seconds = model, 0.0
        self._rollout = model.rollout

    def __call__(self, *args):
        t0 = time.perf_counter()
        out = self._rollout(*args)
        self.seconds += time.perf_counter() - t0
        return out


def bench(category: str, device: str, threads: int, reps: int) -> dict:
    if device == "cpu":
        torch.set_num_threads(threads)
    model = TorchRuntime(load_card(ROOT / "models" / f"{OBJECTS[category]}.card.json")).model
    cfg = ManipPlannerCfg()
    planner = ManipPlanner(model, cfg, device=device)
    x = resting(category)
    hist = np.repeat(x[None], model.cfg.history + 1, axis=0)
    target = x + np.array([0.0, 0.08, 0.0])
    timer = Timed(model)
    model.rollout = timer
    planner.plan(hist, target)  # warm-up
    walls, models = [], []
    for _ in range(reps):
        timer.seconds = 0.0
        t0 = time.perf_counter()
        planner.plan(hist, target)
        if device == "cuda":
            torch.cuda.synchronize()
        walls.append(time.perf_counter() - t0)
        models.append(timer.seconds)
    model.rollout = timer._rollout
    # the batched step alone, active nodes vs the dense exported path
    K = cfg.samples
    xh = torch.from_numpy(np.repeat(hist[None], K, axis=0)).float().to(device)
    g = torch.zeros(K, 15, device=device)
    g[:, 0:3] = xh[:, -1, 0]
    g[:, 3] = 0.1
    g[:, 6] = 1.0
    g[:, 13] = cfg.grasp_radius
    steps = {}
    with torch.inference_mode():
        for name, compact in (("active", True), ("dense", False)):
            model.compact_grid = compact
            steps[name] = statistics.median(time_calls(lambda: model.step(xh, g), max(3, reps), warmup=1))
    model.compact_grid = True
    row = {
        "object": category,
        "particles": model.cfg.num_particles,
        "device": device,
        "threads": threads if device == "cpu" else None,
        "samples": cfg.samples,
        "horizon": cfg.horizon,
        "iterations": cfg.iterations,
        "plan_s": round(statistics.median(walls), 3),
        "model_s": round(statistics.median(models), 3),
        "step_ms_active": round(steps["active"], 1),
        "step_ms_dense": round(steps["dense"], 1),
        "dense_over_active": round(steps["dense"] / steps["active"], 2),
    }
    print(
        f"{category:<6}{device:<5}{row['threads'] or '':>3}  plan {row['plan_s']:>6.2f} s (model {row['model_s']:.2f} s)"
        f"  step B={K}: active {row['step_ms_active']:>7.1f} ms, dense {row['step_ms_dense']:>7.1f} ms"
        f" ({row['dense_over_active']}x)",
        flush=True,
    )
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    rows = [bench(c, "cpu", t, args.reps) for t in args.threads for c in OBJECTS]
    if torch.cuda.is_available():
        rows += [bench(c, "cuda", 0, args.reps) for c in OBJECTS]
    atomic_write_json(
        args.out,
        {
            "benchmark": "manip_planner",
            "machine": {
                "cpu": platform.processor() or platform.machine(),
                "cores": os.cpu_count(),
                "torch": torch.__version__,
            },
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            "load_average": os.getloadavg(),
            "rows": rows,
        },
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
