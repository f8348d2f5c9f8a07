"""``dynstack nav ...``: dataset generation and scenario tools; thin wrappers over ``sim``.

Commands: ``gen-data`` (sharded, resumable dataset), ``data-info`` (manifest
summary), ``check-scenario`` (validate scenario files), ``make-scenarios``
(scenario files drawn from families), ``render-scenario`` (top-down PNG); ``export-usd``
(USD stages for Isaac Sim) in ``fdm_nav.cli_isaac``. Heavy imports happen inside the commands so ``dynstack --help``
stays fast.
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
    register_demo("nav", "fdm_nav.demo:run_nav_demo", "FDM vs heuristic planner on shipped scenarios", default=True)
    register_node(
        "fdm_planner",
        "fdm_nav.node_cfg:PlannerNodeCfg",
        "config/navigation.yaml",
        "Parameters of the fdm_planner node (fdm_nav/node.py) for the robot.",
    )
    register_node(
        "terrain_sim",
        "sim.terrain_node_cfg:TerrainSimNodeCfg",
        "config/navigation_sim.yaml",
        "Parameters of the terrain_sim node (sim/terrain_node.py), the simulated robot of launch/navigation_sim.launch.py.",
    )
    nav = subparsers.add_parser("nav", help="navigation: terrain simulator datasets and scenario files")
    nav.set_defaults(group_parser=nav)
    sub = nav.add_subparsers(dest="command", metavar="COMMAND")

    gen = sub.add_parser(
        "gen-data",
        help="simulate robots on seeded terrains and write a sharded, resumable FDM dataset",
        description="Writes DIR/shard_KKKKK.npz and DIR/manifest.json (format in sim/README.md). "
        "Running again with the same arguments resumes: finished shards are kept, missing ones are made.",
    )
    gen.add_argument("--out", type=Path, required=True, help="dataset folder")
    gen.add_argument("--robots", type=int, default=64, help="robots simulated in parallel per shard")
    gen.add_argument("--seconds", type=float, default=60.0, help="simulated seconds per shard (multiple of 0.5, >= 6)")
    gen.add_argument("--terrains", nargs="+", default=None, help="terrain types (default: all); cycled over the shards")
    gen.add_argument("--shards-per-terrain", type=int, default=1, help="terrain seeds (shards) per terrain type")
    gen.add_argument("--platform", default="anymal_d", help="platform name in sim/platforms/ or a YAML path")
    cli_args.add_seed(gen, "terrains, spawns and commands (base seed)")
    gen.add_argument("--terrain-size", type=float, default=30.0, help="edge of each shard's square map (m)")
    gen.add_argument("--difficulty", type=float, default=0.5, help="0..1 scale of random terrain parameters")
    gen.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    gen.add_argument("--max-shards", type=int, default=None, help="stop after this many new shards (resume later)")
    cli_args.add_threads(gen)
    cli_args.add_progress(gen)
    gen.set_defaults(func=_gen_data)

    info = sub.add_parser("data-info", help="print the summary of a dataset's manifest")
    info.add_argument("dir", type=Path)
    info.set_defaults(func=_data_info)

    check = sub.add_parser("check-scenario", help="validate scenario YAML files (fields, start/goal geometry)")
    check.add_argument("files", nargs="+", type=Path)
    check.set_defaults(func=_check_scenario)

    fam = sub.add_parser(
        "make-scenarios",
        help="write scenario files drawn from scenario families (sim/scenario_families.py)",
        description="Seed S of a family is one scenario drawn from the family's parameter ranges (terrain, start, "
        "start heading, goal), validated and with a route; files are named FAMILY_sSSSS.yaml.",
    )
    fam.add_argument("--out", type=Path, required=True, help="folder for the YAML files")
    fam.add_argument("--family", nargs="+", default=None, help="families (default: all); see --list")
    fam.add_argument("--first-seed", type=int, default=0, help="first seed")
    fam.add_argument("--count", type=int, default=10, help="seeds per family")
    fam.add_argument("--list", action="store_true", help="print the families and their parameter ranges")
    fam.set_defaults(func=_make_scenarios)

    render = sub.add_parser("render-scenario", help="top-down PNG of a scenario with optional trajectories")
    render.add_argument("file", type=Path)
    render.add_argument("--out", type=Path, required=True, help="PNG to write")
    render.add_argument(
        "--trajectory",
        type=Path,
        action="append",
        default=[],
        help="trajectory file (.npy/.csv/.json with x, y); repeatable",
    )
    render.set_defaults(func=_render_scenario)

    from fdm_nav.cli_model import register_model_commands  # train, eval-model (the FDM itself)

    register_model_commands(sub)

    from fdm_nav.cli_planning import register_planning_commands  # closed-loop benchmark

    register_planning_commands(sub)

    from fdm_nav.cli_ros import register_ros_commands  # import-bag, record (rosbag2)

    register_ros_commands(sub)

    from fdm_nav.cli_isaac import register_isaac_commands  # export-usd (Isaac Sim stages)

    register_isaac_commands(sub)


def _make_scenarios(args: argparse.Namespace) -> int:
    from dynamics_stack.config import ConfigError
    from sim.scenario_families import FAMILIES, write_family_scenarios

    if args.list:
        for fam in FAMILIES.values():
            ranges = ", ".join(f"{k} {lo:g}..{hi:g}" for k, (lo, hi) in fam.ranges.items())
            print(f"{fam.name}: {fam.description} [{ranges}; time limit {fam.time_limit:g} s]")
        return 0
    if args.count < 1:
        raise ConfigError("--count must be >= 1")
    families = args.family or list(FAMILIES)
    unknown = [f for f in families if f not in FAMILIES]
    if unknown:
        raise ConfigError(f"unknown famil{'y' if len(unknown) == 1 else 'ies'} {unknown}; known: {', '.join(FAMILIES)}")
    paths = write_family_scenarios(args.out, families, range(args.first_seed, args.first_seed + args.count))
    print(f"wrote {len(paths)} scenarios to {args.out}")
    return 0


def _gen_data(args: argparse.Namespace) -> int:
    from dynamics_stack.config import ConfigError
    from sim.datagen import GenDataCfg, generate
    from sim.terrain import TERRAIN_TYPES

    cli_args.apply_threads(args)

    try:
        cfg = GenDataCfg(
            robots=args.robots,
            seconds=args.seconds,
            terrains=tuple(args.terrains) if args.terrains else TERRAIN_TYPES,
            shards_per_terrain=args.shards_per_terrain,
            platform=args.platform,
            seed=args.seed,
            terrain_size=args.terrain_size,
            difficulty=args.difficulty,
            device=args.device,
        )
    except ValueError as exc:
        raise ConfigError(f"gen-data arguments: {exc}") from exc
    manifest = generate(cfg, args.out, progress=cli_args.show_progress(args), max_new_shards=args.max_shards)
    print(json.dumps(_summary(manifest), indent=2))
    return 0


def _summary(manifest: dict) -> dict:
    return {
        "complete": manifest["complete"],
        "totals": manifest["totals"],
        "failure_rate_per_terrain": {k: round(v["failure_rate"], 4) for k, v in manifest["per_terrain"].items()},
        "windows_per_terrain": {k: v["windows"] for k, v in manifest["per_terrain"].items()},
        **({"last_run": manifest["last_run"]} if "last_run" in manifest else {}),
    }


def _data_info(args: argparse.Namespace) -> int:
    from sim.dataset import read_manifest

    print(json.dumps(_summary(read_manifest(args.dir)), indent=2))
    return 0


def _check_scenario(args: argparse.Namespace) -> int:
    from dynamics_stack.config import ConfigError
    from sim.scenario import load_scenario

    bad = 0
    for path in args.files:
        try:
            sc = load_scenario(path)
        except (ConfigError, FileNotFoundError) as exc:
            bad += 1
            print(f"dynstack: error: {exc}", file=sys.stderr)
            continue
        print(f"ok: {path} ({sc.name}: {sc.terrain.type}, {sc.platform})")
    print(
        f"{len(args.files) - bad} of {len(args.files)} scenario file(s) valid", file=sys.stderr if bad else sys.stdout
    )
    return 2 if bad else 0


def _render_scenario(args: argparse.Namespace) -> int:
    from sim.render import load_trajectory, render_scenario
    from sim.scenario import load_scenario

    scenario = load_scenario(args.file)
    trajectories = [load_trajectory(p) for p in args.trajectory]
    out = render_scenario(scenario, args.out, trajectories, labels=[p.stem for p in args.trajectory])
    print(f"wrote {out}")
    return 0
