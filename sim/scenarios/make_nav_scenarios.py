"""Writes the shipped navigation scenarios in sim/scenarios/nav/ (run once; the YAML files are the source of truth).

Usage: ``python -m sim.scenarios.make_nav_scenarios`` (overwrites the files it lists).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from dynamics_stack.atomic import atomic_write_text

OUT = Path(__file__).parent / "nav"
A, W = "anymal_d", "wheeled_small"
S, G = (-8.0, 0.0), (8.0, 0.0)  # default start and goal on a 20 m x 20 m map
CLEAR = [[-8.0, 0.0, 1.5], [8.0, 0.0, 1.5]]


def sc(
    name,
    terrain,
    params,
    *,
    desc,
    platform=A,
    start=S,
    goal=G,
    yaw=0.0,
    size=(20.0, 20.0),
    seed=0,
    time_limit=40.0,
    tags=(),
    clear=None,
):
    t = {"type": terrain, "size": list(size), "resolution": 0.05, "seed": seed, "params": params}
    if clear:
        t["keep_clear"] = clear
    out = {
        "name": name,
        "platform": platform,
        "terrain": t,
        "start": {"x": start[0], "y": start[1], "yaw": yaw},
        "goal": {"x": goal[0], "y": goal[1], "tolerance": 0.5},
        "time_limit": time_limit,
        "description": desc,
    }
    if tags:
        out["tags"] = list(tags)
    return out


SCENARIOS = [
    sc("flat_01", "flat", {}, desc="Flat ground, straight line: the sanity check."),
    sc(
        "flat_diagonal_02",
        "flat",
        {"noise_std": 0.01},
        start=(-8.0, -8.0),
        goal=(8.0, 8.0),
        yaw=1.57,
        desc="Flat ground with 1 cm noise; goal diagonal, 45 deg to the right of the start heading.",
    ),
    sc(
        "slope_ramp_01",
        "slope",
        {"angle_deg": 15.0, "x_start": -4.0, "x_end": 4.0, "shape": "ramp"},
        desc="A 15 deg ramp up to a plateau: slows the robot, safe.",
    ),
    sc(
        "slope_hill_02",
        "slope",
        {"angle_deg": 25.0, "x_start": -5.0, "x_end": 5.0, "shape": "hill"},
        desc="A 25 deg hill across the whole map: up and down again.",
    ),
    sc(
        "slope_steep_03",
        "slope",
        {"angle_deg": 50.0, "x_start": -3.0, "x_end": 3.0, "shape": "hill", "width": 10.0, "y_center": 0.0},
        desc="A 50 deg ridge on the direct line tips the robot; go around it (|y| > 5 m).",
        tags=("direct_deadly",),
    ),
    sc(
        "stairs_up_01",
        "stairs",
        {"rise": 0.15, "run": 0.35, "num_steps": 8, "x_start": -3.0, "direction": "up"},
        desc="Eight 15 cm steps up to a plateau.",
    ),
    sc(
        "stairs_down_02",
        "stairs",
        {"rise": 0.15, "run": 0.35, "num_steps": 8, "x_start": 0.0, "direction": "down"},
        desc="Start on the top plateau, eight 15 cm steps down.",
    ),
    sc(
        "stairs_updown_03",
        "stairs",
        {"rise": 0.2, "run": 0.4, "num_steps": 6, "x_start": -4.5, "direction": "updown", "landing": 1.5},
        desc="Six 20 cm steps up, a landing, six down.",
    ),
    sc(
        "stairs_too_high_04",
        "stairs",
        {
            "rise": 0.35,
            "run": 0.5,
            "num_steps": 4,
            "x_start": -2.0,
            "direction": "updown",
            "landing": 1.0,
            "width": 8.0,
        },
        desc="35 cm steps (above ANYmal's 25 cm) block the direct line; detour around the 8 m wide block.",
        tags=("direct_blocked",),
    ),
    sc(
        "stairs_low_05",
        "stairs",
        {"rise": 0.05, "run": 0.3, "num_steps": 10, "x_start": -3.0, "direction": "updown", "landing": 1.0},
        desc="Low 5 cm steps: easy for legs, impossible for the small wheeled base.",
    ),
    sc("rough_low_01", "rough", {"block": 0.3, "max_height": 0.08}, seed=1, desc="Random grid up to 8 cm."),
    sc(
        "rough_high_02",
        "rough",
        {"block": 0.4, "max_height": 0.2},
        seed=2,
        desc="Random grid up to 20 cm: slow, bumpy, still traversable.",
    ),
    sc(
        "boxes_01",
        "boxes",
        {"num_boxes": 25, "height_min": 0.1, "height_max": 0.5},
        seed=3,
        clear=CLEAR,
        desc="Boxes of 10-50 cm: step onto the low ones, walk around the high ones.",
    ),
    sc(
        "boxes_low_02",
        "boxes",
        {"num_boxes": 30, "height_min": 0.05, "height_max": 0.2},
        seed=4,
        clear=CLEAR,
        desc="Low boxes only: all climbable by the legged robot.",
    ),
    sc(
        "pillars_01",
        "pillars",
        {"num_pillars": 30},
        seed=5,
        clear=CLEAR,
        desc="Thirty pillars to weave through.",
        tags=("direct_blocked",),
    ),
    sc(
        "pillars_dense_02",
        "pillars",
        {"num_pillars": 60, "radius_min": 0.2, "radius_max": 0.5},
        seed=6,
        clear=CLEAR,
        desc="A dense pillar forest.",
        tags=("direct_blocked",),
    ),
    sc(
        "walls_corridor_01",
        "walls",
        {"layout": "corridor", "corridor_width": 2.0},
        desc="A 2 m corridor along x: stay between the walls.",
    ),
    sc(
        "walls_barrier_02",
        "walls",
        {"layout": "barrier", "barrier_x": 0.0, "gap_y": 5.0, "gap_width": 1.5},
        desc="A wall across the map with one 1.5 m opening at y = 5 m: the direct line hits the wall.",
        tags=("direct_blocked",),
    ),
    sc(
        "walls_random_03",
        "walls",
        {"layout": "random", "num_walls": 10},
        seed=7,
        clear=CLEAR,
        desc="Ten random wall segments.",
    ),
    sc(
        "walls_barrier_narrow_04",
        "walls",
        {"layout": "barrier", "barrier_x": 2.0, "gap_y": -3.0, "gap_width": 1.0},
        desc="A wall with a 1.0 m door at y = -3 m (the robot is 0.53 m wide).",
        tags=("direct_blocked",),
    ),
    sc(
        "pits_trench_01",
        "pits",
        {"layout": "trench", "x_center": 0.0, "width": 1.5, "depth": 1.0, "bridge_y": -4.0, "bridge_width": 1.5},
        desc="A 1.5 m trench across the map; the only crossing is a bridge at y = -4 m.",
        tags=("direct_deadly",),
    ),
    sc(
        "pits_random_02",
        "pits",
        {"layout": "random", "num_pits": 12, "depth": 1.0},
        seed=8,
        clear=CLEAR,
        desc="Twelve random pits, 1 m deep.",
    ),
    sc(
        "pits_bridge_center_03",
        "pits",
        {"layout": "trench", "x_center": 2.0, "width": 2.0, "bridge_y": 0.0, "bridge_width": 1.2},
        desc="A narrow 1.2 m bridge on the direct line: precise heading matters.",
    ),
    sc(
        "mixed_01",
        "mixed",
        {"tile_size": 10.0, "difficulty": 0.4},
        seed=11,
        clear=CLEAR,
        desc="Four random tiles of mixed terrain.",
    ),
    sc(
        "mixed_02",
        "mixed",
        {"tile_size": 10.0, "difficulty": 0.7},
        seed=15,
        clear=CLEAR,
        desc="Four harder mixed tiles.",
        tags=("direct_blocked",),
    ),
    sc(
        "mixed_large_03",
        "mixed",
        {"tile_size": 8.0, "difficulty": 0.5},
        size=(40.0, 40.0),
        seed=13,
        start=(-17.0, -17.0),
        goal=(17.0, 17.0),
        yaw=0.785,
        time_limit=90.0,
        clear=[[-17.0, -17.0, 1.5], [17.0, 17.0, 1.5]],
        desc="A 40 m map of 25 mixed tiles, corner to corner.",
    ),
    sc(
        "passages_01",
        "passages",
        {"corridors": 2, "walls": 3, "clutter": 1},
        seed=22,
        clear=CLEAR,
        time_limit=45.0,
        desc="Two corridors (1.2-2 m), one just beside the direct line, and a wall with two doors; clutter near the openings.",
        tags=("direct_blocked",),
    ),
    sc("wheeled_flat_01", "flat", {}, platform=W, time_limit=20.0, desc="The small wheeled base on flat ground."),
    sc(
        "wheeled_stairs_blocked_02",
        "stairs",
        {
            "rise": 0.1,
            "run": 0.35,
            "num_steps": 4,
            "x_start": -1.5,
            "direction": "updown",
            "landing": 1.0,
            "width": 8.0,
        },
        platform=W,
        desc="10 cm steps stop the wheeled base (the legged one climbs them); go around.",
        tags=("direct_blocked",),
    ),
    sc(
        "wheeled_boxes_03",
        "boxes",
        {"num_boxes": 20, "height_min": 0.05, "height_max": 0.3},
        platform=W,
        seed=9,
        clear=CLEAR,
        desc="Boxes the wheeled base must all avoid.",
        tags=("direct_blocked",),
    ),
]


def main() -> None:
    for s in SCENARIOS:
        text = f"# {s['description']}\n" + yaml.safe_dump(s, sort_keys=False, default_flow_style=None, width=120)
        atomic_write_text(OUT / f"{s['name']}.yaml", text)
    print(f"wrote {len(SCENARIOS)} scenarios to {OUT}")


if __name__ == "__main__":
    main()
