"""The main demo (``make demo``): FDM planner vs the heuristic planner on shipped scenarios.

Runs both planners closed-loop in the embedded simulator with the shipped
model on a handful of scenarios (rough terrain and detours), prints a
comparison table, and writes to the output folder: the benchmark JSON, one
PNG per scenario with both planners' trajectories over the height map, and an
animated GIF of the FDM planner's run on the first scenario.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from fdm_nav.benchmark import run_benchmark, trajectory_of, write_benchmark
from fdm_nav.cli_planning import DEFAULT_MODEL, format_table
from sim.scenario import load_scenario, scenario_path
from sim.terrain import build_terrain

DEMO_SCENARIOS = ("stairs_up_01", "rough_high_02", "walls_barrier_02", "pits_trench_01")


def run_nav_demo(out: Path, model: Path = DEFAULT_MODEL, scenarios: tuple[str, ...] = DEMO_SCENARIOS) -> int:
    torch.set_num_threads(1)  # one busy thread beats two fighting on a shared 2-core machine
    if not model.is_file():
        raise FileNotFoundError(f"{model}: shipped FDM model not found (see models/README.md)")
    paths = [scenario_path(name) for name in scenarios]
    out.mkdir(parents=True, exist_ok=True)
    print(f"dynamics_stack demo: FDM planner vs heuristic planner on {len(paths)} shipped scenarios ({model.name})")
    t0 = time.perf_counter()
    report = run_benchmark(paths, ["fdm", "heuristic"], 1, model, plots=out, progress=True)
    write_benchmark(out / "demo_benchmark.json", report)
    print(format_table(report))
    first = report["scenarios"][scenarios[0]]["planners"]["fdm"]["episodes_detail"][0]
    gif = _animate(load_scenario(paths[0]), report, out / f"{scenarios[0]}_fdm.gif")
    print(f"({time.perf_counter() - t0:.0f} s) wrote {out}/demo_benchmark.json, {len(paths)} PNGs and {gif.name}")
    print(f"first scenario, FDM planner: {first['outcome']} in {first['time_s']} s")
    return 0


def _animate(scenario, report: dict, path: Path, frames: int = 60) -> Path:
    """GIF of the FDM run over the height map (every k-th planning tick)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.animation import FuncAnimation, PillowWriter

    traj = np.asarray(trajectory_of(report, scenario.name, "fdm"), dtype=np.float32)
    hm = build_terrain(scenario.terrain)
    x0, x1, y0, y1 = hm.extent
    fig, ax = plt.subplots(figsize=(5, 5))
    shown = np.where(hm.pit.numpy(), np.nan, hm.heights.numpy())
    ax.imshow(shown.T, origin="lower", extent=(x0, x1, y0, y1), cmap="terrain")
    ax.plot([scenario.goal.x], [scenario.goal.y], "r*", ms=14)
    (line,) = ax.plot([], [], "-", color="tab:red", lw=2)
    (dot,) = ax.plot([], [], "o", color="tab:red", ms=6)
    ax.set_title(f"{scenario.name}: FDM planner")
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    step = max(1, len(traj) // frames)

    def draw(i):
        k = min(len(traj) - 1, i * step)
        line.set_data(traj[: k + 1, 0], traj[: k + 1, 1])
        dot.set_data([traj[k, 0]], [traj[k, 1]])
        return line, dot

    anim = FuncAnimation(fig, draw, frames=len(traj) // step + 1, blit=True)
    partial = path.with_name(path.stem + ".partial.gif")  # Pillow picks the format from the suffix
    anim.save(str(partial), writer=PillowWriter(fps=10))
    partial.replace(path)
    plt.close(fig)
    return path
