"""The ROS 2 navigation stack over real topics: control rate and odometry -> cmd_vel latency at K = 1024.

Starts ``terrain_sim`` (flat_01 in real time) and ``fdm_planner`` (K = 1024 by
default) as two separate processes on loopback DDS, sends the scenario's goal
on goal_pose from this (third) process, and for ``--seconds`` measures:

- the achieved control rate: cmd_vel messages received per second while the
  planner reports state ``ok``;
- the latency from an odometry message to the cmd_vel it causes: the planner
  reports in its status the stamp of the odometry each command was planned
  from (``odom_stamp``); latency = time this process received that cmd_vel -
  that stamp. All three processes read the same system clock. It includes the
  wait for the next 10 Hz cycle (odometry arrives at 50 Hz), planning, and two
  DDS hops;
- the planner's own planning time per cycle (``plan_ms``);
- first, the same planner called in a loop in this process without ROS (``--planner-loop`` cycles), so the
  run says what planning costs on the machine as loaded at that moment.

Writes benchmarks/results/nav_node.json. Run:
``.venv/bin/python benchmarks/bench_nav_node.py [--samples 1024] [--seconds 20] [--backend torch|onnx] [--threads 1]
[--device cpu|cuda] [--out FILE]``.
``--device cuda`` runs the planner node on the GPU (parameter ``device``); without CUDA it says so and exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dynamics_stack.paths import PACKAGE_ROOT, resolve_package_file

ROOT = PACKAGE_ROOT  # the nodes run from the source checkout
RESULTS = Path(__file__).with_name("results") / "nav_node.json"


def start_node(
    module: str, params: dict[str, object], params_files: tuple[str, ...] = ()
) -> tuple[subprocess.Popen, Path]:
    """``python -m module --ros-args [--params-file F ...] -p k:=v ...`` from the checkout; the process and its log."""
    args = [sys.executable, "-m", module, "--ros-args"]
    for file in params_files:
        args += ["--params-file", str(ROOT / file)]
    for key, value in params.items():
        args += ["-p", f"{key}:={str(value).lower() if isinstance(value, bool) else value}"]
    log = Path(tempfile.mkstemp(prefix=f"bench-{module}-", suffix=".log")[1])
    with log.open("w") as out:
        proc = subprocess.Popen(args, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"}, stdout=out, stderr=out)
    return proc, log


def stop_node(proc: subprocess.Popen) -> None:
    """SIGINT (a clean shutdown), then SIGKILL if it hangs."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))] if s else float("nan")


def _planner_loop(args) -> dict:
    """The same planner in this process, no ROS: the machine's planning time right now (same K, backend, threads)."""
    import dataclasses

    import torch

    from dynamics_stack.runtime import load_runtime
    from fdm_nav.planner import FdmPlanner, PlannerCfg

    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = PlannerCfg()
    cfg = dataclasses.replace(cfg, mppi=dataclasses.replace(cfg.mppi, num_samples=args.samples))
    runtime = load_runtime(
        resolve_package_file("models/fdm_anymal_d.card.json"), backend=args.backend, device=args.device
    )
    planner = FdmPlanner(runtime, cfg, args.device)
    proprio, state = torch.zeros(10, 16), torch.zeros(10, 6)
    state[:, 3] = 1.0  # cos(yaw) of a robot standing still
    scan, pose, goal = torch.full((60, 46), 0.1), torch.zeros(3), torch.tensor([5.0, 0.0, float("nan")])
    ms = []
    for i in range(args.planner_loop + 5):
        t0 = time.perf_counter()
        planner.plan(proprio, state, scan, pose, goal)
        if i >= 5:  # warm-up calls are not counted
            ms.append(1000.0 * (time.perf_counter() - t0))
    return {"cycles": len(ms), "median_ms": round(statistics.median(ms), 1), "p95_ms": round(_pct(ms, 0.95), 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=1024, help="MPPI samples K")
    ap.add_argument("--seconds", type=float, default=20.0, help="measured seconds after the goal is taken")
    ap.add_argument("--backend", choices=("torch", "onnx"), default="torch")
    ap.add_argument("--threads", type=int, default=1, help="planner torch threads")
    ap.add_argument("--device", default="cpu", help="planner device: cpu or cuda (skipped cleanly without CUDA)")
    ap.add_argument("--scenario", default="flat_01")
    ap.add_argument("--planner-loop", type=int, default=30, help="plan() calls timed in-process first (0: none)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    if args.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            print("CUDA is not available: nothing measured (run with --device cpu)")
            return 0

    loop = _planner_loop(args) if args.planner_loop else None

    from dynamics_stack.ros.env import configure_loopback_dds

    configure_loopback_dds()
    import rclpy
    from geometry_msgs.msg import PoseStamped, Twist
    from rclpy.node import Node
    from std_msgs.msg import String

    from dynamics_stack.ros.nav_convert import make_pose_stamped
    from sim.scenario import load_scenario, scenario_path

    scenario = load_scenario(scenario_path(args.scenario))
    sim, _sim_log = start_node("sim.terrain_node", {"scenario": args.scenario})
    planner, planner_log = start_node(
        "fdm_nav.node",
        {
            "planner.mppi.num_samples": args.samples,
            "backend": args.backend,
            "threads": args.threads,
            "device": args.device,
            "rollout_markers": 64,
        },
    )
    rclpy.init()
    node = Node("bench_nav_node")
    cmd_times: list[float] = []
    statuses: list[tuple[float, dict]] = []

    def now() -> float:
        return time.time()

    node.create_subscription(Twist, "cmd_vel", lambda m: cmd_times.append(now()), 50)
    node.create_subscription(String, "/fdm_planner/status", lambda m: statuses.append((now(), json.loads(m.data))), 50)
    goal_pub = node.create_publisher(PoseStamped, "goal_pose", 10)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not statuses:
            rclpy.spin_once(node, timeout_sec=0.1)
        if not statuses:
            print(planner_log.read_text()[-3000:], file=sys.stderr)
            raise SystemExit("planner never became active")
        while time.monotonic() < deadline and statuses[-1][1]["state"] == "idle":
            goal_pub.publish(make_pose_stamped("odom", now(), scenario.goal.x, scenario.goal.y))
            end = time.monotonic() + 0.5
            while time.monotonic() < end:
                rclpy.spin_once(node, timeout_sec=0.05)
        # Start-up is not measured: wait until the planner has its inputs (any state past idle/stale).
        while time.monotonic() < deadline and statuses[-1][1]["state"] in ("idle", "stale_input"):
            rclpy.spin_once(node, timeout_sec=0.05)
        t_start = now()
        first_cmd, first_status = len(cmd_times), len(statuses)
        end = time.monotonic() + args.seconds
        while time.monotonic() < end:
            rclpy.spin_once(node, timeout_sec=0.05)
        t_end = now()
    finally:
        stop_node(planner)
        stop_node(sim)
        node.destroy_node()
        rclpy.try_shutdown()

    window = statuses[first_status:]
    ok = [(t, s) for t, s in window if s["state"] == "ok"]
    cmds = cmd_times[first_cmd:]
    # Each ok status follows its cmd_vel in the same cycle: pair it with the last command received before it.
    latencies = []
    for t_status, s in ok:
        before = [t for t in cmds if t <= t_status]
        if before and s.get("odom_stamp") is not None:
            latencies.append(1000.0 * (before[-1] - s["odom_stamp"]))
    plan_ms = [s["plan_ms"] for _, s in ok if s.get("plan_ms") is not None]
    states: dict[str, int] = {}
    reasons: dict[str, int] = {}  # why cycles were not 'ok' (numbers stripped so that reasons group)
    for _, s in window:
        states[s["state"]] = states.get(s["state"], 0) + 1
        if s["state"] != "ok":
            key = re.sub(r"[0-9.]+", "#", s["reason"])
            reasons[key] = reasons.get(key, 0) + 1
    rate = (len(cmds) - 1) / (cmds[-1] - cmds[0]) if len(cmds) > 1 else 0.0
    result = {
        "benchmark": "bench_nav_node",
        "scenario": args.scenario,
        "samples": args.samples,
        "backend": args.backend,
        "threads": args.threads,
        "device": args.device,
        "seconds": round(t_end - t_start, 2),
        "control_rate_hz": round(rate, 2),
        "cmd_vel_messages": len(cmds),
        "latency_ms": {
            "median": round(statistics.median(latencies), 1) if latencies else None,
            "p95": round(_pct(latencies, 0.95), 1) if latencies else None,
            "max": round(max(latencies), 1) if latencies else None,
            "count": len(latencies),
        },
        "plan_ms": {
            "median": round(statistics.median(plan_ms), 1) if plan_ms else None,
            "p95": round(_pct(plan_ms, 0.95), 1) if plan_ms else None,
        },
        "planner_loop_without_ros": loop,
        "planner_states": states,
        "not_ok_reasons": reasons,
        "goal": {
            "target_hz": 10.0,
            "target_p95_ms": 100.0,
            "met": bool(rate >= 10.0 * 0.98 and latencies and _pct(latencies, 0.95) <= 100.0),
        },
        "machine": {
            "cpu_count": os.cpu_count(),
            "load_average_1min_at_end": round(os.getloadavg()[0], 2),  # other work on the machine during the run
            "python": platform.python_version(),
            "processor": platform.processor(),
        },
    }
    print(
        f"K={args.samples} {args.backend}: {result['control_rate_hz']} Hz, latency median "
        f"{result['latency_ms']['median']} ms p95 {result['latency_ms']['p95']} ms "
        f"(plan median {result['plan_ms']['median']} ms; without ROS {loop}), states {states}"
    )
    from dynamics_stack.atomic import atomic_write_json

    atomic_write_json(args.out, result)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
