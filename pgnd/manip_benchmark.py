"""``dynstack manip benchmark``: closed-loop manipulation tasks in MuJoCo with PGND-MPPI and the baselines.

Per task file (``sim.manip_scenario``) and planner, the loop runs until the
object is within the task's Chamfer threshold of its target (measured on the
simulator's vertices: the truth, not what the robot perceives) or the action
or time budget is spent:

1. observe: the particles of the last H+1 frames, either the simulator's
   vertices (``observe='vertices'``) or particles perceived from the RGB-D
   cameras (``'perceived'``: the tracker of ``pgnd.perception`` started on
   those frames, what a robot has);
2. plan one grasp-drag-release action (``pgnd.planner``): MPPI over the PGND
   model, MPPI over the particle-only model, or the scripted heuristic;
3. apply the gripper limits last (``pgnd.manip_safety``; planned points that
   had to be moved are counted), execute in MuJoCo, let the object settle.

The report holds, per task and planner: success, final Chamfer, actions,
planning time per action, clamped points; and per planner and object the
success rate. Pictures: start, target and final shape per planner, and an
animated GIF of one episode (``--gif``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from dynamics_stack.pointsets import chamfer
from pgnd.manip_safety import GripperLimitsCfg, clamp_action
from pgnd.perception.config import SURFACE_OFFSETS, PerceptionCfg
from pgnd.perception.tracking import ParticleTracker
from sim.deformable_cameras import LABEL_OBJECT, RenderCfg
from sim.manip_env import ManipEnv
from sim.manip_scenario import ManipScenario, load_manip_scenario

OBSERVATIONS = ("vertices", "perceived")


def chamfer_np(a: np.ndarray, b: np.ndarray) -> float:
    return float(
        chamfer(torch.from_numpy(np.asarray(a, dtype=np.float64)), torch.from_numpy(np.asarray(b, dtype=np.float64)))
    )


def observe(env: ManipEnv, history: int, observation: str, particles: int) -> np.ndarray:
    """Particles [H+1, N, 3] of the last H+1 frames, as the planner sees them."""
    frames = env.frames[-(history + 1) :]
    if len(frames) < history + 1:
        frames = [frames[0]] * (history + 1 - len(frames)) + frames
    if observation == "vertices":
        return np.stack([f.vertices for f in frames])
    cfg = PerceptionCfg(particles=particles, surface_offset=SURFACE_OFFSETS[env.scenario.object.category])
    tracker = ParticleTracker(env.cameras, cfg)
    out = [tracker.start(frames[0].rgb, frames[0].depth, frames[0].labels == LABEL_OBJECT)]
    out += [tracker.step(f.rgb, f.depth, f.labels == LABEL_OBJECT) for f in frames[1:]]
    return np.stack(out)


def run_task(
    scenario: ManipScenario,
    planner,
    *,
    observation: str = "vertices",
    particles: int | None = None,
    render: RenderCfg | None = None,
    limits: GripperLimitsCfg | None = None,
    seed: int = 0,
    keep_frames: bool = False,
) -> dict[str, Any]:
    """One closed-loop episode; the planner has ``plan(history, target) -> ManipPlan`` and ``history``."""
    if observation not in OBSERVATIONS:
        raise ValueError(f"observation must be one of {OBSERVATIONS}, got {observation!r}")
    limits = limits or getattr(getattr(planner, "cfg", None), "limits", None) or GripperLimitsCfg()
    env = ManipEnv(scenario, render=render if observation == "perceived" or keep_frames else None, noise_seed=seed)
    env.reset()
    start = env.vertices
    n = particles or len(start)
    chamfers = [chamfer_np(start, env.target)]
    actions, plan_s, clamped, predicted = 0, [], 0, []
    while (
        chamfers[-1] > scenario.success.chamfer
        and actions < scenario.budget.actions
        and env.t < scenario.budget.seconds
    ):
        hist = observe(env, planner.history, observation, n)
        plan = planner.plan(hist, env.target)
        plan_s.append(plan.plan_s)
        grasp, path, moved = clamp_action(plan.grasp, plan.path, limits)
        clamped += moved
        predicted.append(plan.predicted_chamfer)
        env.execute(grasp, path)
        actions += 1
        if not env.stable():
            break
        chamfers.append(chamfer_np(env.vertices, env.target))
    result = {
        "task": scenario.name,
        "category": scenario.object.category,
        "difficulty": scenario.difficulty,
        "success": bool(chamfers[-1] <= scenario.success.chamfer),
        "start_chamfer": chamfers[0],
        "final_chamfer": chamfers[-1],
        "chamfer_per_action": chamfers,
        "predicted_chamfer_per_action": predicted,
        "actions": actions,
        "sim_seconds": round(env.t, 2),
        "plan_s_mean": float(np.mean(plan_s)) if plan_s else 0.0,
        "plan_s_max": float(np.max(plan_s)) if plan_s else 0.0,
        "clamped_points": clamped,
        "stable": env.stable(),
    }
    result["shapes"] = {
        "start": np.round(start, 4).tolist(),
        "target": np.round(env.target, 4).tolist(),
        "final": np.round(env.vertices, 4).tolist(),
    }
    if keep_frames:
        result["_frames"] = env.frames
    env.close()
    return result


def benchmark(
    scenario_paths: Sequence[str | Path],
    planners: dict[str, Callable[[], Any]],
    *,
    observation: str = "vertices",
    render: RenderCfg | None = None,
    particles: dict[str, int] | None = None,
    seeds: Sequence[int] = (0,),
    gif_task: str | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Every task x planner x seed; ``planners`` maps a name to a factory taking the object category.

    ``gif_task``: the first planner's first episode of that task keeps its rendered frames
    (``result['_frames']``) for ``save_pictures``.
    """
    scenarios = [load_manip_scenario(p) for p in scenario_paths]
    rows = []
    gif = None
    t0 = time.perf_counter()
    total = len(scenarios) * len(planners) * len(seeds)
    with tqdm(total=total, desc="manip benchmark", unit="episode", disable=not progress) as bar:
        for sc in scenarios:
            for name, factory in planners.items():
                planner = factory(sc.object.category)
                for seed in seeds:
                    n = (particles or {}).get(f"{name}:{sc.object.category}")
                    keep = gif_task == sc.name and name == next(iter(planners)) and seed == seeds[0]
                    row = run_task(
                        sc, planner, observation=observation, particles=n, render=render or (RenderCfg() if keep else None),
                        seed=seed, keep_frames=keep,
                    )  # fmt: skip
                    frames = row.pop("_frames", None)
                    if frames is not None:
                        gif = {"task": sc.name, "planner": name, "frames": frames}
                    rows.append({"planner": name, "seed": seed, **row})
                    bar.update(1)
    summary: dict[str, Any] = {}
    for name in planners:
        mine = [r for r in rows if r["planner"] == name]
        entry = {"success_rate": float(np.mean([r["success"] for r in mine])), "episodes": len(mine)}
        for cat in sorted({r["category"] for r in mine}):
            sub = [r for r in mine if r["category"] == cat]
            entry[cat] = {
                "success_rate": float(np.mean([r["success"] for r in sub])),
                "final_chamfer_mean": float(np.mean([r["final_chamfer"] for r in sub])),
                "actions_mean": float(np.mean([r["actions"] for r in sub])),
                "plan_s_mean": float(np.mean([r["plan_s_mean"] for r in sub if r["actions"]] or [0.0])),
            }
        entry["clamped_points"] = int(sum(r["clamped_points"] for r in mine))
        summary[name] = entry
    return {
        "_gif": gif,
        "benchmark": "manip_closed_loop",
        "observation": observation,
        "tasks": [sc.name for sc in scenarios],
        "seeds": list(seeds),
        "summary": summary,
        "rows": rows,
        "wall_s": round(time.perf_counter() - t0, 1),
    }


def planner_factories(
    names: Sequence[str], models: str | Path, suffix: str = "", iterations: int | None = None
) -> tuple[dict[str, Callable[[str], Any]], dict[str, int]]:
    """Planner factories by name (``pgnd``, ``particle_only``: MPPI over
    ``models/pgnd_<object><suffix>[_particle_only].card.json``; ``heuristic``) and each model planner's particle count per object."""
    import dataclasses

    from dynamics_stack.runtime import TorchRuntime, load_card
    from pgnd.planner import HeuristicPlanner, ManipPlanner, ManipPlannerCfg

    cfg = ManipPlannerCfg()
    if iterations is not None:
        cfg = dataclasses.replace(cfg, iterations=iterations)
    known = ("pgnd", "particle_only", "heuristic")
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown planner(s) {unknown}; known: {known}")
    factories: dict[str, Callable[[str], Any]] = {}
    particles: dict[str, int] = {}
    for name in names:
        if name == "heuristic":
            factories[name] = lambda category: HeuristicPlanner(cfg)
            continue
        tail = "_particle_only" if name == "particle_only" else ""
        cards = {c: Path(models) / f"pgnd_{c}{suffix}{tail}.card.json" for c in ("rope", "cloth")}
        loaded = {c: TorchRuntime(load_card(p)).model for c, p in cards.items() if p.exists()}
        for c, model in loaded.items():
            particles[f"{name}:{c}"] = model.cfg.num_particles

        def make(category: str, loaded=loaded, cards=cards) -> Any:
            if category not in loaded:
                raise FileNotFoundError(f"{cards[category]}: no model card for {category}")
            return ManipPlanner(loaded[category], cfg)

        factories[name] = make
    return factories, particles


def save_pictures(result: dict[str, Any], folder: str | Path) -> list[Path]:
    """Start, target and final shape of every task per planner (one PNG), and the GIF episode."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    tasks = result["tasks"]
    planners = list(result["summary"])
    cols = min(4, len(tasks))
    rows_n = (len(tasks) + cols - 1) // cols
    fig, axes = plt.subplots(rows_n, cols, figsize=(4.2 * cols, 4.0 * rows_n), squeeze=False)
    colours = dict(zip(planners, ("tab:red", "tab:orange", "tab:purple", "tab:brown"), strict=False))
    for ax, task in zip(axes.flat, tasks, strict=False):
        runs = [r for r in result["rows"] if r["task"] == task and r["seed"] == result["seeds"][0]]
        shapes = runs[0]["shapes"]
        start, target = np.array(shapes["start"]), np.array(shapes["target"])
        ax.scatter(start[:, 0], start[:, 1], s=6, c="0.6", label="start")
        ax.scatter(target[:, 0], target[:, 1], s=10, c="tab:green", marker="s", label="target")
        for r in runs:
            final = np.array(r["shapes"]["final"])
            mark = "ok" if r["success"] else "x"
            ax.scatter(final[:, 0], final[:, 1], s=5, c=colours[r["planner"]], label=f"{r['planner']} ({mark})")
        ax.set_title(task, fontsize=9)
        ax.set_aspect("equal")
        ax.set_xlim(-0.3, 0.3)
        ax.set_ylim(-0.3, 0.3)
        ax.legend(fontsize=6, loc="lower left")
    for ax in list(axes.flat)[len(tasks) :]:
        ax.axis("off")
    fig.suptitle(f"manipulation tasks: start, target and final shape per planner ({result['observation']} input)")
    fig.tight_layout()
    path = folder / "manip_benchmark_tasks.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    written.append(path)
    gif = result.get("_gif")
    if gif is not None and gif["frames"] and gif["frames"][0].rgb is not None:
        from PIL import Image

        images = [Image.fromarray(f.rgb[0]) for f in gif["frames"]]
        path = folder / f"manip_{gif['task']}_{gif['planner']}.gif"
        images[0].save(path, save_all=True, append_images=images[1:], duration=100, loop=0)
        written.append(path)
    return written
