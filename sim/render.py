"""Top-down pictures of scenarios: height map, obstacles and pits, start, goal and trajectories.

Trajectory files: ``.npy`` [T, >=2] (x, y[, yaw]); ``.csv`` rows ``x,y[,yaw]``
(an optional header line is skipped); ``.json`` either a list of [x, y, ...]
or an object with ``"poses"`` (list of [x, y, ...]) or ``"x"``/``"y"`` lists.
All coordinates in the map frame (m).
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap

from dynamics_stack.atomic import atomic_path
from dynamics_stack.config import ConfigError
from sim.height_map import HeightMap
from sim.platform import load_platform
from sim.scenario import Scenario
from sim.terrain import build_terrain


def load_trajectory(path: str | Path) -> np.ndarray:  # -> [T, 2]
    """Read a trajectory file (formats in the module docstring) as (x, y) rows."""
    path = Path(path)
    try:
        if path.suffix == ".npy":
            arr = np.load(path, allow_pickle=False)
        elif path.suffix == ".csv":
            lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
            if lines and not lines[0].lstrip()[0].isdigit() and lines[0].lstrip()[0] not in "-+.":
                lines = lines[1:]
            arr = np.array([[float(v) for v in ln.split(",")] for ln in lines])
        elif path.suffix == ".json":
            data = json.loads(path.read_text())
            if isinstance(data, dict) and "poses" in data:
                data = data["poses"]
            elif isinstance(data, dict) and "x" in data and "y" in data:
                data = list(zip(data["x"], data["y"], strict=True))
            arr = np.asarray(data, dtype=np.float64)
        else:
            raise ConfigError(f"{path}: unknown trajectory format (use .npy, .csv or .json)")
    except FileNotFoundError:
        raise
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(f"{path}: cannot read trajectory: {exc}") from exc
    if arr.ndim != 2 or arr.shape[1] < 2 or arr.shape[0] < 1:
        raise ConfigError(f"{path}: trajectory must be [T, >=2] (x, y, ...), got shape {arr.shape}")
    if not np.isfinite(arr[:, :2]).all():
        raise ConfigError(f"{path}: trajectory contains NaN or Inf")
    return arr[:, :2].astype(np.float64)


def render_scenario(
    scenario: Scenario,
    out: str | Path,
    trajectories: list[np.ndarray] | None = None,
    labels: list[str] | None = None,
    height_map: HeightMap | None = None,
    dpi: int = 120,
) -> Path:
    """Write a PNG of ``scenario`` (and optional (x, y) trajectories) to ``out``."""
    hm = height_map if height_map is not None else build_terrain(scenario.terrain)
    platform = load_platform(scenario.platform)
    h = hm.heights.cpu().numpy()
    x0, x1, y0, y1 = hm.extent
    fig, ax = plt.subplots(figsize=(7.0, 6.0 * (y1 - y0) / max(1e-6, x1 - x0) + 0.8))
    shown = np.where(hm.pit.cpu().numpy(), np.nan, h)
    vmin, vmax = (
        float(np.nanmin(shown)) if np.isfinite(shown).any() else 0.0,
        float(np.nanmax(shown)) if np.isfinite(shown).any() else 1.0,
    )
    im = ax.imshow(
        shown.T, origin="lower", extent=(x0, x1, y0, y1), cmap="terrain", vmin=min(vmin, -0.05), vmax=max(vmax, 0.3)
    )
    ax.imshow(
        np.where(hm.pit.cpu().numpy(), 1.0, np.nan).T,
        origin="lower",
        extent=(x0, x1, y0, y1),
        cmap=ListedColormap(["black"]),
    )
    obst = hm.obstacle.cpu().numpy()
    if obst.any():
        ax.contour(
            obst.T.astype(float),
            levels=[0.5],
            origin="lower",
            extent=(x0, x1, y0, y1),
            colors="dimgray",
            linewidths=0.6,
        )
    fig.colorbar(im, ax=ax, label="height (m); black = pit", shrink=0.8)
    s, g = scenario.start, scenario.goal
    L, W = platform.length, platform.width
    c, sn = np.cos(s.yaw), np.sin(s.yaw)
    box = np.array([[L / 2, W / 2], [L / 2, -W / 2], [-L / 2, -W / 2], [-L / 2, W / 2], [L / 2, W / 2]])
    ax.plot(s.x + c * box[:, 0] - sn * box[:, 1], s.y + sn * box[:, 0] + c * box[:, 1], color="white", lw=1.5)
    ax.annotate(
        "",
        xy=(s.x + 0.9 * c, s.y + 0.9 * sn),
        xytext=(s.x, s.y),
        arrowprops={"arrowstyle": "->", "color": "white", "lw": 2},
    )
    ax.add_patch(plt.Circle((g.x, g.y), g.tolerance, fill=False, color="tab:red", lw=2))
    ax.plot([g.x], [g.y], marker="*", color="tab:red", markeredgecolor="white", markersize=16, ls="", label="goal")
    ax.plot([s.x], [s.y], marker="o", color="tab:blue", markeredgecolor="white", markersize=9, ls="", label="start")
    for i, traj in enumerate(trajectories or []):
        label = labels[i] if labels and i < len(labels) else f"trajectory {i}"
        ax.plot(traj[:, 0], traj[:, 1], lw=1.8, label=label)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
    ax.set_title(f"{scenario.name}  ({scenario.terrain.type}, {scenario.platform}, {scenario.time_limit:g} s)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=4, fontsize=8, frameon=False)
    out = Path(out)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return out
