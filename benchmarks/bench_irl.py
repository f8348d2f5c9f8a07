"""Per-frame cost of the reward node's work: features, reward inference (torch / ONNX Runtime), retargeting.

For frames of a generated demonstration (30 Hz keypoints), times in the same
process: state features from the keypoints, the reward network on one state
(torch on CPU, ONNX Runtime on CPU; torch on CUDA with ``--device cuda`` when a
GPU is present), and one retargeting step (human IK, joint map, DLS IK with
posture, warm-started as in the node) for the Panda and the UR5. The total is
features + ORT reward + retargeting, the node's path; goal: under 5 ms per
frame on the 2-core CPU (a 30 Hz camera leaves 33 ms).

Run: ``.venv/bin/python benchmarks/bench_irl.py [--model models/irl_reward.card.json] [--reps 300]``.
Writes benchmarks/results/irl.json (median and p95 milliseconds).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
from pathlib import Path

import numpy as np
import torch
from timing import time_calls  # benchmarks/timing.py (the script's folder is on sys.path)

from dynamics_stack.atomic import atomic_write_json
from dynamics_stack.paths import resolve_package_file
from dynamics_stack.runtime import load_runtime
from visual_irl.camera import CameraCfg
from visual_irl.demos import DemoGenCfg, generate_demo
from visual_irl.features import frame_states
from visual_irl.retarget import Retargeter
from visual_irl.robots import load_robot

RESULTS = Path(__file__).with_name("results") / "irl.json"


def stats(samples: list[float]) -> dict:
    return {"median_ms": round(statistics.median(samples), 4), "p95_ms": round(float(np.percentile(samples, 95)), 4)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", type=Path, default=resolve_package_file("models/irl_reward.card.json"))
    ap.add_argument("--reps", type=int, default=300, help="timed frames per measurement")
    ap.add_argument("--threads", type=int, default=1, help="torch and ORT intra-op threads")
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="also time torch on CUDA")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    demo = generate_demo(DemoGenCfg(camera=CameraCfg(dropout=0.0, depth_hole=0.0)), "good", seed=1)
    blem = 1.0 if "blemished" in demo.labels[0] else 0.0
    frames = [(demo.keypoints[i], demo.confidence[i].clip(0.6), demo.objects[i, 0]) for i in range(len(demo))]
    frames = [f for f in frames if np.all(np.isfinite(f[2]))]
    it = {"i": 0}

    def next_frame():
        it["i"] = (it["i"] + 1) % len(frames)
        return frames[it["i"]]

    def features():
        kp, conf, onion = next_frame()
        return frame_states(kp[None], conf[None], onion[None], blem, 0.5)[0]

    states = np.concatenate([features() for _ in range(len(frames))])
    results: dict = {
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "load_average_1min_at_start": round(os.getloadavg()[0], 2),  # other jobs on the machine inflate p95
            "python": sys.version.split()[0],
        },
        "threads": args.threads,
        "frames": len(frames),
        "features": stats(time_calls(features, args.reps)),
    }

    def reward_fn(rt, device="cpu"):
        def run():
            s = torch.from_numpy(states[it["i"] % len(states)][None]).to(device)
            out = rt.run_torch("reward", s)
            if device == "cuda":
                torch.cuda.synchronize()
            it["i"] += 1
            return out

        return run

    rt_torch = load_runtime(args.model, "torch")
    results["reward_torch"] = stats(time_calls(reward_fn(rt_torch), args.reps))
    # ONNX Runtime session as the runtime builds it (no spinning), with the requested thread count
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    onnx_path = rt_torch.card.file(rt_torch.graphs["reward"]["onnx"])
    sess = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])

    def run_ort():
        s = states[it["i"] % len(states)][None]
        it["i"] += 1
        return sess.run(None, {"state": s})

    results["reward_onnx"] = stats(time_calls(run_ort, args.reps))
    if args.device == "cuda":
        if torch.cuda.is_available():
            results["reward_torch_cuda"] = stats(
                time_calls(reward_fn(load_runtime(args.model, "torch", "cuda"), "cuda"), args.reps)
            )
        else:
            results["reward_torch_cuda"] = "skipped: CUDA not available"

    for name in ("panda", "ur5"):
        rt = Retargeter(load_robot(name))
        iters = []

        def step(rt=rt, iters=iters):
            r = rt.step(states[it["i"] % len(states), :9].astype(np.float64))
            it["i"] += 1
            iters.append(r["iterations"])
            return r

        results[f"retarget_{name}"] = {
            **stats(time_calls(step, args.reps)),
            "mean_ik_iterations": float(np.mean(iters)),
        }
        results[f"total_{name}_onnx"] = {
            "median_ms": round(
                results["features"]["median_ms"]
                + results["reward_onnx"]["median_ms"]
                + results[f"retarget_{name}"]["median_ms"],
                4,
            ),
            "goal_ms": 5.0,
        }
    atomic_write_json(args.out, results)
    print(f"{'stage':28s} {'median ms':>10s} {'p95 ms':>8s}")
    for key, row in results.items():
        if isinstance(row, dict) and "median_ms" in row:
            print(f"{key:28s} {row['median_ms']:10.3f} {row.get('p95_ms', float('nan')):8.3f}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
