"""Seeded 2.5D terrain generators: one parameter dataclass and one function per terrain type.

Every generator works on the cell-centre coordinates ``X, Y`` (metres, map
centre at 0) of a height grid and returns ``(heights, obstacle, pit)``: heights
in metres above the ground plane (0), and two boolean masks marking cells that
belong to an obstacle (box, pillar, wall) or a pit/gap. The masks are what
``HeightMap.unsafe`` answers and what scenario checks use; the simulator itself
only looks at heights. Randomness comes only from the ``numpy`` generator that
``build_terrain`` seeds, so a (type, params, seed) triple always gives the same
map.

Parameter ranges follow the issue and the authors' training terrains
(Roth et al., RSS 2025; docs/references.md: stairs 0.05-0.23 m, pillars, boxes, ramps, random grids,
walls); pits are an addition (the issue asks for falls), and so are passages
(corridors 1.2-2.0 m, doors 0.9-1.5 m anywhere along walls, clutter near the
openings), for tight places a 0.53 m wide body has to pass through.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray]  # heights [H, W] float32, obstacle [H, W] bool, pit [H, W] bool
ClearZones = tuple[tuple[float, float, float], ...]  # (x, y, radius) where random objects may not be placed


def _check(cond: bool, msg: str) -> None:
    if not cond:
        raise ValueError(msg)


@dataclass(frozen=True, kw_only=True)
class FlatParams:
    """Flat ground, optionally with small height noise."""

    noise_std: float = 0.0
    """Standard deviation of i.i.d. per-cell height noise (m); 0 gives a perfect plane."""

    def __post_init__(self) -> None:
        _check(0.0 <= self.noise_std <= 0.05, f"noise_std must be in [0, 0.05] m, got {self.noise_std}")


@dataclass(frozen=True, kw_only=True)
class SlopeParams:
    """A ramp along +x: flat, then inclined between x_start and x_end, then a plateau (or back down)."""

    angle_deg: float = 15.0
    """Inclination (deg); negative slopes down along +x. ANYmal D tips beyond ~40 deg in this surrogate."""
    x_start: float = -3.0
    """Where the incline starts (m, map frame)."""
    x_end: float = 3.0
    """Where the incline ends (m, map frame)."""
    shape: str = "ramp"
    """'ramp': plateau after x_end; 'hill': up to the middle of [x_start, x_end], then down again."""
    width: float = 0.0
    """Extent (m) along y of the inclined band, centred on y_center; 0 spans the whole map."""
    y_center: float = 0.0
    """Centre y (m) of the band when width > 0."""

    def __post_init__(self) -> None:
        _check(self.width >= 0.0, f"width must be >= 0, got {self.width}")
        _check(-70.0 <= self.angle_deg <= 70.0, f"angle_deg must be in [-70, 70], got {self.angle_deg}")
        _check(self.x_end > self.x_start, f"x_end ({self.x_end}) must exceed x_start ({self.x_start})")
        _check(self.shape in ("ramp", "hill"), f"shape must be 'ramp' or 'hill', got {self.shape!r}")


@dataclass(frozen=True, kw_only=True)
class StairsParams:
    """A straight staircase across the whole map width, climbing along +x."""

    rise: float = 0.15
    """Step height (m); the issue's range is 0.05-0.25, larger values make deadly stairs."""
    run: float = 0.35
    """Step depth (m)."""
    num_steps: int = 8
    """Steps per flight."""
    x_start: float = -3.0
    """x (m) of the first step edge."""
    direction: str = "up"
    """'up': climb along +x; 'down': start on the top plateau and descend along +x; 'updown': up, landing, down."""
    landing: float = 1.5
    """Length (m) of the top landing of an 'updown' staircase."""
    width: float = 0.0
    """Extent (m) along y of the staircase, centred on y_center; 0 spans the whole map."""
    y_center: float = 0.0
    """Centre y (m) of the staircase when width > 0."""

    def __post_init__(self) -> None:
        _check(self.width >= 0.0, f"width must be >= 0, got {self.width}")
        _check(0.0 < self.rise <= 0.6, f"rise must be in (0, 0.6] m, got {self.rise}")
        _check(0.1 <= self.run <= 2.0, f"run must be in [0.1, 2.0] m, got {self.run}")
        _check(1 <= self.num_steps <= 100, f"num_steps must be in [1, 100], got {self.num_steps}")
        _check(self.direction in ("up", "down", "updown"), f"direction must be up|down|updown, got {self.direction!r}")
        _check(self.landing > 0.0, f"landing must be > 0, got {self.landing}")


@dataclass(frozen=True, kw_only=True)
class RoughParams:
    """Random grid: square blocks of uniformly random height (Isaac Lab's 'random grid' terrain)."""

    block: float = 0.3
    """Edge length (m) of one block of constant height."""
    max_height: float = 0.1
    """Block heights are uniform in [0, max_height] (m); the issue's range is 0.05-0.25."""

    def __post_init__(self) -> None:
        _check(0.05 <= self.block <= 5.0, f"block must be in [0.05, 5] m, got {self.block}")
        _check(0.0 < self.max_height <= 0.6, f"max_height must be in (0, 0.6] m, got {self.max_height}")


@dataclass(frozen=True, kw_only=True)
class BoxesParams:
    """Randomly placed axis-aligned boxes, some low enough to step onto, some not."""

    num_boxes: int = 20
    """How many boxes to try to place (boxes overlapping a keep-clear zone are dropped)."""
    size_min: float = 0.4
    """Smallest box edge (m)."""
    size_max: float = 1.2
    """Largest box edge (m)."""
    height_min: float = 0.1
    """Lowest box (m)."""
    height_max: float = 0.5
    """Highest box (m)."""

    def __post_init__(self) -> None:
        _check(0 <= self.num_boxes <= 1000, f"num_boxes must be in [0, 1000], got {self.num_boxes}")
        _check(
            0.05 <= self.size_min <= self.size_max,
            f"need 0.05 <= size_min <= size_max, got {self.size_min}, {self.size_max}",
        )
        _check(0.0 < self.height_min <= self.height_max <= 3.0, "need 0 < height_min <= height_max <= 3 m")


@dataclass(frozen=True, kw_only=True)
class PillarsParams:
    """Randomly placed round pillars, much taller than the robot."""

    num_pillars: int = 30
    """How many pillars to try to place."""
    radius_min: float = 0.15
    """Smallest pillar radius (m)."""
    radius_max: float = 0.4
    """Largest pillar radius (m)."""
    height: float = 2.0
    """Pillar height (m)."""

    def __post_init__(self) -> None:
        _check(0 <= self.num_pillars <= 1000, f"num_pillars must be in [0, 1000], got {self.num_pillars}")
        _check(0.05 <= self.radius_min <= self.radius_max <= 3.0, "need 0.05 <= radius_min <= radius_max <= 3 m")
        _check(0.0 < self.height <= 5.0, f"height must be in (0, 5] m, got {self.height}")


@dataclass(frozen=True, kw_only=True)
class WallsParams:
    """Walls: random segments, a corridor along x, or a barrier across x with one opening."""

    layout: str = "random"
    """'random' segments, 'corridor' (two walls along x at y = +-corridor_width/2), or 'barrier' (a wall across x)."""
    height: float = 1.0
    """Wall height (m)."""
    thickness: float = 0.2
    """Wall thickness (m)."""
    num_walls: int = 8
    """Segments of the 'random' layout."""
    length_min: float = 2.0
    """Shortest random segment (m)."""
    length_max: float = 6.0
    """Longest random segment (m)."""
    corridor_width: float = 2.0
    """Free width (m) between the 'corridor' walls."""
    barrier_x: float = 0.0
    """x (m) of the 'barrier' wall."""
    gap_y: float = 4.0
    """Centre y (m) of the opening in the 'barrier' wall."""
    gap_width: float = 1.5
    """Width (m) of the opening in the 'barrier' wall; 0 closes it."""

    def __post_init__(self) -> None:
        _check(
            self.layout in ("random", "corridor", "barrier"),
            f"layout must be random|corridor|barrier, got {self.layout!r}",
        )
        _check(0.0 < self.height <= 5.0, f"height must be in (0, 5] m, got {self.height}")
        _check(0.05 <= self.thickness <= 2.0, f"thickness must be in [0.05, 2] m, got {self.thickness}")
        _check(0 <= self.num_walls <= 200, f"num_walls must be in [0, 200], got {self.num_walls}")
        _check(0.1 <= self.length_min <= self.length_max, "need 0.1 <= length_min <= length_max")
        _check(self.corridor_width > 0.0, f"corridor_width must be > 0, got {self.corridor_width}")
        _check(self.gap_width >= 0.0, f"gap_width must be >= 0, got {self.gap_width}")


@dataclass(frozen=True, kw_only=True)
class PitsParams:
    """Pits and gaps: random rectangular holes, or a trench across x with an optional bridge."""

    layout: str = "random"
    """'random' rectangular pits, or 'trench' (a gap across the whole width at x_center)."""
    depth: float = 1.0
    """Depth (m) below the ground plane."""
    num_pits: int = 8
    """Pits of the 'random' layout."""
    size_min: float = 0.5
    """Smallest pit edge (m)."""
    size_max: float = 2.0
    """Largest pit edge (m)."""
    x_center: float = 0.0
    """x (m) of the trench centre line."""
    width: float = 1.0
    """Trench width (m) along x."""
    bridge_y: float | None = None
    """Centre y (m) of a bridge over the trench; None for no bridge."""
    bridge_width: float = 1.2
    """Bridge width (m) along y."""

    def __post_init__(self) -> None:
        _check(self.layout in ("random", "trench"), f"layout must be random|trench, got {self.layout!r}")
        _check(0.05 <= self.depth <= 10.0, f"depth must be in [0.05, 10] m, got {self.depth}")
        _check(0 <= self.num_pits <= 500, f"num_pits must be in [0, 500], got {self.num_pits}")
        _check(0.1 <= self.size_min <= self.size_max, "need 0.1 <= size_min <= size_max")
        _check(self.width > 0.0 and self.bridge_width > 0.0, "width and bridge_width must be > 0")


@dataclass(frozen=True, kw_only=True)
class MixedParams:
    """Several terrain types in one map: square tiles, each of a random type with random parameters."""

    tile_size: float = 8.0
    """Tile edge (m); each tile holds one terrain type, sized to fit it."""
    types: tuple[str, ...] = ("flat", "slope", "stairs", "rough", "boxes", "pillars", "walls", "pits")
    """Types drawn for the tiles (uniformly)."""
    difficulty: float = 0.5
    """0..1: scales step heights, slopes and obstacle counts of the random tiles."""

    def __post_init__(self) -> None:
        _check(2.0 <= self.tile_size <= 100.0, f"tile_size must be in [2, 100] m, got {self.tile_size}")
        bad = [t for t in self.types if t not in GENERATORS or t == "mixed"]
        _check(bool(self.types) and not bad, f"types must be non-empty terrain types other than mixed, bad: {bad}")
        _check(0.0 <= self.difficulty <= 1.0, f"difficulty must be in [0, 1], got {self.difficulty}")


@dataclass(frozen=True, kw_only=True)
class PassagesParams:
    """Narrow passages: straight corridors, walls with doors anywhere along them, clutter near the openings."""

    corridors: int = 2
    """Corridors (two parallel walls, axis-aligned, random place and direction); an element that would overlap one
    placed before (1 m margin) is drawn again, up to 10 tries per element."""
    corridor_min: float = 1.2
    """Narrowest corridor (m, free width between the walls)."""
    corridor_max: float = 2.0
    """Widest corridor (m)."""
    corridor_length_min: float = 4.0
    """Shortest corridor (m)."""
    corridor_length_max: float = 10.0
    """Longest corridor (m)."""
    walls: int = 2
    """Walls with doors (axis-aligned, random place and direction)."""
    wall_length_min: float = 6.0
    """Shortest wall (m)."""
    wall_length_max: float = 14.0
    """Longest wall (m)."""
    doors_max: int = 2
    """Doors per wall: 1 to doors_max, each anywhere along the wall (not within 0.5 m of its ends)."""
    door_min: float = 0.9
    """Narrowest door (m)."""
    door_max: float = 1.5
    """Widest door (m)."""
    clutter: int = 2
    """Objects (low or high boxes, pillars) tried near each door and corridor mouth, 0.7 m to clutter_radius away
    and clear of the line through the opening (they narrow the way in, they do not close it)."""
    clutter_radius: float = 2.0
    """Largest distance (m) of clutter from a door or corridor mouth."""
    height: float = 1.0
    """Wall height (m)."""
    thickness: float = 0.2
    """Wall thickness (m)."""

    def __post_init__(self) -> None:
        _check(0 <= self.corridors <= 50 and 0 <= self.walls <= 50, "corridors and walls must be in [0, 50]")
        _check(0.5 <= self.corridor_min <= self.corridor_max <= 10.0, "need 0.5 <= corridor_min <= corridor_max <= 10")
        _check(0.5 <= self.door_min <= self.door_max <= 10.0, "need 0.5 <= door_min <= door_max <= 10 m")
        _check(
            1.0 <= self.corridor_length_min <= self.corridor_length_max,
            "need 1 <= corridor_length_min <= corridor_length_max",
        )
        _check(2.0 <= self.wall_length_min <= self.wall_length_max, "need 2 <= wall_length_min <= wall_length_max")
        _check(1 <= self.doors_max <= 10, f"doors_max must be in [1, 10], got {self.doors_max}")
        _check(0 <= self.clutter <= 20, f"clutter must be in [0, 20], got {self.clutter}")
        _check(0.7 < self.clutter_radius <= 10.0, f"clutter_radius must be in (0.7, 10] m, got {self.clutter_radius}")
        _check(0.0 < self.height <= 5.0, f"height must be in (0, 5] m, got {self.height}")
        _check(0.05 <= self.thickness <= 2.0, f"thickness must be in [0.05, 2] m, got {self.thickness}")


# --------------------------------------------------------------------------- generators


def _empty(X: np.ndarray) -> Arrays:
    return np.zeros(X.shape, np.float32), np.zeros(X.shape, bool), np.zeros(X.shape, bool)


def _clear(x: float, y: float, r: float, zones: ClearZones) -> bool:
    return all(math.hypot(x - zx, y - zy) > r + zr for zx, zy, zr in zones)


def _extent(X: np.ndarray, Y: np.ndarray) -> tuple[float, float, float, float]:
    return float(X.min()), float(X.max()), float(Y.min()), float(Y.max())


def gen_flat(X, Y, p: FlatParams, rng: np.random.Generator, zones: ClearZones) -> Arrays:
    h, obs, pit = _empty(X)
    if p.noise_std > 0:
        h += rng.normal(0.0, p.noise_std, X.shape).astype(np.float32)
    return h, obs, pit


def gen_slope(X, Y, p: SlopeParams, rng, zones) -> Arrays:
    h, obs, pit = _empty(X)
    grade = math.tan(math.radians(p.angle_deg))
    if p.shape == "ramp":
        h[:] = np.clip(X - p.x_start, 0.0, p.x_end - p.x_start) * grade
    else:
        mid, half = 0.5 * (p.x_start + p.x_end), 0.5 * (p.x_end - p.x_start)
        h[:] = np.clip(half - np.abs(X - mid), 0.0, None) * grade
    _band(h, Y, p.width, p.y_center)
    return h, obs, pit


def _band(h: np.ndarray, Y: np.ndarray, width: float, y_center: float) -> None:
    """Keep ``h`` only inside |y - y_center| <= width / 2 (no-op for width 0)."""
    if width > 0:
        h[np.abs(Y - y_center) > width / 2] = 0.0


def gen_stairs(X, Y, p: StairsParams, rng, zones) -> Arrays:
    h, obs, pit = _empty(X)
    flight = p.num_steps * p.run
    # Step k (1..num_steps) starts at x_start + (k-1) * run: floor counts the edges passed.
    up = np.clip(np.floor((X - p.x_start) / p.run) + 1.0, 0.0, p.num_steps) * p.rise
    if p.direction == "up":
        h[:] = up
    elif p.direction == "down":
        h[:] = p.num_steps * p.rise - up
    else:
        down_start = p.x_start + flight + p.landing
        down = np.clip(np.floor((X - down_start) / p.run) + 1.0, 0.0, p.num_steps) * p.rise
        h[:] = up - down
    _band(h, Y, p.width, p.y_center)
    return h, obs, pit


def gen_rough(X, Y, p: RoughParams, rng, zones) -> Arrays:
    h, obs, pit = _empty(X)
    x0, _, y0, _ = _extent(X, Y)
    bi = np.floor((X - x0) / p.block).astype(np.int64)
    bj = np.floor((Y - y0) / p.block).astype(np.int64)
    table = rng.uniform(0.0, p.max_height, (int(bi.max()) + 1, int(bj.max()) + 1)).astype(np.float32)
    h[:] = table[bi, bj]
    return h, obs, pit


def gen_boxes(X, Y, p: BoxesParams, rng, zones) -> Arrays:
    h, obs, pit = _empty(X)
    x0, x1, y0, y1 = _extent(X, Y)
    for _ in range(p.num_boxes):
        sx, sy = rng.uniform(p.size_min, p.size_max, 2)
        cx, cy = rng.uniform(x0 + sx / 2, x1 - sx / 2), rng.uniform(y0 + sy / 2, y1 - sy / 2)
        height = rng.uniform(p.height_min, p.height_max)
        if not _clear(cx, cy, 0.5 * math.hypot(sx, sy), zones):
            continue
        inside = (np.abs(X - cx) <= sx / 2) & (np.abs(Y - cy) <= sy / 2)
        h[inside] = np.maximum(h[inside], height)
        obs |= inside
    return h, obs, pit


def gen_pillars(X, Y, p: PillarsParams, rng, zones) -> Arrays:
    h, obs, pit = _empty(X)
    x0, x1, y0, y1 = _extent(X, Y)
    for _ in range(p.num_pillars):
        r = rng.uniform(p.radius_min, p.radius_max)
        cx, cy = rng.uniform(x0 + r, x1 - r), rng.uniform(y0 + r, y1 - r)
        if not _clear(cx, cy, r, zones):
            continue
        inside = (X - cx) ** 2 + (Y - cy) ** 2 <= r * r
        h[inside] = p.height
        obs |= inside
    return h, obs, pit


def _wall(X, Y, h, obs, xa, ya, xb, yb, height) -> None:
    """Axis-aligned wall covering the rectangle [xa, xb] x [ya, yb]."""
    inside = (xa <= X) & (xb >= X) & (ya <= Y) & (yb >= Y)
    h[inside] = height
    obs |= inside


def gen_walls(X, Y, p: WallsParams, rng, zones) -> Arrays:
    h, obs, pit = _empty(X)
    x0, x1, y0, y1 = _extent(X, Y)
    t = p.thickness / 2
    if p.layout == "corridor":
        for yc in (-p.corridor_width / 2 - t, p.corridor_width / 2 + t):
            _wall(X, Y, h, obs, x0, yc - t, x1, yc + t, p.height)
    elif p.layout == "barrier":
        lo, hi = p.gap_y - p.gap_width / 2, p.gap_y + p.gap_width / 2
        _wall(X, Y, h, obs, p.barrier_x - t, y0, p.barrier_x + t, lo, p.height)
        _wall(X, Y, h, obs, p.barrier_x - t, hi, p.barrier_x + t, y1, p.height)
    else:
        for _ in range(p.num_walls):
            length = rng.uniform(p.length_min, p.length_max)
            along_x = bool(rng.integers(0, 2))
            cx, cy = rng.uniform(x0, x1), rng.uniform(y0, y1)
            if not _clear(cx, cy, length / 2, zones):
                continue
            hx, hy = (length / 2, t) if along_x else (t, length / 2)
            _wall(X, Y, h, obs, cx - hx, cy - hy, cx + hx, cy + hy, p.height)
    return h, obs, pit


def gen_pits(X, Y, p: PitsParams, rng, zones) -> Arrays:
    h, obs, pit = _empty(X)
    x0, x1, y0, y1 = _extent(X, Y)
    if p.layout == "trench":
        inside = np.abs(X - p.x_center) <= p.width / 2
        if p.bridge_y is not None:
            inside &= np.abs(Y - p.bridge_y) > p.bridge_width / 2
        pit |= inside
    else:
        for _ in range(p.num_pits):
            sx, sy = rng.uniform(p.size_min, p.size_max, 2)
            cx, cy = rng.uniform(x0 + sx / 2, x1 - sx / 2), rng.uniform(y0 + sy / 2, y1 - sy / 2)
            if not _clear(cx, cy, 0.5 * math.hypot(sx, sy), zones):
                continue
            pit |= (np.abs(X - cx) <= sx / 2) & (np.abs(Y - cy) <= sy / 2)
    h[pit] = -p.depth
    return h, obs, pit


@dataclass(frozen=True)
class PassageLayout:
    """What ``gen_passages`` draws: boxes (xa, ya, xb, yb, height), pillars (x, y, r, height) and the openings.

    Each opening is (approach x, y, exit x, y): points ``a`` metres before and after it on
    the line through its centre, so a robot driving from one to the other passes through it.
    """

    boxes: list[tuple[float, float, float, float, float]]
    pillars: list[tuple[float, float, float, float]]
    openings: list[tuple[float, float, float, float]]


def passages_layout(p: PassagesParams, extent, rng: np.random.Generator, zones: ClearZones) -> PassageLayout:
    """The corridors, walls with doors and clutter of ``p`` inside ``extent`` (x0, x1, y0, y1)."""
    x0, x1, y0, y1 = extent
    t = p.thickness / 2
    boxes: list[tuple[float, float, float, float, float]] = []
    pillars: list[tuple[float, float, float, float]] = []
    openings: list[tuple[float, float, float, float]] = []

    def rect(along_x: bool, c_along: float, c_across: float, half_along: float, half_across: float, h: float):
        if along_x:
            return (c_along - half_along, c_across - half_across, c_along + half_along, c_across + half_across, h)
        return (c_across - half_across, c_along - half_along, c_across + half_across, c_along + half_along, h)

    def point(along_x: bool, along: float, across: float) -> tuple[float, float]:
        return (along, across) if along_x else (across, along)

    taken: list[tuple[float, float, float, float]] = []  # footprints (with their openings' ends) placed so far
    mouths: list[tuple[float, float, int]] = []  # where clutter goes: (x, y, index of the opening)

    def free(xa: float, ya: float, xb: float, yb: float, margin: float = 1.0) -> bool:
        """The box overlaps no element placed before (so no wall cuts through another's opening)."""
        return all(
            xb + margin < ta or xa - margin > tb or yb + margin < tya or ya - margin > tyb for ta, tya, tb, tyb in taken
        )

    def span(*pts: tuple[float, float]) -> tuple[float, float, float, float]:
        xs, ys = [q[0] for q in pts], [q[1] for q in pts]
        return min(xs), min(ys), max(xs), max(ys)

    placed, tries = 0, 0
    while placed < p.corridors and tries < 10 * max(1, p.corridors):
        tries += 1
        width = rng.uniform(p.corridor_min, p.corridor_max)
        length = rng.uniform(p.corridor_length_min, p.corridor_length_max)
        along_x = bool(rng.integers(0, 2))
        lo_a, hi_a, lo_c, hi_c = (x0, x1, y0, y1) if along_x else (y0, y1, x0, x1)
        length = min(length, hi_a - lo_a - 2.5)
        ca = rng.uniform(lo_a + length / 2 + 1.0, hi_a - length / 2 - 1.0)
        cc = rng.uniform(lo_c + width / 2 + 1.0, hi_c - width / 2 - 1.0)
        a = rng.uniform(1.0, 2.5)
        a = max(0.5, min(a, ca - length / 2 - lo_a - 0.5, hi_a - ca - length / 2 - 0.5))  # ends on the map
        ends = (ca - length / 2 - a, ca + length / 2 + a)
        if rng.integers(0, 2):
            ends = ends[::-1]
        box = span(point(along_x, ends[0], cc - width / 2 - 2 * t), point(along_x, ends[1], cc + width / 2 + 2 * t))
        if not _clear(*point(along_x, ca, cc), length / 2, zones) or not free(*box):
            continue
        taken.append(box)
        placed += 1
        for side in (-1.0, 1.0):
            boxes.append(rect(along_x, ca, cc + side * (width / 2 + t), length / 2, t, p.height))
        mouths += [(*point(along_x, ca + e * length / 2, cc), len(openings)) for e in (-1.0, 1.0)]
        openings.append((*point(along_x, ends[0], cc), *point(along_x, ends[1], cc)))
    placed, tries = 0, 0
    while placed < p.walls and tries < 10 * max(1, p.walls):
        tries += 1
        length = rng.uniform(p.wall_length_min, p.wall_length_max)
        along_x = bool(rng.integers(0, 2))  # the wall's direction; doors are passed across it
        lo_a, hi_a, lo_c, hi_c = (x0, x1, y0, y1) if along_x else (y0, y1, x0, x1)
        length = min(length, hi_a - lo_a - 2.0)
        ca = rng.uniform(lo_a + length / 2 + 1.0, hi_a - length / 2 - 1.0)
        cc = rng.uniform(lo_c + 3.0, hi_c - 3.0)
        doors = []
        for _ in range(int(rng.integers(1, p.doors_max + 1))):
            width = rng.uniform(p.door_min, p.door_max)
            centre = rng.uniform(ca - length / 2 + 0.5 + width / 2, ca + length / 2 - 0.5 - width / 2)
            if all(abs(centre - c) > (width + w) / 2 + 0.5 for c, w in doors):
                doors.append((centre, width))
        reach = [rng.uniform(1.0, 2.5) for _ in doors]
        sides = [1.0 if rng.integers(0, 2) else -1.0 for _ in doors]
        box = span(point(along_x, ca - length / 2, cc - 2.5), point(along_x, ca + length / 2, cc + 2.5))
        if not _clear(*point(along_x, ca, cc), length / 2, zones) or not free(*box):
            continue
        taken.append(box)
        placed += 1
        edges = [ca - length / 2] + [e for c, w in sorted(doors) for e in (c - w / 2, c + w / 2)] + [ca + length / 2]
        for lo, hi in zip(edges[0::2], edges[1::2], strict=True):
            boxes.append(rect(along_x, (lo + hi) / 2, cc, (hi - lo) / 2, t, p.height))
        for (centre, _), a, side in zip(doors, reach, sides, strict=True):
            mouths.append((*point(along_x, centre, cc), len(openings)))
            openings.append((*point(along_x, centre, cc - side * a), *point(along_x, centre, cc + side * a)))
    for mx, my, k in mouths:
        ax, ay, bx, by = openings[k]
        for _ in range(p.clutter):
            r, phi = rng.uniform(0.7, p.clutter_radius), rng.uniform(-math.pi, math.pi)
            ox, oy = mx + r * math.cos(phi), my + r * math.sin(phi)
            low = bool(rng.integers(0, 2))
            height = rng.uniform(0.08, 0.2) if low else rng.uniform(0.5, 1.0)
            square = bool(rng.integers(0, 2))
            size = rng.uniform(0.15, 0.35) if square else rng.uniform(0.1, 0.25)
            # Near the opening, not on its line: the way through narrows, it does not close.
            if not _clear(ox, oy, 0.4, zones) or _segment_distance(ox, oy, ax, ay, bx, by) < 0.45 + size * 1.5:
                continue
            if square:
                boxes.append((ox - size, oy - size, ox + size, oy + size, height))
            else:
                pillars.append((ox, oy, size, height))
    return PassageLayout(boxes, pillars, openings)


def _segment_distance(px: float, py: float, ax: float, ay: float, bx: float, by: float) -> float:
    """Distance from point p to the segment a-b."""
    dx, dy = bx - ax, by - ay
    u = min(1.0, max(0.0, ((px - ax) * dx + (py - ay) * dy) / max(dx * dx + dy * dy, 1e-12)))
    return math.hypot(px - ax - u * dx, py - ay - u * dy)


def gen_passages(X, Y, p: PassagesParams, rng, zones) -> Arrays:
    h, obs, pit = _empty(X)
    layout = passages_layout(p, _extent(X, Y), rng, zones)
    for xa, ya, xb, yb, height in layout.boxes:
        inside = (xa <= X) & (xb >= X) & (ya <= Y) & (yb >= Y)
        h[inside] = np.maximum(h[inside], height)
        obs |= inside
    for cx, cy, r, height in layout.pillars:
        inside = (X - cx) ** 2 + (Y - cy) ** 2 <= r * r
        h[inside] = np.maximum(h[inside], height)
        obs |= inside
    return h, obs, pit


def sample_params(kind: str, rng: np.random.Generator, extent: tuple[float, float], difficulty: float = 0.5) -> Any:
    """Random parameters of ``kind`` that fit a map of ``extent`` = (Lx, Ly) m, for datasets and mixed tiles.

    Ranges follow the authors' training terrains (Roth et al., RSS 2025; docs/references.md): stairs 0.05-0.23 m
    (we go to 0.25 m as the issue asks), random grids up to 0.25 m. ``difficulty``
    in [0, 1] scales heights, slopes and counts.
    """
    lx, ly = extent
    area = lx * ly
    d = 0.25 + 0.75 * difficulty
    if kind == "flat":
        return FlatParams(noise_std=float(rng.uniform(0.0, 0.01)))
    if kind == "slope":
        half = 0.4 * lx
        return SlopeParams(angle_deg=float(rng.uniform(5.0, 45.0 * d)), x_start=-half, x_end=half, shape="hill")
    if kind == "stairs":
        run = float(rng.uniform(0.33, 0.45))
        rise = float(rng.uniform(0.05, 0.05 + 0.2 * d))
        n = max(1, int((0.8 * lx - 1.0) / (2 * run)))
        return StairsParams(rise=rise, run=run, num_steps=n, x_start=-0.4 * lx, direction="updown", landing=1.0)
    if kind == "rough":
        return RoughParams(block=float(rng.uniform(0.2, 0.6)), max_height=float(rng.uniform(0.05, 0.05 + 0.2 * d)))
    if kind == "boxes":
        return BoxesParams(num_boxes=max(1, int(area / 12 * d)), height_min=0.05, height_max=0.1 + 0.6 * d)
    if kind == "pillars":
        return PillarsParams(num_pillars=max(1, int(area / 10 * d)))
    if kind == "walls":
        return WallsParams(
            layout="random", num_walls=max(1, int(area / 25 * d)), length_max=min(6.0, 0.6 * min(lx, ly))
        )
    if kind == "pits":
        return PitsParams(layout="random", num_pits=max(1, int(area / 30 * d)), size_max=min(2.0, 0.3 * min(lx, ly)))
    if kind == "passages":
        n = max(1, round(area / 150))  # a 30 m map: 6 corridors and 6 walls with doors
        return PassagesParams(
            corridors=n,
            walls=n,
            clutter=int(rng.integers(0, 4)),
            corridor_length_max=min(10.0, 0.5 * min(lx, ly)),
            wall_length_max=min(14.0, 0.7 * min(lx, ly)),
        )
    raise ValueError(f"no random parameters for terrain type {kind!r}")


def gen_mixed(X, Y, p: MixedParams, rng, zones) -> Arrays:
    h, obs, pit = _empty(X)
    x0, x1, y0, y1 = _extent(X, Y)
    nx = max(1, round((x1 - x0) / p.tile_size))
    ny = max(1, round((y1 - y0) / p.tile_size))
    tx, ty = (x1 - x0) / nx, (y1 - y0) / ny
    ti = np.clip(np.floor((X - x0) / tx), 0, nx - 1).astype(np.int64)
    tj = np.clip(np.floor((Y - y0) / ty), 0, ny - 1).astype(np.int64)
    for i in range(nx):
        for j in range(ny):
            kind = p.types[int(rng.integers(0, len(p.types)))]
            params = sample_params(kind, rng, (tx, ty), p.difficulty)
            sel = (ti == i) & (tj == j)
            cx, cy = x0 + (i + 0.5) * tx, y0 + (j + 0.5) * ty
            # Tiles are generated in their own centred frame so every type fits and starts at height 0.
            lx_, ly_ = X[sel] - cx, Y[sel] - cy
            local_zones = tuple((zx - cx, zy - cy, zr) for zx, zy, zr in zones)
            th, tobs, tpit = GENERATORS[kind][1](lx_, ly_, params, rng, local_zones)
            h[sel], obs[sel], pit[sel] = th, tobs, tpit
    return h, obs, pit


Generator = Callable[[np.ndarray, np.ndarray, Any, np.random.Generator, ClearZones], Arrays]

# Terrain type -> (parameter dataclass, generator). The order fixes the integer terrain ids in datasets.
GENERATORS: dict[str, tuple[type, Generator]] = {
    "flat": (FlatParams, gen_flat),
    "slope": (SlopeParams, gen_slope),
    "stairs": (StairsParams, gen_stairs),
    "rough": (RoughParams, gen_rough),
    "boxes": (BoxesParams, gen_boxes),
    "pillars": (PillarsParams, gen_pillars),
    "walls": (WallsParams, gen_walls),
    "pits": (PitsParams, gen_pits),
    "mixed": (MixedParams, gen_mixed),
    "passages": (PassagesParams, gen_passages),  # appended: the ids of the types above stay what they were
}
