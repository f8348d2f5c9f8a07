"""``dynstack nav train`` and ``dynstack nav eval-model``: thin wrappers over fdm_nav.train / evaluate."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from dynamics_stack import cli_args
from dynamics_stack.config import ConfigError


def register_model_commands(sub: argparse._SubParsersAction) -> None:
    train = sub.add_parser(
        "train",
        help="train the FDM on a gen-data dataset (torchrun-able)",
        description="Writes OUT.card.json, OUT.safetensors, OUT.<graph>.onnx and OUT.ckpt/{last.safetensors,log.csv}. "
        "Data-parallel: torchrun --nproc_per_node N -m dynamics_stack.cli nav train ...",
    )
    train.add_argument("--data", type=Path, required=True, help="dataset folder (dynstack nav gen-data)")
    train.add_argument("--out", type=Path, required=True, help="model path stem, e.g. models/fdm_anymal_d")
    cli_args.add_config(train, "TrainCfg fields (model sizes, loss weights, ...)")
    train.add_argument("--epochs", type=int, help="override TrainCfg.epochs")
    train.add_argument("--batch-size", type=int, help="override TrainCfg.batch_size")
    train.add_argument("--max-train-windows", type=int, help="override TrainCfg.max_train_windows")
    cli_args.add_seed(train, "initial weights, batch order and dropout (TrainCfg.seed)", default=None)
    train.add_argument("--proprio-only", action="store_true", help="ablation: no height scan")
    train.add_argument("--resume", action="store_true", help="continue from OUT.ckpt/last.safetensors")
    cli_args.add_threads(train)
    cli_args.add_progress(train)
    train.set_defaults(func=_train)

    ev = sub.add_parser("eval-model", help="held-out metrics of an FDM vs the constant-velocity baseline, with plots")
    ev.add_argument("--data", type=Path, required=True, help="dataset folder")
    ev.add_argument("--model", type=Path, required=True, help="model card")
    ev.add_argument("--json", type=Path, required=True, help="report to write")
    ev.add_argument("--backend", choices=("torch", "onnx"), default="torch")
    ev.add_argument("--plots", type=Path, help="folder for PNGs (default: beside the JSON)")
    ev.add_argument("--compare", action="append", default=[], metavar="NAME=CARD", help="also evaluate another model")
    ev.add_argument("--split", choices=("val", "all"), default="val", help="held-out terrain seeds or everything")
    ev.add_argument("--update-card", action="store_true", help="store the metrics in the model card")
    cli_args.add_progress(ev)
    ev.set_defaults(func=_eval_model)


def _train(args: argparse.Namespace) -> int:
    from fdm_nav.train import TrainCfg, train

    cli_args.apply_threads(args)
    cfg = cli_args.config_from_args(
        TrainCfg,
        args,
        "nav train arguments",
        epochs=args.epochs,
        batch_size=args.batch_size,
        max_train_windows=args.max_train_windows,
        seed=args.seed,
        **{"model.use_height_scan": False if args.proprio_only else None},
    )
    card = train(cfg, args.data, args.out, resume=args.resume, progress=cli_args.show_progress(args))
    if card is not None:
        print(f"wrote {card.path}")
    return 0


def _eval_model(args: argparse.Namespace) -> int:
    from dynamics_stack.checkpoint import write_card
    from dynamics_stack.runtime import load_runtime
    from fdm_nav.data import load_windows
    from fdm_nav.evaluate import evaluate, json_safe, plot_error_vs_horizon, plot_trajectories, write_report

    progress = cli_args.show_progress(args)
    runtime = load_runtime(args.model, backend=args.backend)
    training = runtime.card.data.get("training", {})
    val_fraction = training.get("config", {}).get("val_fraction", 0.2)
    data = load_windows(args.data, args.split, val_fraction, progress=progress)
    step_dt = runtime.card.config["step_dt"]
    report, pred, prob = evaluate(runtime, data, step_dt, progress=progress)
    report = {
        "model": runtime.card.name,
        "backend": args.backend,
        "data": str(args.data),
        "split": f"{args.split} (terrain seeds, val_fraction {val_fraction})",
        **report,
    }
    curves = {runtime.card.name: report["error_vs_horizon"]}
    others = {}
    for item in args.compare:
        if "=" not in item:
            raise ConfigError(f"--compare expects NAME=CARD, got {item!r}")
        name, path = item.split("=", 1)
        other, _, _ = evaluate(load_runtime(path, backend=args.backend), data, step_dt, progress=progress)
        others[name] = {"card": str(path), **other}
        curves[name] = other["error_vs_horizon"]
    if others:
        report["compare"] = others
    plots = args.plots or args.json.parent
    plot_error_vs_horizon(curves, plots / "fdm_error_vs_horizon.png")
    plot_trajectories(data, pred, prob, step_dt, plots / "fdm_trajectories.png")
    write_report(args.json, report)
    print(json.dumps(json_safe(_table(report)), indent=2))
    print(f"wrote {args.json} and plots in {plots}")
    if args.update_card:
        card = runtime.card
        data_card = dict(card.data)
        data_card["metrics"] = json_safe({"heldout": _table(report), "report": args.json.name})
        write_card(card.path, data_card)
        print(f"updated metrics in {card.path}")
    return 0


def _table(report: dict) -> dict:
    """The headline numbers: overall and per terrain, model vs baseline (and compared models)."""

    def row(entry: dict) -> dict:
        return {
            "final_position_error_m": round(entry["model"]["final_position_error"], 4),
            "cv_final_position_error_m": round(entry["constant_velocity"]["final_position_error"], 4),
            "ratio_final": round(entry["ratio_final_position"], 4),
            "mean_position_error_m": round(entry["model"]["mean_position_error"], 4),
            "final_heading_error_deg": round(entry["model"]["final_heading_error_deg"], 3),
            "failure_auroc": round(entry["failure"]["auroc"], 4),
            "failure_precision": round(entry["failure"]["precision"], 4),
            "failure_recall": round(entry["failure"]["recall"], 4),
            "failure_threshold": entry["failure"]["threshold"],
            "failure_recall_at_0.5": round(entry["failure_at_anchor_threshold"]["recall"], 4),
            "failure_precision_at_0.5": round(entry["failure_at_anchor_threshold"]["precision"], 4),
            "windows": entry["windows"],
        }

    table = {"overall": row(report["overall"]), "per_terrain": {k: row(v) for k, v in report["per_terrain"].items()}}
    for name, other in report.get("compare", {}).items():
        table[name] = {
            "overall": row(other["overall"]),
            "per_terrain": {k: row(v) for k, v in other["per_terrain"].items()},
        }
    return table
