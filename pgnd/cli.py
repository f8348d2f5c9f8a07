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


def register(subparsers: argparse._SubParsersAction) -> None:
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
    cli_args.add_progress(gen)
    gen.set_defaults(func=_gen_data)

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
    cli_args.add_threads(ev)
    ev.add_argument("--update-card", action="store_true", help="store each model's held-out metrics in its card")
    ev.set_defaults(func=_eval)


def _gen_data(args: argparse.Namespace) -> int:
    from sim.deformable_datagen import DeformGenCfg, generate

    try:
        cfg = DeformGenCfg(
            category=args.category,
            shards=args.shards,
            episodes_per_shard=args.episodes_per_shard,
            seconds=args.seconds,
            seed=args.seed,
        )
    except ValueError as exc:
        print(f"dynstack manip gen-data: {exc}", file=sys.stderr)
        return 2
    manifest = generate(cfg, args.out, progress=cli_args.show_progress(args), max_new_shards=args.max_shards)
    print(json.dumps({k: manifest[k] for k in ("category", "episodes", "complete", "last_run")}, indent=1))
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
        args.model, args.data, val_fraction=args.val_fraction, split=args.split, horizon=args.horizon, plots=args.plots
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
