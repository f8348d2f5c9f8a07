"""The manipulation demo (``dynstack demo --example manip``, part of ``make demo``): PGND-MPPI vs the heuristic.

One rope and one cloth task of sim/scenarios/manip/, closed loop in MuJoCo with
the shipped planning models, the planner seeing what a robot would: particles
perceived from the four RGB-D cameras. Prints the comparison table and writes
to the output folder: the benchmark JSON, a PNG of start, target and final
shapes per planner, and an animated GIF of PGND's rope episode (camera 0).
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from dynamics_stack.atomic import atomic_write_json
from pgnd.manip_benchmark import benchmark, planner_factories, save_pictures
from sim.deformable_cameras import RenderCfg
from sim.manip_scenario import manip_scenario_path

DEMO_TASKS = ("rope_straighten_02", "cloth_translate_01")
MODELS = Path(__file__).resolve().parents[1] / "models"


def run_manip_demo(out: Path, tasks: tuple[str, ...] = DEMO_TASKS) -> int:
    torch.set_num_threads(1)  # one busy thread beats two fighting on a shared 2-core machine
    out.mkdir(parents=True, exist_ok=True)
    print(f"dynamics_stack demo: PGND-MPPI vs heuristic on {', '.join(tasks)} (perceived particles, 4 RGB-D cameras)")
    t0 = time.perf_counter()
    factories, particles = planner_factories(["pgnd", "heuristic"], MODELS, "_planning")
    result = benchmark(
        [manip_scenario_path(t) for t in tasks],
        factories,
        observation="perceived",
        render=RenderCfg(),
        particles=particles,
        gif_task=tasks[0],
    )
    pictures = save_pictures(result, out)
    report = {k: v for k, v in result.items() if not k.startswith("_")}
    atomic_write_json(out / "manip_demo.json", report)
    print(f"{'task':<22}{'planner':<11}{'success':>8}{'Chamfer start -> final (cm)':>30}{'actions':>9}")
    for r in result["rows"]:
        chamfer = f"{100 * r['start_chamfer']:.1f} -> {100 * r['final_chamfer']:.1f}"
        print(f"{r['task']:<22}{r['planner']:<11}{'yes' if r['success'] else 'no':>8}{chamfer:>30}{r['actions']:>9}")
    print(f"({time.perf_counter() - t0:.0f} s) wrote {out}/manip_demo.json and {', '.join(p.name for p in pictures)}")
    return 0
