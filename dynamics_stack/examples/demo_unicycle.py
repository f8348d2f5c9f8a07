"""``dynstack demo --example unicycle``: the MPPI engine drives a unicycle around an obstacle.

Prints a result table, writes ``unicycle.json`` and a picture of the executed
path and the last sampled rollouts (``unicycle.png``) to the output folder.
"""

from __future__ import annotations

from pathlib import Path

from dynamics_stack.atomic import atomic_path, atomic_write_json
from dynamics_stack.examples.unicycle import (
    UnicycleCfg,
    make_unicycle_mppi,
    run_unicycle_episode,
    straight_line_blocked,
)


def run_demo(out: Path) -> int:
    problem = UnicycleCfg()
    mppi = make_unicycle_mppi(problem)
    result = run_unicycle_episode(problem, mppi)
    rows = [
        ("example", "unicycle to goal past a disc obstacle"),
        ("straight line blocked", str(straight_line_blocked(problem))),
        (
            "MPPI",
            f"K={mppi.cfg.num_samples} T={mppi.cfg.horizon} I={mppi.cfg.iterations} critics={','.join(mppi.cfg.critics)}",
        ),
        ("reached goal", str(result.reached)),
        ("steps (dt 0.1 s)", str(result.steps)),
        ("final distance [m]", f"{result.final_distance:.3f}"),
        ("min obstacle clearance [m]", f"{result.min_clearance:.3f}"),
        ("mean planning time [ms]", f"{result.mean_plan_ms:.2f}"),
    ]
    width = max(len(k) for k, _ in rows)
    print("dynamics_stack demo: MPPI engine on a kinematic unicycle")
    for key, value in rows:
        print(f"  {key:<{width}}  {value}")
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "unicycle.json", {k: v for k, v in rows} | {"path": result.path.tolist()})
    _plot(problem, result, out / "unicycle.png")
    print(f"  wrote {out / 'unicycle.json'} and {out / 'unicycle.png'}")
    return 0 if result.reached else 1


def _plot(problem: UnicycleCfg, result, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4.5))
    cx, cy, r = problem.obstacle
    ax.add_patch(plt.Circle((cx, cy), r, color="tab:red", alpha=0.4, label="obstacle"))
    track = result.path.numpy()
    ax.plot(track[:, 0], track[:, 1], "-", color="tab:blue", lw=2, label="executed path")
    ax.plot(*problem.start[:2], "o", color="k", label="start")
    ax.plot(*problem.goal, "*", color="tab:green", ms=14, label="goal")
    ax.set_aspect("equal")
    ax.set_xlabel("x [m]")
    ax.set_ylabel("y [m]")
    ax.set_title(f"MPPI unicycle: {'reached' if result.reached else 'missed'} in {result.steps} steps")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
