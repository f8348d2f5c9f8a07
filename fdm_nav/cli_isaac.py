"""``dynstack nav export-usd``: scenario files as USD stages for Isaac Sim (``sim.usd_export``; docs/isaac_sim.md).

The pxr import happens inside the command so ``dynstack --help`` stays fast.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register_isaac_commands(sub: argparse._SubParsersAction) -> None:
    usd = sub.add_parser(
        "export-usd",
        help="write scenario files as USD stages (terrain mesh with collision, start, goal) for Isaac Sim",
        description="One DIR/NAME.usdc per scenario file: the terrain as one triangle mesh with collision and a "
        "physics material, Z up, metres; start and goal prims with their values; name and source in the stage "
        "metadata (layout in sim/usd_export.py, use in docs/isaac_sim.md).",
    )
    usd.add_argument("files", nargs="+", type=Path, help="scenario YAML files")
    usd.add_argument("--out", type=Path, required=True, help="folder for the .usdc files")
    usd.set_defaults(func=_export_usd)


def _export_usd(args: argparse.Namespace) -> int:
    from sim.scenario import check_geometry_of, load_scenario
    from sim.usd_export import export_scenario_usd

    scenarios = [load_scenario(path, check_geometry=False) for path in args.files]  # a bad file fails before any work
    for scenario in scenarios:
        height_map = check_geometry_of(scenario)  # built once, checked, then exported
        done = export_scenario_usd(scenario, args.out / f"{scenario.name}.usdc", height_map)
        print(
            f"{done['file']}: {done['vertices']:,} vertices, {done['triangles']:,} triangles "
            f"({done['samples']:,} height samples), {done['bytes'] / 1e6:.2f} MB"
        )
    return 0
