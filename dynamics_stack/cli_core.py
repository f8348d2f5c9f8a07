"""Core ``dynstack`` commands: ``demo``, ``model verify|info``, ``export onnx``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from dynamics_stack.checkpoint import load_card, write_card
from dynamics_stack.runtime import OnnxRuntime, TorchRuntime, export_onnx, graph_io


def register(subparsers: argparse._SubParsersAction) -> None:
    demo = subparsers.add_parser("demo", help="run the main demo on the embedded simulators")
    demo.add_argument(
        "--example",
        choices=("nav", "unicycle"),
        default="nav",
        help="nav: FDM vs heuristic planner on shipped scenarios (default); unicycle: the MPPI engine alone",
    )
    demo.add_argument("--out", type=Path, default=Path("demo_output"), help="folder for pictures and JSON")
    demo.set_defaults(func=_demo)

    model = subparsers.add_parser("model", help="inspect and verify shipped model files")
    model_sub = model.add_subparsers(dest="command", metavar="COMMAND")
    model.set_defaults(group_parser=model)
    verify = model_sub.add_parser("verify", help="check hashes and hold ONNX Runtime to torch on dummy inputs")
    verify.add_argument("cards", nargs="+", type=Path, help="model card(s), e.g. models/fdm_anymal_d.card.json")
    verify.add_argument("--atol", type=float, default=1e-4, help="largest allowed |torch - onnx| difference")
    verify.set_defaults(func=_model_verify)
    info = model_sub.add_parser("info", help="print a model card's summary")
    info.add_argument("card", type=Path)
    info.set_defaults(func=_model_info)

    export = subparsers.add_parser("export", help="export models for onboard runtimes")
    export_sub = export.add_subparsers(dest="command", metavar="COMMAND")
    export.set_defaults(group_parser=export)
    onnx = export_sub.add_parser("onnx", help="(re)export every graph of a model to ONNX and update its card")
    onnx.add_argument("card", type=Path)
    onnx.set_defaults(func=_export_onnx)


def _demo(args: argparse.Namespace) -> int:
    if args.example == "nav":
        from fdm_nav.demo import run_nav_demo

        return run_nav_demo(args.out)
    from dynamics_stack.examples.demo_unicycle import run_demo

    return run_demo(args.out)


def _model_info(args: argparse.Namespace) -> int:
    card = load_card(args.card)
    summary = {k: card.data.get(k) for k in ("name", "kind", "description", "metrics", "training")}
    summary["graphs"] = {g: [r["name"] for r in e["inputs"]] for g, e in card.graphs.items()}
    summary["files"] = {k: v["path"] for k, v in card.data["files"].items()}
    print(json.dumps(summary, indent=2))
    return 0


def _model_verify(args: argparse.Namespace) -> int:
    worst_all = 0.0
    for path in args.cards:
        card = load_card(path)  # hashes checked here
        torch_rt, onnx_rt = TorchRuntime(card), OnnxRuntime(card)
        for graph, spec in torch_rt.specs.items():
            feeds = dict(zip(spec.input_names, (t.numpy() for t in spec.dummy_inputs), strict=True))
            a, b = torch_rt.run(graph, feeds), onnx_rt.run(graph, feeds)
            worst = max(float(np.abs(a[k] - b[k]).max(initial=0.0)) for k in a)
            worst_all = max(worst_all, worst)
            status = "ok" if worst <= args.atol else "MISMATCH"
            print(f"{card.name}.{graph}: hashes ok, max |torch - onnx| = {worst:.2e} [{status}]")
    return 0 if worst_all <= args.atol else 1


def _export_onnx(args: argparse.Namespace) -> int:
    card = load_card(args.card)
    runtime = TorchRuntime(card)
    data = dict(card.data)
    for graph, spec in runtime.specs.items():
        path = export_onnx(spec, card.path.with_name(f"{card.name}.{graph}.onnx"))
        data["files"][f"onnx:{graph}"] = {"path": path.name}
        data["graphs"][graph] = {**graph_io(spec), "onnx": f"onnx:{graph}"}
        print(f"exported {graph} -> {path}")
    write_card(card.path, data)
    return 0
