"""One picture of a whole benchmark: every scenario's height map with each planner's executed paths.

A grid of small panels, one per scenario, drawn from the benchmark report
(trajectories are stored in it) and the scenario files it names. A path is
solid when the episode succeeded, dashed on a timeout, and ends in a cross at
a failure; the panel title gives each planner's outcome.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from sim.scenario import load_scenario
from sim.terrain import build_terrain

PLANNER_COLOURS = {"fdm": "tab:blue", "heuristic": "tab:orange", "oracle": "tab:green"}
OUTCOME_MARK = {"success": "ok", "failure": "FAIL", "timeout": "time", None: "-"}


def write_overview(report: dict[str, Any], out: Path, columns: int = 6, panel: float = 2.6) -> Path:
    """Draw every scenario of ``report`` into one PNG at ``out``."""
    names = list(report["scenarios"])
    rows = max(1, math.ceil(len(names) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(columns * panel, rows * (panel + 0.35)), squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for ax, name in zip(axes.flat, names, strict=False):
        entry = report["scenarios"][name]
        scenario = load_scenario(entry["file"])
        _draw_panel(ax, scenario, entry)
    handles = [plt.Line2D([], [], color=PLANNER_COLOURS.get(p, "k"), lw=2, label=p) for p in report["planners"]]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=70)
    plt.close(fig)
    return out


def _draw_panel(ax, scenario, entry: dict[str, Any]) -> None:
    hm = build_terrain(scenario.terrain)
    x0, x1, y0, y1 = hm.extent
    heights = np.where(hm.pit.cpu().numpy(), np.nan, hm.heights.cpu().numpy())
    # Grey terrain (flat ground mid-grey, high white, pits black) so the coloured paths stand out.
    ax.imshow(heights.T, origin="lower", extent=(x0, x1, y0, y1), cmap="gray", vmin=-0.8, vmax=1.0)
    ax.imshow(np.where(hm.pit.cpu().numpy(), 0.0, np.nan).T, origin="lower", extent=(x0, x1, y0, y1), cmap="gray")
    ax.plot([scenario.start.x], [scenario.start.y], "o", color="white", markersize=4)
    ax.plot([scenario.goal.x], [scenario.goal.y], "*", color="tab:red", markersize=9)
    marks = []
    for planner, result in entry["planners"].items():
        colour = PLANNER_COLOURS.get(planner, "k")
        if "skipped" in result:
            marks.append(f"{planner[0].upper()}:skip")
            continue
        for episode in result["episodes_detail"]:
            path = np.asarray(episode["trajectory"], dtype=np.float32).reshape(-1, 3)
            style = "--" if episode["outcome"] == "timeout" else "-"
            ax.plot(path[:, 0], path[:, 1], style, color=colour, lw=1.4)
            if episode["outcome"] == "failure" and len(path):
                ax.plot(path[-1, 0], path[-1, 1], "x", color="red", markersize=8, mew=2)
        outcomes = [e["outcome"] for e in result["episodes_detail"]]
        marks.append(f"{planner[0].upper()}:{'/'.join(OUTCOME_MARK.get(o, o) for o in outcomes)}")
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    ax.set_title(f"{scenario.name}\n{'  '.join(marks)}", fontsize=7)
