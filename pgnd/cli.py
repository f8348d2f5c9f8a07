"""``dynstack manip ...``: deformable-object datasets, PGND training and evaluation; thin wrappers.

Commands: ``gen-data`` (sharded, resumable MuJoCo dataset), ``data-info``
(manifest summary), ``train`` (PGND or the particle-only baseline) and
``eval-model`` (anchor metrics over 3 s against the baselines, JSON + plots).
Heavy imports happen inside the commands so ``dynstack --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from dynamics_stack import cli_args
from dynamics_stack.cli_core import register_demo
from dynamics_stack.params import register_node


def register(subparsers: argparse._SubParsersAction) -> None:
    register_demo("manip", "pgnd.demo:run_manip_demo", "PGND-MPPI vs heuristic on a rope and a cloth task (RGB-D)")
    register_node(
        "pgnd_planner",
        "pgnd.planner_node_cfg:ManipPlannerNodeCfg",
        "config/manipulation.yaml",
        "Parameters of the pgnd_planner node (pgnd/planner_node.py): PGND-MPPI gripper planning.",
    )
    register_node(
        "pgnd_perception",
        "pgnd.perception_node_cfg:PerceptionNodeCfg",
        "config/manipulation.yaml",
        "Parameters of the pgnd_perception node (pgnd/perception_node.py): RGB-D cameras -> tracked particles.",
    )
    register_node(
        "manip_sim",
        "sim.manip_node_cfg:ManipSimNodeCfg",
        "config/manipulation_sim.yaml",
        "Parameters of the manip_sim node (sim/manip_node.py), the simulated cell of launch/manipulation_sim.launch.py.",
    )
    manip = subparsers.add_parser("manip", help="manipulation: deformable-object data, PGND training and evaluation")
    manip.set_defaults(group_parser=manip)
    sub = manip.add_subparsers(dest="command", metavar="COMMAND")

    gen = sub.add_parser(
        "gen-data",
        help="simulate scripted gripper episodes with a rope or cloth (MuJoCo) and write a resumable dataset",
        description="Writes DIR/shard_KKKKK.npz and DIR/manifest.json (layout in sim/deformable_datagen.py). "
        "Running again with the same arguments resumes: finished shards are kept, missing ones are made.",
    )
    gen.add_argument("--out", type=Path, required=True, help="dataset folder")
    gen.add_argument("--category", default="rope", help="object category: rope or cloth")
    gen.add_argument("--shards", type=int, default=8, help="shard files")
    gen.add_argument("--episodes-per-shard", type=int, default=8, help="episodes per shard")
    gen.add_argument("--seconds", type=float, default=5.0, help="seconds per episode (multiple of 0.1)")
    cli_args.add_seed(gen, "object parameters, start shapes and gripper scripts (base seed)")
    gen.add_argument("--max-shards", type=int, default=None, help="stop after this many new shards (resume later)")
    gen.add_argument(
        "--actions",
        nargs="+",
        default=None,
        help="kinds of episode: grasp push [drag] (default: grasp push, as datasets made before drags existed)",
    )
    gen.add_argument(
        "--render",
        action="store_true",
        help="also render RGB, depth and object masks of a camera rig around the table into the shards",
    )
    gen.add_argument("--cameras", type=int, default=None, help="with --render: cameras on the ring (default 4)")
    gen.add_argument("--width", type=int, default=None, help="with --render: image width in px (default 320)")
    gen.add_argument("--height", type=int, default=None, help="with --render: image height in px (default 240)")
    gen.add_argument(
        "--depth-noise", type=float, default=None, help="with --render: depth noise std at 1 m, m (default 0.001)"
    )
    cli_args.add_progress(gen)
    gen.set_defaults(func=_gen_data)

    per = sub.add_parser(
        "perceive",
        help="track particles through the camera frames of a rendered dataset (gen-data --render) into a new dataset",
        description="Writes DIR/shard_KKKKK.npz + manifest.json in the gen-data layout, with x = perceived particles "
        "(plus x_true, seen), so train and eval-model read it unchanged. Rerunning resumes.",
    )
    per.add_argument("--data", type=Path, required=True, help="rendered dataset folder (manip gen-data --render)")
    per.add_argument("--out", type=Path, required=True, help="folder of the perceived dataset")
    per.add_argument("--config", type=Path, help="YAML with a section 'perception' (PerceptionCfg fields)")
    per.add_argument("--particles", type=int, help="particles to track (default: the object's vertex count)")
    per.add_argument("--max-shards", type=int, default=None, help="stop after this many new shards (resume later)")
    cli_args.add_progress(per)
    per.set_defaults(func=_perceive)

    _register_eval_render(sub)
    _register_planning(sub)

    info = sub.add_parser("data-info", help="print the summary of a PGND dataset's manifest")
    info.add_argument("dir", type=Path)
    info.set_defaults(func=_data_info)

    train = sub.add_parser("train", help="train PGND (or the particle-only baseline) on a dataset")
    train.add_argument("--data", type=Path, required=True, help="dataset folder (dynstack manip gen-data)")
    train.add_argument("--out", type=Path, required=True, help="model path stem, e.g. models/pgnd_rope")
    cli_args.add_config(train, "sections 'model' (PgndCfg) and 'train' (PgndTrainCfg); --set model.X=... / train.X=...")
    train.add_argument("--iterations", type=int, help="override train.iterations")
    cli_args.add_seed(train, "initial weights and batches (train.seed)", default=None)
    train.add_argument("--particle-only", action="store_true", help="baseline: no grid (model.use_grid = false)")
    train.add_argument("--resume", action="store_true", help="continue from OUT.ckpt/last.safetensors")
    cli_args.add_threads(train)
    cli_args.add_progress(train)
    train.set_defaults(func=_train)

    ev = sub.add_parser("eval-model", help="MDE / Chamfer / EMD over 3 s on held-out episodes vs baselines")
    ev.add_argument("--data", type=Path, required=True, help="dataset folder")
    ev.add_argument("--model", type=Path, action="append", required=True, help="model card (repeat for several)")
    ev.add_argument("--json", type=Path, required=True, help="report to write")
    ev.add_argument("--plots", type=Path, help="PNG prefix, e.g. docs/img/pgnd_rope (default: none)")
    ev.add_argument("--horizon", type=int, default=30, help="steps of 0.1 s (anchor: 30)")
    ev.add_argument("--val-fraction", type=float, default=0.2, help="must match the training split")
    ev.add_argument(
        "--split",
        choices=("val", "all"),
        default="val",
        help="val: the validation episodes of DIR; all: every episode (a separate test dataset, another seed)",
    )
    ev.add_argument(
        "--truth",
        choices=("observed", "material"),
        default="observed",
        help="observed: the data's own future particles; material (perceived data only): where the material "
        "under each perceived particle really went (simulator vertices)",
    )
    cli_args.add_threads(ev)
    ev.add_argument("--update-card", action="store_true", help="store each model's held-out metrics in its card")
    ev.set_defaults(func=_eval)


def _register_eval_render(sub: argparse._SubParsersAction) -> None:
    er = sub.add_parser(
        "eval-render",
        help="render predicted futures with splats fitted to the first frame; PSNR / SSIM / IoU / boundary F vs the frames",
        description="Needs a perceived dataset (manip perceive) whose source dataset holds the camera frames.",
    )
    er.add_argument("--data", type=Path, required=True, help="perceived dataset folder (manip perceive)")
    er.add_argument("--model", type=Path, action="append", required=True, help="model card (repeat for several)")
    er.add_argument("--json", type=Path, required=True, help="report to write")
    er.add_argument("--plots", type=Path, help="PNG prefix, e.g. docs/img/pgnd_rope (default: none)")
    er.add_argument("--split", choices=("val", "all"), default="all", help="val: validation episodes; all: every one")
    er.add_argument("--val-fraction", type=float, default=0.2, help="must match the training split")
    er.add_argument("--episodes", type=int, help="only the first N episodes of the split")
    er.add_argument("--cameras", default="0", help="comma-separated indices of the cameras scored (default 0)")
    er.add_argument("--horizon", type=int, default=30, help="steps of 0.1 s (anchor: 30)")
    er.add_argument("--step-every", type=int, default=1, help="score every k-th step of the horizon")
    er.add_argument("--fit-iterations", type=int, help="splat fit iterations (default: SplatFitCfg)")
    er.add_argument("--gaussians", type=int, help="largest splat count (default: SplatFitCfg)")
    cli_args.add_threads(er)
    cli_args.add_progress(er)
    er.set_defaults(func=_eval_render)


def _eval_render(args: argparse.Namespace) -> int:
    import dataclasses

    from dynamics_stack.atomic import atomic_write_json
    from pgnd.render_eval import METRICS, evaluate_renders
    from pgnd.splats.fit import SplatFitCfg

    cli_args.apply_threads(args)
    try:
        cams = tuple(int(c) for c in args.cameras.split(","))
    except ValueError:
        print(
            f"dynstack manip eval-render: --cameras must be comma-separated integers, got {args.cameras!r}",
            file=sys.stderr,
        )
        return 2
    fit = SplatFitCfg()
    if args.fit_iterations is not None:
        fit = dataclasses.replace(fit, iterations=args.fit_iterations)
    if args.gaussians is not None:
        fit = dataclasses.replace(fit, gaussians=args.gaussians)
    result = evaluate_renders(
        args.model,
        args.data,
        split=args.split,
        val_fraction=args.val_fraction,
        horizon=args.horizon,
        episodes=args.episodes,
        cameras=cams,
        step_every=args.step_every,
        fit=fit,
        plots=args.plots,
        progress=cli_args.show_progress(args),
    )
    atomic_write_json(args.json, result)
    print(
        f"{result['category']}: {result['episodes']} episodes ({args.split}), mean over {len(result['steps_scored'])} steps"
    )
    print(f"{'method':<28}" + "".join(f"{m:>12}" for m in METRICS))
    for name, entry in result["methods"].items():
        print(f"{name:<28}" + "".join(f"{entry[m]['mean']:>12.4f}" for m in METRICS))
    return 0


def _register_planning(sub: argparse._SubParsersAction) -> None:
    check = sub.add_parser("check-scenario", help="validate manipulation task files (fields, target shape)")
    check.add_argument("files", nargs="+", type=Path)
    check.set_defaults(func=_check_scenario)

    target = sub.add_parser("export-target", help="write a task's target cloud as .npy (pgnd_planner's target_file)")
    target.add_argument("task", help="task name in sim/scenarios/manip/ or a task file")
    target.add_argument("--out", type=Path, required=True, help=".npy file to write")
    target.set_defaults(func=_export_target)

    rig = sub.add_parser(
        "export-rig", help="write the simulator's camera rig as a calibration file (pgnd_perception's camera_rig)"
    )
    rig.add_argument("--out", type=Path, required=True, help="rig file to write (.yaml or .json)")
    rig.add_argument("--cameras", type=int, default=None, help="cameras on the ring (default: RigCfg)")
    rig.add_argument("--width", type=int, default=None, help="image width in px (default: RigCfg)")
    rig.add_argument("--height", type=int, default=None, help="image height in px (default: RigCfg)")
    rig.set_defaults(func=_export_rig)

    bench = sub.add_parser(
        "benchmark",
        help="closed-loop tasks in MuJoCo: PGND-MPPI, particle-only MPPI and the heuristic; success, Chamfer, time",
    )
    bench.add_argument(
        "--scenarios", type=Path, nargs="+", required=True, help="task files (sim/scenarios/manip/*.yaml)"
    )
    bench.add_argument(
        "--planner", nargs="+", default=["pgnd", "particle_only", "heuristic"], help="pgnd, particle_only, heuristic"
    )
    bench.add_argument(
        "--models", type=Path, default=Path("models"), help="folder of pgnd_<object><suffix>[_particle_only] cards"
    )
    bench.add_argument(
        "--model-suffix",
        default="_planning",
        help="card name suffix: _planning (default, trained with drags) for models/pgnd_rope_planning.card.json, "
        "'' for the grasp/push models",
    )
    bench.add_argument(
        "--observe", choices=("vertices", "perceived"), default="vertices", help="planner input: vertices or RGB-D"
    )
    bench.add_argument("--seeds", type=int, nargs="+", default=[0], help="episode seeds (sensor noise)")
    bench.add_argument("--iterations", type=int, help="MPPI iterations (default: ManipPlannerCfg)")
    bench.add_argument("--json", type=Path, required=True, help="report to write")
    bench.add_argument("--plots", type=Path, help="folder for the start/target/final pictures and the GIF")
    bench.add_argument("--gif", help="task name whose PGND episode is saved as an animated GIF (needs --plots)")
    cli_args.add_threads(bench)
    cli_args.add_progress(bench)
    bench.set_defaults(func=_benchmark)


def _export_target(args: argparse.Namespace) -> int:
    import numpy as np

    from dynamics_stack.atomic import atomic_path
    from sim.manip_scenario import load_manip_scenario, manip_scenario_path, start_vertices, target_cloud

    s = load_manip_scenario(manip_scenario_path(args.task))
    cloud = target_cloud(s, start_vertices(s))
    with atomic_path(args.out) as tmp, open(tmp, "wb") as handle:
        np.save(handle, cloud)
    print(f"wrote {args.out}: {len(cloud)} points of {s.name}'s target (success within {s.success.chamfer} m Chamfer)")
    return 0


def _export_rig(args: argparse.Namespace) -> int:
    import dataclasses

    from dynamics_stack.camera import save_rig
    from sim.deformable_cameras import RigCfg, default_rig

    sizes = {"cameras": args.cameras, "width": args.width, "height": args.height}
    cfg = dataclasses.replace(RigCfg(), **{k: v for k, v in sizes.items() if v is not None})
    save_rig(args.out, default_rig(cfg), comment=RIG_COMMENT.format(cfg=cfg))
    print(f"wrote {args.out}")
    return 0


RIG_COMMENT = """Calibration of manip_sim's camera ring ({cfg}), written by `dynstack manip export-rig`.
Intrinsics in OpenCV's convention (pixel centres at integers), T_world_camera: optical frame -> table frame."""


def _check_scenario(args: argparse.Namespace) -> int:
    from sim.manip_scenario import load_manip_scenario

    for path in args.files:
        s = load_manip_scenario(path)
        print(f"{path}: ok ({s.object.category}, target {s.target.generator}, {s.difficulty})")
    return 0


def _benchmark(args: argparse.Namespace) -> int:

    from dynamics_stack.atomic import atomic_write_json
    from pgnd.manip_benchmark import benchmark, planner_factories, save_pictures
    from sim.deformable_cameras import RenderCfg

    cli_args.apply_threads(args)
    factories, particles = planner_factories(args.planner, args.models, args.model_suffix, args.iterations)
    result = benchmark(
        args.scenarios,
        factories,
        observation=args.observe,
        render=RenderCfg() if args.observe == "perceived" else None,
        particles=particles,
        seeds=args.seeds,
        gif_task=args.gif if args.plots is not None else None,
        progress=cli_args.show_progress(args),
    )
    if args.plots is not None:
        result["pictures"] = [str(p) for p in save_pictures(result, args.plots)]
    atomic_write_json(args.json, {k: v for k, v in result.items() if not k.startswith("_")})
    print(f"{'planner':<16}{'success':>9}{'rope':>8}{'cloth':>8}{'clamped':>9}")
    for name, entry in result["summary"].items():
        rope = entry.get("rope", {}).get("success_rate", float("nan"))
        cloth = entry.get("cloth", {}).get("success_rate", float("nan"))
        print(f"{name:<16}{entry['success_rate']:>9.2f}{rope:>8.2f}{cloth:>8.2f}{entry['clamped_points']:>9d}")
    return 0


def _gen_data(args: argparse.Namespace) -> int:
    import dataclasses

    from sim.deformable_cameras import RenderCfg
    from sim.deformable_datagen import DeformGenCfg, generate

    render_opts = {"cameras": args.cameras, "width": args.width, "height": args.height}
    try:
        render = None
        if args.render:
            render = RenderCfg()
            rig = dataclasses.replace(render.rig, **{k: v for k, v in render_opts.items() if v is not None})
            render = dataclasses.replace(render, rig=rig)
            if args.depth_noise is not None:
                render = dataclasses.replace(render, depth_noise=args.depth_noise)
        elif any(v is not None for v in (*render_opts.values(), args.depth_noise)):
            raise ValueError("--cameras, --width, --height and --depth-noise need --render")
        cfg = DeformGenCfg(
            category=args.category,
            shards=args.shards,
            episodes_per_shard=args.episodes_per_shard,
            seconds=args.seconds,
            seed=args.seed,
            render=render,
            **({"actions": tuple(args.actions)} if args.actions else {}),
        )
    except ValueError as exc:
        print(f"dynstack manip gen-data: {exc}", file=sys.stderr)
        return 2
    manifest = generate(cfg, args.out, progress=cli_args.show_progress(args), max_new_shards=args.max_shards)
    print(json.dumps({k: manifest[k] for k in ("category", "episodes", "complete", "last_run")}, indent=1))
    return 0


def _perceive(args: argparse.Namespace) -> int:
    import dataclasses

    from dynamics_stack.config import load_cfg_yaml
    from pgnd.perception.config import SURFACE_OFFSETS, PerceptionCfg
    from pgnd.perception.dataset import perceive_dataset
    from sim.deformable_datagen import read_manifest

    src = read_manifest(args.data)
    if args.config:
        cfg = load_cfg_yaml(PerceptionCfg, args.config, "perception")
    else:  # the object's own thickness and particle count
        cfg = PerceptionCfg(particles=src["num_particles"], surface_offset=SURFACE_OFFSETS[src["category"]])
    if args.particles is not None:
        cfg = dataclasses.replace(cfg, particles=args.particles)
    manifest = perceive_dataset(
        args.data, args.out, cfg, progress=cli_args.show_progress(args), max_new_shards=args.max_shards
    )
    keys = ("category", "num_particles", "episodes", "complete", "last_run")
    print(
        json.dumps({**{k: manifest[k] for k in keys}, "quality_mean": manifest["perception"]["quality_mean"]}, indent=1)
    )
    return 0


def _data_info(args: argparse.Namespace) -> int:
    from sim.deformable_datagen import read_manifest

    m = read_manifest(args.dir)
    keys = ("format", "category", "num_particles", "frames", "dt", "episodes", "complete", "config")
    print(json.dumps({k: m.get(k) for k in keys}, indent=1))
    return 0


def _train(args: argparse.Namespace) -> int:
    from pgnd.model import PgndCfg
    from pgnd.train import PgndTrainCfg, train

    cli_args.apply_threads(args)
    use_grid = False if args.particle_only else None
    model_cfg = cli_args.config_from_args(PgndCfg, args, "manip train arguments", section="model", use_grid=use_grid)
    cfg = cli_args.config_from_args(
        PgndTrainCfg, args, "manip train arguments", section="train", iterations=args.iterations, seed=args.seed
    )
    card = train(model_cfg, cfg, args.data, args.out, resume=args.resume, progress=cli_args.show_progress(args))
    print(f"wrote {card.path} (best validation loss {card.data['training']['best_val_loss']:.5f})")
    return 0


def _eval(args: argparse.Namespace) -> int:
    from dynamics_stack.atomic import atomic_write_json
    from pgnd.evaluate import evaluate

    cli_args.apply_threads(args)
    result = evaluate(
        args.model,
        args.data,
        val_fraction=args.val_fraction,
        split=args.split,
        horizon=args.horizon,
        plots=args.plots,
        truth=args.truth,
    )
    atomic_write_json(args.json, result)
    print(
        f"{result['category']}: {result['episodes']} held-out episodes ({args.split}), mean over {args.horizon} steps (cm)"
    )
    print(f"{'method':<28}{'MDE':>8}{'Chamfer':>9}{'EMD':>8}")
    for name, entry in result["methods"].items():
        print(f"{name:<28}" + "".join(f"{entry[m]['mean'] * 100:>8.2f} " for m in ("mde", "chamfer", "emd")))
    if args.update_card:
        from dynamics_stack.checkpoint import load_card, write_card

        for name, card_path in result["models"].items():
            card = load_card(card_path)
            data = dict(card.data)
            data["metrics"] = {
                "heldout_3s": {
                    method: {m: round(entry[m]["mean"], 6) for m in ("mde", "chamfer", "emd")}
                    for method, entry in result["methods"].items()
                },
                "model_method": name,
                "episodes": result["episodes"],
                "units": "m, mean over 30 steps of 0.1 s and over held-out episodes",
                "report": args.json.name,
            }
            write_card(card.path, data)
            print(f"updated metrics in {card.path}")
    return 0
