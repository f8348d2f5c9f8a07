"""MPPI engine speed: dynamics_stack.mppi against pytorch_mppi on the same unicycle problem.

Both plan for the same kinematic unicycle (goal + obstacle + effort costs, the
same formulas) with K=1024 samples, horizon T=50, one iteration per cycle, on
the CPU, in this process. pytorch_mppi calls the dynamics and the running cost
once per time step in a Python loop; our engine rolls the whole horizon out in
one batched call and scores it with critics over [K, T] tensors. Each planner
runs warm-up cycles, then the median of ``--cycles`` timed planning cycles is
reported.

Run: ``make bench`` (installs pytorch_mppi from requirements-bench.txt), or
``.venv/bin/python benchmarks/bench_mppi.py [--cycles 30] [--threads 2]``.
Writes benchmarks/results/mppi.json.
"""

from __future__ import annotations

import argparse
import platform
import statistics
from pathlib import Path

import torch
from timing import time_calls  # benchmarks/timing.py (the script's folder is on sys.path)

from dynamics_stack.atomic import atomic_write_json
from dynamics_stack.examples.unicycle import (
    EffortCritic,
    GoalCritic,
    ObstacleCritic,
    UnicycleCfg,
    unicycle_rollout,
    unicycle_step,
)
from dynamics_stack.mppi import Mppi, MppiCfg

RESULTS = Path(__file__).with_name("results") / "mppi.json"
K, T, DT = 1024, 50, 0.1
SIGMA = (0.6, 1.2)
LAMBDA = 0.5
U_MIN, U_MAX = (0.0, -2.0), (1.0, 2.0)


def ours(problem: UnicycleCfg, state: torch.Tensor):
    critics = [GoalCritic(problem.goal), ObstacleCritic(problem.obstacle), EffortCritic()]
    cfg = MppiCfg(
        num_samples=K,
        horizon=T,
        noise_sigma=SIGMA,
        temperature=LAMBDA,
        action_min=U_MIN,
        action_max=U_MAX,
        include_nominal=False,
        seed=0,
    )
    mppi = Mppi(cfg, critics)

    def plan_once():
        result = mppi.plan(lambda actions: unicycle_rollout(state, actions, DT))
        mppi.shift(1.0)
        return result.action

    return plan_once


def theirs(problem: UnicycleCfg, state: torch.Tensor):
    from pytorch_mppi import MPPI

    goal = torch.tensor(problem.goal)
    centre, radius = torch.tensor(problem.obstacle[:2]), problem.obstacle[2]
    goal_c, obstacle_c, effort_c = GoalCritic(problem.goal), ObstacleCritic(problem.obstacle), EffortCritic()

    def dynamics(s, a):  # s [K, 3], a [K, 2]: the per-step form of unicycle_rollout
        return unicycle_step(s, a, DT)

    def running_cost(s, a):  # the same terms as the critics, one time step at a time
        dist = torch.linalg.vector_norm(s[:, :2] - goal, dim=1)
        pen = (radius + obstacle_c.margin - torch.linalg.vector_norm(s[:, :2] - centre, dim=1)).clamp(min=0)
        obstacle = (pen > 0).float() + 10.0 * pen
        return goal_c.weight * dist / T + obstacle_c.weight * obstacle + effort_c.weight * a.square().sum(dim=1)

    def terminal_cost(states, actions):  # states [1, K, T, 3]
        dist = torch.linalg.vector_norm(states[0, :, -1, :2] - goal, dim=1)
        return goal_c.weight * goal_c.terminal * dist

    mppi = MPPI(
        dynamics,
        running_cost,
        nx=3,
        noise_sigma=torch.diag(torch.tensor(SIGMA) ** 2),
        num_samples=K,
        horizon=T,
        lambda_=LAMBDA,
        u_min=torch.tensor(U_MIN),
        u_max=torch.tensor(U_MAX),
        terminal_state_cost=terminal_cost,
    )

    def plan_once():
        return mppi.command(state)

    return plan_once


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cycles", type=int, default=30, help="timed planning cycles per planner")
    parser.add_argument("--warmup", type=int, default=5, help="untimed cycles before timing")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch default)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    problem = UnicycleCfg()
    state = torch.tensor(problem.start)
    # Interleave the two so machine load drifts hit both alike.
    ours_ms, theirs_ms = [], []
    plan_ours, plan_theirs = ours(problem, state), theirs(problem, state)
    time_calls(plan_ours, 0, args.warmup)
    time_calls(plan_theirs, 0, args.warmup)
    for _ in range(args.cycles):
        ours_ms += time_calls(plan_ours, 1, warmup=0)
        theirs_ms += time_calls(plan_theirs, 1, warmup=0)
    ours_med, theirs_med = statistics.median(ours_ms), statistics.median(theirs_ms)
    result = {
        "problem": f"unicycle goal+obstacle+effort, K={K}, T={T}, nu=2, 1 iteration per cycle",
        "device": "cpu",
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "cpu": platform.processor() or platform.machine(),
        "cycles": args.cycles,
        "ours_ms": round(ours_med, 3),
        "pytorch_mppi_ms": round(theirs_med, 3),
        "ratio": round(theirs_med / ours_med, 2),
        "ours_ms_p90": round(sorted(ours_ms)[int(0.9 * len(ours_ms)) - 1], 3),
        "pytorch_mppi_ms_p90": round(sorted(theirs_ms)[int(0.9 * len(theirs_ms)) - 1], 3),
    }
    print(f"MPPI planning cycle, {result['problem']}, CPU, {result['torch_threads']} threads")
    print(f"{'planner':<22}{'median ms':>12}{'p90 ms':>10}")
    print(f"{'dynamics_stack.mppi':<22}{result['ours_ms']:>12.2f}{result['ours_ms_p90']:>10.2f}")
    print(f"{'pytorch_mppi 0.9.1':<22}{result['pytorch_mppi_ms']:>12.2f}{result['pytorch_mppi_ms_p90']:>10.2f}")
    print(f"ratio (pytorch_mppi / ours): {result['ratio']:.2f}x")
    atomic_write_json(args.out, result)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
