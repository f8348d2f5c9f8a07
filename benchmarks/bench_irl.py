"""Per-frame cost of the reward node's work (features, reward inference, retargeting, joint limits), and the
joint speeds of replayed demonstrations before and after the limits.

For frames of a generated demonstration (30 Hz keypoints), times in the same
process: state features from the keypoints, the reward network on one state
(torch on CPU, ONNX Runtime on CPU; torch on CUDA with ``--device cuda`` when a
GPU is present), one retargeting step (human IK, joint map, DLS IK with
posture, warm-started as in the node) and one joint-limit step (the limiter and
the stop a JointTrajectory carries) for the Panda and the UR5. The total is
features + ORT reward + retargeting + limits; ``cycle_*`` times the node's
whole per-frame decision (``RewardCycle.frame``, limits on) in one call. Goal:
under 5 ms per frame on the 2-core CPU (a 30 Hz camera leaves 33 ms).

Then good, suboptimal and gappy demonstrations (4 of every 20 frames never
arrive; the camera model's own dropouts give frames the node drops) replayed
at 10 Hz through ``RewardCycle`` with the default limits: per joint, the
largest speed and acceleration of the retargeted joints (what the node
published before the limits) and of the published targets, beside the limits,
and how far the tool trails the retargeted one.

Run: ``.venv/bin/python benchmarks/bench_irl.py [--model models/irl_reward.card.json] [--reps 300]``.
Writes benchmarks/results/irl.json (median and p95 milliseconds; the replay table).
"""

from __future__ import annotations

import argparse
import dataclasses
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
from visual_irl.joint_limits import JointLimiter, JointLimits, JointLimitsCfg, check_stream, stop_trajectory
from visual_irl.node_cfg import IrlRewardNodeCfg
from visual_irl.retarget import Retargeter
from visual_irl.reward_cycle import RewardCycle, replay
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

    node_cfg = IrlRewardNodeCfg()  # the node's defaults: limits on, the JointTrajectory's stop computed
    rt_onnx = load_runtime(args.model, "onnx")
    for name in ("panda", "ur5"):
        robot = load_robot(name)
        rt = Retargeter(robot)
        iters, retargeted = [], []

        def step(rt=rt, iters=iters, retargeted=retargeted):
            r = rt.step(states[it["i"] % len(states), :9].astype(np.float64))
            it["i"] += 1
            iters.append(r["iterations"])
            retargeted.append(r["q"])
            return r

        results[f"retarget_{name}"] = {
            **stats(time_calls(step, args.reps)),
            "mean_ik_iterations": float(np.mean(iters)),
        }
        limits = JointLimits.of(robot, node_cfg.limits)
        limiter = JointLimiter(limits, node_cfg.limits.max_dt_s, 1.0 / node_cfg.expected_rate_hz, start=rt.home)

        def limit(limiter=limiter, retargeted=retargeted, limits=limits):
            it["i"] += 1
            out = limiter.step(it["i"] / node_cfg.expected_rate_hz, retargeted[it["i"] % len(retargeted)])
            return stop_trajectory(out.q, out.v, out.dt, limits)

        results[f"limits_{name}"] = stats(time_calls(limit, args.reps))
        results[f"total_{name}_onnx"] = {
            "median_ms": round(
                sum(results[k]["median_ms"] for k in ("features", "reward_onnx", f"retarget_{name}", f"limits_{name}")),
                4,
            ),
            "goal_ms": 5.0,
        }
        cycle = RewardCycle(dataclasses.replace(node_cfg, robot=name), rt_onnx, Retargeter(robot))
        points = [np.concatenate([kp, conf[:, None]], axis=1) for kp, conf, _ in frames]

        def frame(cycle=cycle, points=points):
            it["i"] += 1
            k, stamp = it["i"] % len(frames), it["i"] / node_cfg.expected_rate_hz
            cycle.take_objects(stamp, np.append(frames[k][2], blem)[None])
            result = cycle.frame(stamp, points[k])
            assert result.joints is not None, result.why  # every timed frame went the whole way
            return result

        results[f"cycle_{name}_onnx"] = {**stats(time_calls(frame, args.reps)), "goal_ms": 5.0}
    results["joint_limits_replay"] = replay_limits(rt_onnx, node_cfg)
    atomic_write_json(args.out, results)
    print(f"{'stage':28s} {'median ms':>10s} {'p95 ms':>8s}")
    for key, row in results.items():
        if isinstance(row, dict) and "median_ms" in row:
            print(f"{key:28s} {row['median_ms']:10.3f} {row.get('p95_ms', float('nan')):8.3f}")
    print_replay(results["joint_limits_replay"])
    print(f"wrote {args.out}")
    return 0


REPLAYS = (
    ("good", 5, ()),
    ("suboptimal", 6, ()),
    ("gappy", 7, tuple(k for k in range(300) if k % 20 in (8, 9, 10, 11))),
)


def replay_limits(runtime, node_cfg: IrlRewardNodeCfg) -> dict:
    """Good, suboptimal and gappy demonstrations at 10 Hz through the node's decisions: joint speeds before
    (the retargeted joints, as published before the limits) and after (the published targets)."""
    cfg = dataclasses.replace(node_cfg, expected_rate_hz=10.0)
    out: dict = {"settings": dataclasses.asdict(cfg.limits), "rate_hz": 10.0, "robots": {}}
    for name in ("panda", "ur5"):
        robot = load_robot(name)
        unscaled = JointLimits.of(robot, JointLimitsCfg(velocity_scale=1.0, acceleration_scale=1.0))
        rows = {}
        for label, seed, skip in REPLAYS:
            quality = "good" if label == "gappy" else label
            cycle = RewardCycle(dataclasses.replace(cfg, robot=name), runtime, Retargeter(robot))
            res = [(t, r) for t, r in replay(cycle, generate_demo(DemoGenCfg(), quality, seed=seed), skip=skip)]
            res = [(t, r) for t, r in res if r.joints is not None]
            t = np.array([t for t, _ in res])
            q, raw = np.array([r.joints for _, r in res]), np.array([r.retargeted for _, r in res])
            lim, max_dt = cycle.limiter.limits, cfg.limits.max_dt_s
            before = check_stream(t, raw, unscaled, max_dt, 0.1)
            after = check_stream(t, q, lim, max_dt, 0.1, start=cycle.retargeter.home)
            after_urdf = check_stream(t, q, unscaled, max_dt, 0.1, start=cycle.retargeter.home)
            lag = [np.linalg.norm(robot.fk(a) - robot.fk(b)) for a, b in zip(q, raw, strict=True)]
            rows[label] = {
                "frames": cycle.counts["frames"],
                "targets": len(t),
                "dropped_frames": cycle.dropped,
                "pairs": before["pairs"],
                "before_pairs_over_velocity_urdf": before["pairs_over_velocity"],
                "before_pairs_over_acceleration": before["pairs_over_acceleration"],
                "before_largest_step_rad": before["largest_step_rad"],
                "after_pairs_over_velocity": after["pairs_over_velocity"],
                "after_pairs_over_velocity_urdf": after_urdf["pairs_over_velocity"],
                "after_pairs_over_acceleration": after["pairs_over_acceleration"],
                "after_largest_step_rad": after["largest_step_rad"],
                "tool_lag_mm_mean": round(float(np.mean(lag) * 1e3), 1),
                "tool_lag_mm_max": round(float(np.max(lag) * 1e3), 1),
                "joints": {
                    j: {
                        "velocity_limit_urdf": float(unscaled.velocity[k]),
                        "velocity_limit": after["joints"][j]["velocity_limit"],
                        "max_speed_before": before["joints"][j]["max_speed"],
                        "max_speed_after": after["joints"][j]["max_speed"],
                        "acceleration_limit": after["joints"][j]["acceleration_limit"],
                        "max_acceleration_before": before["joints"][j]["max_acceleration"],
                        "max_acceleration_after": after["joints"][j]["max_acceleration"],
                    }
                    for k, j in enumerate(lim.names)
                },
            }
        out["robots"][name] = rows
    return out


def print_replay(report: dict) -> None:
    print(f"\njoint speed [rad/s], largest in each replay at 10 Hz, before / after the limits {report['settings']}")
    for name, rows in report["robots"].items():
        first = next(iter(rows.values()))["joints"]
        short = [j.removeprefix("panda_").removesuffix("_joint") for j in first]
        print(f"{name:6s} {'':11s} " + " ".join(f"{j:>12s}" for j in short) + "   tool lag mm mean/max")
        print(f"{'':6s} {'URDF limit':11s} " + " ".join(f"{v['velocity_limit_urdf']:12.3f}" for v in first.values()))
        for label, row in rows.items():
            cells = " ".join(
                f"{v['max_speed_before']:6.2f}/{v['max_speed_after']:5.2f}" for v in row["joints"].values()
            )
            print(f"{'':6s} {label:11s} {cells}   {row['tool_lag_mm_mean']:.0f}/{row['tool_lag_mm_max']:.0f}")


if __name__ == "__main__":
    sys.exit(main())
