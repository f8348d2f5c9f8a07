"""The two-process ROS 2 loop, run again and again: does the robot reach the goal every time?

Each run starts ``terrain_sim`` (``--scenario``, default pits_trench_01) and
``fdm_planner`` (config/navigation.yaml, as the README's "without ROS tools"
route) as two fresh processes, waits until both subscribe to ``goal_pose``,
then publishes ONE PoseStamped goal in the odometry frame, as rviz's "2D Goal
Pose" does (no re-sending: the simulator's route and that goal then reach the
planner in whatever order DDS delivers them). It watches the simulator's
status until the robot is within the goal tolerance (success), fails, or the
``--limit`` (wall seconds after the goal) passes. Prints one line per run and
the success count with the time to goal, and writes ``--json``: per run the
outcome, the simulated time to goal, whether the planner followed the route,
its states and recoveries.

DDS stays on loopback (``dynamics_stack.ros.env.configure_loopback_dds``).

Run: ``.venv/bin/python benchmarks/bench_nav_ros_loop.py --runs 20``.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from collections import Counter
from pathlib import Path

from bench_nav_node import start_node, stop_node  # benchmarks/ (the script's folder is on sys.path)

from dynamics_stack.atomic import atomic_write_json
from dynamics_stack.ros.env import configure_loopback_dds

RESULTS = Path(__file__).with_name("results") / "nav_ros_loop.json"


def one_run(k: int, scenario: str, limit: float, planner_params: dict[str, str]) -> dict:
    import rclpy
    from geometry_msgs.msg import PoseStamped
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node
    from rclpy.qos import QoSProfile
    from std_msgs.msg import String

    from dynamics_stack.ros.nav_convert import make_pose_stamped
    from sim.scenario import load_scenario, scenario_path

    goal = load_scenario(scenario_path(scenario)).goal
    sim, sim_log = start_node("sim.terrain_node", {"scenario": scenario, "seed": k}, ("config/navigation_sim.yaml",))
    planner, planner_log = start_node("fdm_nav.node", planner_params, ("config/navigation.yaml",))
    context = rclpy.Context()
    rclpy.init(context=context)
    node = Node("bench_ros_loop", context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    sim_status: list[dict] = []
    planner_status: list[dict] = []
    node.create_subscription(String, "/terrain_sim/status", lambda m: sim_status.append(json.loads(m.data)), 10)
    node.create_subscription(String, "/fdm_planner/status", lambda m: planner_status.append(json.loads(m.data)), 50)
    goal_pub = node.create_publisher(PoseStamped, "goal_pose", QoSProfile(depth=1))
    result = {"run": k, "outcome": "no_start", "time_to_goal_s": None, "logs": [str(sim_log), str(planner_log)]}
    try:
        deadline = time.monotonic() + 90.0

        def ready() -> bool:  # both nodes up, the planner active, goal and route topics connected in the graph
            return bool(
                planner_status
                and sim_status
                and planner_status[-1]["state"] == "idle"
                and goal_pub.get_subscription_count() >= 2
                and node.count_publishers("route") >= 1
                and node.count_subscribers("route") >= 1
            )

        while time.monotonic() < deadline and not ready():
            executor.spin_once(timeout_sec=0.1)
        if not (planner_status and sim_status):
            return result
        goal_pub.publish(make_pose_stamped("odom", 0.0, goal.x, goal.y))  # once, as rviz does
        n_planner = len(planner_status)
        t_sim0 = sim_status[-1]["t"]
        end = time.monotonic() + limit
        result["outcome"] = "timeout"
        while time.monotonic() < end:
            executor.spin_once(timeout_sec=0.05)
            last = sim_status[-1]
            if last["failed"]:
                result["outcome"], result["cause"] = "failure", last["cause"]
                break
            if math.hypot(last["pose"][0] - goal.x, last["pose"][1] - goal.y) <= goal.tolerance:
                result["outcome"], result["time_to_goal_s"] = "success", round(last["t"] - t_sim0, 2)
                break
        seen = planner_status[n_planner:]
        result.update(
            {
                "final_distance_m": round(math.hypot(last["pose"][0] - goal.x, last["pose"][1] - goal.y), 2),
                "followed_route": any(s.get("route") for s in seen),
                "states": dict(Counter(s["state"] for s in seen)),
                "recoveries": max((s.get("recoveries", 0) for s in seen), default=0),
                "overruns": seen[-1].get("overruns") if seen else None,
            }
        )
        return result
    finally:
        stop_node(planner), stop_node(sim)
        executor.shutdown()
        node.destroy_node()
        context.try_shutdown()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--scenario", default="pits_trench_01")
    ap.add_argument("--limit", type=float, default=90.0, help="wall seconds after the goal before a run times out")
    ap.add_argument("--planner-param", action="append", default=[], help="extra NAME:=VALUE for the planner")
    ap.add_argument("--json", type=Path, default=RESULTS)
    args = ap.parse_args()
    configure_loopback_dds()
    planner_params = dict(p.split(":=", 1) for p in args.planner_param)
    runs = []
    for k in range(args.runs):
        r = one_run(k, args.scenario, args.limit, planner_params)
        runs.append(r)
        print(
            f"run {k:2d}: {r['outcome']:<8} time to goal {r['time_to_goal_s']} s, route followed "
            f"{r.get('followed_route')}, states {r.get('states')}",
            flush=True,
        )
    times = [r["time_to_goal_s"] for r in runs if r["outcome"] == "success"]
    summary = {
        "scenario": args.scenario,
        "runs": len(runs),
        "successes": len(times),
        "failures": sum(r["outcome"] == "failure" for r in runs),
        "time_to_goal_s": {
            "median": statistics.median(times) if times else None,
            "min": min(times, default=None),
            "max": max(times, default=None),
        },
        "planner_params": planner_params,
    }
    atomic_write_json(args.json, {"summary": summary, "runs": runs})
    tg = summary["time_to_goal_s"]
    print(
        f"{summary['successes']}/{summary['runs']} reached the goal; time to goal median {tg['median']} s "
        f"(min {tg['min']}, max {tg['max']}); {summary['failures']} failures"
    )
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
