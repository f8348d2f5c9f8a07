"""A coarse global route over a height map: the shortest path around what a platform cannot cross.

Cells that hold a step higher than the platform can climb, a slope steeper than
it can stand, a pit or an obstacle are blocked, grown by half the robot's
width; the route is the 8-connected shortest path around them on a coarse grid
of the known map (the Nav2 planner-server role). The local planners follow it
with a carrot (``fdm_nav.carrot``); the ``terrain_sim`` node publishes it on
``route`` for every goal, and the closed-loop benchmark gives both planners the
same route, so the comparison stays one of local planners.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.ndimage import maximum_filter, uniform_filter
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra

from sim.height_map import HeightMap
from sim.platform import PlatformCfg


def blocked_cells(hm: HeightMap, platform: PlatformCfg, cell: float, margin: float = 0.0) -> tuple[np.ndarray, float]:
    """Blocked mask on a grid of ``cell`` metres (a multiple of the map's resolution) and that cell size.

    Blocked cells grow by half the platform's width plus ``margin`` metres.
    """
    k = max(1, round(cell / hm.resolution))
    h = hm.heights.cpu().numpy()
    H, W = (h.shape[0] // k) * k, (h.shape[1] // k) * k
    fine_bad = hm.obstacle.cpu().numpy() | hm.pit.cpu().numpy()
    # Steps: height differences between neighbouring fine cells above the climbable limit.
    dx = np.abs(np.diff(h, axis=0, append=h[-1:, :]))
    dy = np.abs(np.diff(h, axis=1, append=h[:, -1:]))
    fine_bad |= np.maximum(dx, dy) > platform.max_step_up
    # Slopes at the scale of the robot's stance (0.5 m), so a stair edge is a step, not a cliff;
    # windows that touch a pit, obstacle or step are already decided by those checks.
    win = max(1, round(0.5 / hm.resolution))
    smooth = uniform_filter(h, size=win, mode="nearest")
    gx, gy = np.gradient(smooth, hm.resolution)
    steep = np.degrees(np.arctan(np.hypot(gx, gy))) > platform.max_tilt_deg
    fine_bad |= steep & ~maximum_filter(fine_bad, size=win)
    coarse = fine_bad[:H, :W].reshape(H // k, k, W // k, k).any(axis=(1, 3))
    grow = max(1, round((platform.width / 2 + margin) / (k * hm.resolution)))
    return maximum_filter(coarse, size=2 * grow + 1), k * hm.resolution


def plan_route(
    hm: HeightMap,
    platform: PlatformCfg,
    start: tuple[float, float],
    goal: tuple[float, float],
    cell: float = 0.1,
    margin: float = 0.0,
):
    """Shortest 8-connected route [N, 2] (map frame) from start to goal around blocked cells; None if none."""
    blocked, size = blocked_cells(hm, platform, cell, margin)
    R, C = blocked.shape
    ox, oy = hm.origin[0] - hm.resolution / 2 + size / 2, hm.origin[1] - hm.resolution / 2 + size / 2

    def index(p):
        return int(np.clip(round((p[0] - ox) / size), 0, R - 1)), int(np.clip(round((p[1] - oy) / size), 0, C - 1))

    (si, sj), (gi, gj) = index(start), index(goal)
    blocked = blocked.copy()
    blocked[si, sj] = blocked[gi, gj] = False  # the robot stands at the start; the goal is valid by check
    ids = np.arange(R * C).reshape(R, C)
    rows, cols, weights = [], [], []
    for di, dj in ((0, 1), (1, 0), (1, 1), (1, -1)):  # each undirected neighbour pair once
        lo, hi = max(0, -dj), C - max(0, dj)
        a, b = ids[0 : R - di, lo:hi], ids[di:R, lo + dj : hi + dj]
        ok = ~blocked.flat[a] & ~blocked.flat[b]
        w = size * math.hypot(di, dj)
        rows += [a[ok], b[ok]]
        cols += [b[ok], a[ok]]
        weights += [np.full(int(ok.sum()), w)] * 2
    graph = coo_matrix((np.concatenate(weights), (np.concatenate(rows), np.concatenate(cols))), shape=(R * C, R * C))
    dist, pred = dijkstra(graph.tocsr(), indices=ids[si, sj], return_predecessors=True)
    if not np.isfinite(dist[ids[gi, gj]]):
        return None  # callers fall back to the straight line
    path, node = [], ids[gi, gj]
    while node >= 0:
        path.append(node)
        node = pred[node]
    cells = np.array(path[::-1])
    xy = np.stack([ox + (cells // C) * size, oy + (cells % C) * size], axis=1)
    xy[0], xy[-1] = start, goal
    return xy.astype(np.float32)


def route_or_line(hm: HeightMap, platform: PlatformCfg, start, goal, margins=(0.3, 0.15, 0.0)) -> np.ndarray:
    """``plan_route`` with the first clearance margin that leaves a route, else the straight segment."""
    route = None
    for margin in margins:  # prefer a route with room to spare; narrow doors still get one
        route = plan_route(hm, platform, start, goal, margin=margin)
        if route is not None:
            break
    return route if route is not None else np.array([start, goal], dtype=np.float32)
