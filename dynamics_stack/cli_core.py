"""Core ``dynstack`` commands: ``demo``, ``model verify|info``, ``export onnx``, ``params``.

``demo`` runs one of the registered demos: the core's own (``unicycle``, the
MPPI engine alone) and whatever the packages add with ``register_demo`` (the
navigation package adds ``nav`` and makes it the default). ``params`` prints
or writes the nodes' parameter files and docs tables (``dynamics_stack.params``).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dynamics_stack.checkpoint import load_card, write_card
from dynamics_stack.runtime import OnnxRuntime, TorchRuntime, export_onnx, graph_io


@dataclass(frozen=True)
class Demo:
    """A runnable demo: ``target`` is ``"module:function"``, the function takes the output folder, returns an exit code."""

    target: str
    help: str


DEMOS: dict[str, Demo] = {"unicycle": Demo("dynamics_stack.examples.demo_unicycle:run_demo", "the MPPI engine alone")}
_DEFAULT_DEMO = ["unicycle"]


def register_demo(name: str, target: str, help: str, default: bool = False) -> None:
    """Add a demo to ``dynstack demo --example``; ``default`` makes it what ``dynstack demo`` (and ``make demo``) runs."""
    DEMOS[name] = Demo(target, help)
    if default:
        _DEFAULT_DEMO[0] = name


def register(subparsers: argparse._SubParsersAction) -> None:
    demo = subparsers.add_parser("demo", help="run the main demo on the embedded simulators")
    demo.add_argument(
        "--example",
        choices=DEMOS,  # read when parsing, after the packages registered theirs
        default=None,
        help="which demo: %(choices)s (default: the navigation demo when installed)",
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

    params = subparsers.add_parser(
        "params",
        help="ROS parameters of the nodes: print a node's YAML or docs table, or rewrite the generated files",
        description="Generated from each node's config dataclass: config/*.yaml and the tables of docs/ros_nodes.md. "
        "Without arguments: the list of nodes.",
    )
    params.add_argument("node", nargs="?", help="node name, e.g. fdm_planner")
    out = params.add_mutually_exclusive_group()
    out.add_argument("--yaml", action="store_true", help="print the node's parameter file (the default)")
    out.add_argument("--markdown", action="store_true", help="print the node's docs table")
    out.add_argument("--write", action="store_true", help="rewrite every generated file in the source checkout")
    out.add_argument("--check", action="store_true", help="exit 1 if a generated file differs from its dataclass")
    params.set_defaults(func=_params)


def _demo(args: argparse.Namespace) -> int:
    demo = DEMOS[args.example or _DEFAULT_DEMO[0]]
    module, _, function = demo.target.partition(":")
    return getattr(importlib.import_module(module), function)(args.out)


def _params(args: argparse.Namespace) -> int:
    from dynamics_stack.config import ConfigError
    from dynamics_stack.params import NODES, parameters_markdown, parameters_yaml, stale_files
    from dynamics_stack.paths import PACKAGE_ROOT

    if args.write or args.check:
        from dynamics_stack.params import generated_files

        if args.check:
            stale = stale_files(PACKAGE_ROOT)
            for path in stale:
                print(f"out of date: {path.relative_to(PACKAGE_ROOT)} (run dynstack params --write)", file=sys.stderr)
            return 1 if stale else 0
        for path, text in generated_files(PACKAGE_ROOT).items():
            if not path.is_file() or path.read_text() != text:
                path.write_text(text)
                print(f"wrote {path.relative_to(PACKAGE_ROOT)}")
        return 0
    if args.node is None:
        for spec in NODES.values():
            print(f"{spec.node:<16} {spec.cfg:<44} {spec.yaml_file}")
        return 0
    if args.node not in NODES:
        raise ConfigError(f"params: no node {args.node!r}; known: {', '.join(NODES)}")
    spec = NODES[args.node]
    text = parameters_markdown(spec) + "\n" if args.markdown else parameters_yaml(spec)
    sys.stdout.write(text)
    return 0


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
