"""Scenario families: seeded generators of navigation scenarios, to measure how planners generalise.

The shipped scenario files (``sim/scenarios/nav/``) are readable examples, one
file per case; a planner tuned on them can pass them and still fail the next
corridor. A family is a name, a description and parameter ranges; seed ``s``
of a family is one scenario drawn from those ranges (terrain parameters,
terrain seed, start, start heading, goal), written in the shipped file format
and validated like any file: start and goal on the map and clear, and a route
for the platform must exist (a draw that fails is drawn again from the same
generator, so a (family, seed) pair always gives the same scenario).

    family_scenario("door", 1003) -> Scenario     # name "door_s1003", tag "family:door"
    write_family_scenarios(out, ["door", "corridor"], range(1000, 1010)) -> [paths]

``dynstack nav make-scenarios`` writes them; ``benchmarks/bench_nav_families.py``
runs planners over them and reports success, failure, timeout and aborted per family.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from dynamics_stack.atomic import atomic_write_text
from dynamics_stack.config import ConfigError, cfg_from_dict
from sim.platform import load_platform
from sim.route import plan_route
from sim.scenario import Scenario, check_geometry_of

MAP = 20.0  # m, edge of every family's square map (as most shipped files)
TAG = "family:"


@dataclass(frozen=True)
class Family:
    """A scenario generator: ``draw(u, rng)`` gives a scenario dict (file format) from ``u(name)`` draws."""

    name: str
    description: str
    ranges: dict[str, tuple[float, float]]  # parameter -> (low, high), drawn uniformly (integers: inclusive)
    draw: Callable[[Callable[[str], float], np.random.Generator], dict[str, Any]]
    time_limit: float = 45.0  # s


def _ends(u: Callable[[str], float], spread: float = 4.0) -> tuple[dict, dict]:
    """Start near x = -8 and goal near x = +8, each at a random y within +-spread m, start heading from 'yaw'."""
    start = {"x": -8.0, "y": round(u("start_y") if spread else 0.0, 2), "yaw": round(u("yaw"), 3)}
    goal = {"x": 8.0, "y": round(u("goal_y") if spread else 0.0, 2), "tolerance": 0.5}
    return start, goal


def _clear(start: dict, goal: dict) -> list[list[float]]:
    return [[start["x"], start["y"], 1.5], [goal["x"], goal["y"], 1.5]]


def _terrain(kind: str, params: dict, rng: np.random.Generator, clear=None) -> dict:
    t = {
        "type": kind,
        "size": [MAP, MAP],
        "resolution": 0.05,
        "seed": int(rng.integers(0, 1_000_000)),
        "params": params,
    }
    if clear:
        t["keep_clear"] = clear
    return t


def _open(kind: str, params: Callable[[Callable[[str], float]], dict], clear: bool = True):
    """A family on one terrain type with random parameters, random start and goal ends, any start heading."""

    def draw(u, rng):
        start, goal = _ends(u)
        return {
            "terrain": _terrain(kind, params(u), rng, _clear(start, goal) if clear else None),
            "start": start,
            "goal": goal,
        }

    return draw


def _corridor(u, rng):
    start, goal = _ends(u, spread=0.0)
    start["x"], goal["x"] = round(u("start_x"), 2), round(u("goal_x"), 2)
    return {
        "terrain": _terrain("walls", {"layout": "corridor", "corridor_width": round(u("width"), 3)}, rng),
        "start": start,
        "goal": goal,
    }


def _door(u, rng):
    start, goal = _ends(u)
    params = {
        "layout": "barrier",
        "barrier_x": round(u("wall_x"), 2),
        "gap_y": round(u("gap_y"), 2),
        "gap_width": round(u("gap_width"), 3),
    }
    return {"terrain": _terrain("walls", params, rng), "start": start, "goal": goal}


def _trench(u, rng):
    start, goal = _ends(u)
    params = {
        "layout": "trench",
        "x_center": round(u("trench_x"), 2),
        "width": round(u("trench_width"), 2),
        "depth": 1.0,
        "bridge_y": round(u("bridge_y"), 2),
        "bridge_width": round(u("bridge_width"), 3),
    }
    return {"terrain": _terrain("pits", params, rng), "start": start, "goal": goal}


def _stairs(u, rng):
    start, goal = _ends(u)
    direction = ("up", "down", "updown")[int(u("direction"))]
    params = {
        "rise": round(u("rise"), 3),
        "run": round(u("run"), 3),
        "num_steps": int(u("num_steps")),
        "x_start": round(u("stairs_x"), 2),
        "direction": direction,
        "landing": 1.5,
    }
    return {"terrain": _terrain("stairs", params, rng), "start": start, "goal": goal}


ENDS = {"start_y": (-4.0, 4.0), "goal_y": (-4.0, 4.0), "yaw": (-math.pi, math.pi)}

FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family(
            "corridor",
            "A straight corridor along x, 1.2-2.0 m wide (the body is 0.53 m), end to end; heading within 0.5 rad.",
            {"width": (1.2, 2.0), "start_x": (-9.0, -7.0), "goal_x": (6.5, 9.0), "yaw": (-0.5, 0.5)},
            _corridor,
        ),
        Family(
            "door",
            "A wall across the map with one 0.9-1.5 m door anywhere along it (up to 7.5 m off the centre line).",
            {**ENDS, "wall_x": (-3.0, 3.0), "gap_y": (-7.5, 7.5), "gap_width": (0.9, 1.5)},
            _door,
            time_limit=60.0,
        ),
        Family(
            "passages",
            "Corridors, walls with doors and clutter near the openings between start and goal (terrain 'passages').",
            {**ENDS, "corridors": (1, 3), "walls": (1, 3), "clutter": (0, 3)},
            _open(
                "passages",
                lambda u: {"corridors": int(u("corridors")), "walls": int(u("walls")), "clutter": int(u("clutter"))},
            ),
            time_limit=60.0,
        ),
        Family(
            "trench",
            "A 1-2 m wide, 1 m deep trench across the map; one 1.2-2.0 m bridge anywhere along it.",
            {
                **ENDS,
                "trench_x": (-3.0, 3.0),
                "trench_width": (1.0, 2.0),
                "bridge_y": (-6.0, 6.0),
                "bridge_width": (1.2, 2.0),
            },
            _trench,
            time_limit=60.0,
        ),
        Family(
            "pits",
            "8-16 random pits, 1 m deep.",
            {**ENDS, "num_pits": (8, 16)},
            _open("pits", lambda u: {"layout": "random", "num_pits": int(u("num_pits")), "depth": 1.0}),
        ),
        Family(
            "walls",
            "6-14 random wall segments of 2-6 m.",
            {**ENDS, "num_walls": (6, 14)},
            _open("walls", lambda u: {"layout": "random", "num_walls": int(u("num_walls"))}),
        ),
        Family(
            "pillars",
            "20-60 pillars of radius 0.15 to 0.3-0.5 m.",
            {**ENDS, "num_pillars": (20, 60), "radius_max": (0.3, 0.5)},
            _open(
                "pillars",
                lambda u: {"num_pillars": int(u("num_pillars")), "radius_max": round(u("radius_max"), 3)},
            ),
        ),
        Family(
            "boxes",
            "15-35 boxes, 5 cm to 0.2-0.6 m high: step onto the low ones, around the high ones.",
            {**ENDS, "num_boxes": (15, 35), "height_max": (0.2, 0.6)},
            _open(
                "boxes",
                lambda u: {
                    "num_boxes": int(u("num_boxes")),
                    "height_min": 0.05,
                    "height_max": round(u("height_max"), 3),
                },
            ),
        ),
        Family(
            "stairs",
            "A staircase across the map: up, down or up and down, 5-22 cm steps.",
            {
                **ENDS,
                "rise": (0.05, 0.22),
                "run": (0.3, 0.45),
                "num_steps": (4, 8),
                "stairs_x": (-4.0, -1.0),
                "direction": (0, 2),
            },
            _stairs,
        ),
        Family(
            "rough",
            "A random grid of blocks 0.2-0.6 m wide, up to 5-20 cm high.",
            {**ENDS, "block": (0.2, 0.6), "max_height": (0.05, 0.2)},
            _open(
                "rough",
                lambda u: {"block": round(u("block"), 3), "max_height": round(u("max_height"), 3)},
                clear=False,
            ),
        ),
        Family(
            "slope",
            "A ramp or a hill across the map, 5-30 deg.",
            {**ENDS, "angle": (5.0, 30.0), "hill": (0, 1)},
            _open(
                "slope",
                lambda u: {
                    "angle_deg": round(u("angle"), 2),
                    "x_start": -4.0,
                    "x_end": 4.0,
                    "shape": ("ramp", "hill")[int(u("hill"))],
                },
                clear=False,
            ),
        ),
        Family(
            "mixed",
            "Four 10 m tiles of random terrain types, difficulty 0.3-0.7.",
            {**ENDS, "difficulty": (0.3, 0.7)},
            _open("mixed", lambda u: {"tile_size": 10.0, "difficulty": round(u("difficulty"), 3)}),
        ),
    )
}

INTEGER = {"corridors", "walls", "clutter", "num_pits", "num_walls", "num_pillars", "num_boxes", "num_steps"}
INTEGER |= {"direction", "hill"}
TRIES = 20  # draws per seed before giving up (a valid one comes within a few on every family)


def family_of(scenario: Scenario) -> str | None:
    """The family a scenario was drawn from (its ``family:`` tag), None for other files."""
    return next((t[len(TAG) :] for t in scenario.tags if t.startswith(TAG)), None)


def family_scenario(family: str, seed: int, platform: str = "anymal_d") -> Scenario:
    """Seed ``seed`` of ``family``: validated, with a route for ``platform`` from start to goal."""
    if family not in FAMILIES:
        raise ConfigError(f"unknown scenario family {family!r}; known: {', '.join(FAMILIES)}")
    fam = FAMILIES[family]
    rng = np.random.default_rng([seed, sum(map(ord, family))])
    plat = load_platform(platform)

    def u(name: str) -> float:
        lo, hi = fam.ranges[name]
        return float(rng.integers(int(lo), int(hi) + 1)) if name in INTEGER else float(rng.uniform(lo, hi))

    for _ in range(TRIES):
        data = {
            "name": f"{family}_s{seed:04d}",
            "platform": platform,
            **fam.draw(u, rng),
            "time_limit": fam.time_limit,
            "description": f"{fam.description} (family '{family}', seed {seed})",
            "tags": [f"{TAG}{family}"],
        }
        scenario = cfg_from_dict(Scenario, data, source=f"family {family} seed {seed}")
        try:
            hm = check_geometry_of(scenario)
        except ConfigError:
            continue
        s, g = scenario.start, scenario.goal
        if plan_route(hm, plat, (s.x, s.y), (g.x, g.y)) is not None:
            return scenario
    raise ConfigError(f"family {family!r} seed {seed}: no valid scenario in {TRIES} draws")


def write_family_scenarios(out: str | Path, families: list[str], seeds) -> list[Path]:
    """One YAML file per (family, seed) in ``out`` (the shipped format); returns the paths."""
    from sim.scenario import scenario_to_dict

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for family in families:
        for seed in seeds:
            scenario = family_scenario(family, seed)
            text = f"# {scenario.description}\n" + yaml.safe_dump(
                scenario_to_dict(scenario), sort_keys=False, default_flow_style=None, width=120
            )
            path = out / f"{scenario.name}.yaml"
            atomic_write_text(path, text)
            paths.append(path)
    return paths
