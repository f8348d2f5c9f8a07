"""Evaluation of a shipped FDM: ``dynstack nav eval-model --data DIR --model CARD --json OUT``.

Runs the model through the runtime interface (torch or ONNX backend) on the
held-out windows (terrain seeds never seen in training), and reports per
terrain type and overall: final and mean position error and final heading
error of the model and of the constant-velocity baseline, their ratio, and
failure precision / recall / AUROC at the planner's threshold. Other models
(the proprio-only ablation) can be evaluated on the same windows with
``--compare NAME=CARD``. Writes the JSON and two plots: error vs horizon, and
predicted vs true trajectories over the height scan.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from dynamics_stack.atomic import atomic_path, atomic_write_json
from dynamics_stack.runtime import ModelRuntime
from fdm_nav.critics import RiskCfg
from fdm_nav.data import WindowTensors
from fdm_nav.metrics import constant_velocity_poses, failure_metrics, pose_errors, summarize
from fdm_nav.observation import SCAN_X, SCAN_Y

FAILURE_THRESHOLD = RiskCfg().threshold  # the planner's hard-risk threshold: metrics are judged where it acts
ANCHOR_THRESHOLD = 0.5  # the authors' threshold (Roth et al., RSS 2025; docs/references.md), reported alongside


def predict(runtime: ModelRuntime, data: WindowTensors, batch: int = 512, progress: bool = False):
    """Predicted poses [W, T, 3] and failure probabilities [W, T] through ``runtime``."""
    poses, probs = [], []
    n = len(data)
    for start in tqdm(range(0, n, batch), desc=f"predicting ({runtime.backend})", disable=not progress):
        b = data.select(torch.arange(start, min(start + batch, n)))
        (context,) = runtime.run_torch("encode_context", b.proprio, b.state, b.height_scan)
        p, f = runtime.run_torch("rollout", context, b.commands)
        poses.append(p.cpu())
        probs.append(f.cpu())
    return torch.cat(poses), torch.cat(probs)


def _group_metrics(pred, prob, data: WindowTensors, cv, mask) -> dict[str, Any]:
    pos, head = pose_errors(pred[mask], data.poses[mask])
    cv_pos, cv_head = pose_errors(cv[mask], data.poses[mask])
    model, baseline = summarize(pos, head), summarize(cv_pos, cv_head)
    label = (data.failure[mask].max(dim=1).values > 0.5).numpy()
    score = prob[mask].max(dim=1).values.numpy()
    return {
        "windows": int(mask.sum()),
        "model": model,
        "constant_velocity": baseline,
        "ratio_final_position": model["final_position_error"] / max(baseline["final_position_error"], 1e-9),
        "ratio_mean_position": model["mean_position_error"] / max(baseline["mean_position_error"], 1e-9),
        "failure": failure_metrics(score, label, FAILURE_THRESHOLD) | {"threshold": FAILURE_THRESHOLD},
        "failure_at_anchor_threshold": failure_metrics(score, label, ANCHOR_THRESHOLD)
        | {"threshold": ANCHOR_THRESHOLD},
    }


def evaluate(runtime: ModelRuntime, data: WindowTensors, step_dt: float, progress: bool = False) -> dict[str, Any]:
    """Metrics overall and per terrain type, plus error-vs-horizon curves."""
    pred, prob = predict(runtime, data, progress=progress)
    cv = constant_velocity_poses(data.commands, step_dt)
    everything = torch.ones(len(data), dtype=torch.bool)
    result: dict[str, Any] = {"overall": _group_metrics(pred, prob, data, cv, everything), "per_terrain": {}}
    for t, name in enumerate(data.terrain_names):
        mask = data.terrain_type == t
        if mask.any():
            result["per_terrain"][name] = _group_metrics(pred, prob, data, cv, mask)
    pos, _ = pose_errors(pred, data.poses)
    cv_pos, _ = pose_errors(cv, data.poses)
    result["error_vs_horizon"] = {
        "t_s": [step_dt * (i + 1) for i in range(pos.shape[1])],
        "model": pos.mean(0).tolist(),
        "constant_velocity": cv_pos.mean(0).tolist(),
    }
    return result, pred, prob


def plot_error_vs_horizon(curves: dict[str, dict[str, Any]], path: Path) -> None:
    """Mean position error over the horizon for each evaluated model and the baseline."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4))
    first = next(iter(curves.values()))
    ax.plot(first["t_s"], first["constant_velocity"], "--", color="gray", label="constant velocity")
    for name, c in curves.items():
        ax.plot(c["t_s"], c["model"], "-o", ms=3, label=name)
    ax.set_xlabel("prediction horizon [s]")
    ax.set_ylabel("mean position error [m]")
    ax.set_title("FDM position error vs horizon (held-out terrain seeds)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    _save(fig, path)


def plot_trajectories(data: WindowTensors, pred: torch.Tensor, prob: torch.Tensor, step_dt: float, path: Path) -> None:
    """A few windows (failing and not, several terrains): true, predicted and CV paths over the scan."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cv = constant_velocity_poses(data.commands, step_dt)
    fails = (data.failure.max(dim=1).values > 0.5).nonzero().flatten()
    fine = (data.failure.max(dim=1).values <= 0.5).nonzero().flatten()
    g = torch.Generator().manual_seed(0)
    pick = torch.cat(
        [fails[torch.randperm(len(fails), generator=g)[:3]], fine[torch.randperm(len(fine), generator=g)[:3]]]
    )
    fig, axes = plt.subplots(2, 3, figsize=(12, 7.5))
    extent = (float(SCAN_X[0]) - 0.05, float(SCAN_X[-1]) + 0.05, float(SCAN_Y[-1]) - 0.05, float(SCAN_Y[0]) + 0.05)
    for ax, i in zip(axes.flat, pick.tolist(), strict=False):
        # Scan value = base height - terrain - 0.5: negate so higher terrain is brighter.
        ax.imshow(-data.height_scan[i].numpy(), extent=extent, cmap="terrain", origin="upper", vmin=-1.5, vmax=1.0)
        for poses, style, label in (
            (data.poses[i], "k-o", "true"),
            (pred[i], "r-o", "FDM"),
            (cv[i], "b--", "const. vel."),
        ):
            p = np.concatenate([[[0.0, 0.0]], poses[:, :2].numpy()])
            ax.plot(p[:, 0], p[:, 1], style, ms=2.5, lw=1.4, label=label)
        name = data.terrain_names[int(data.terrain_type[i])] if data.terrain_names else "?"
        failed = bool(data.failure[i].max() > 0.5)
        ax.set_title(f"{name}: {'fails' if failed else 'safe'}, predicted risk {float(prob[i].max()):.2f}", fontsize=9)
        ax.set_xlim(-1.0, 8.0)
        ax.set_ylim(-4.0, 4.0)
        ax.set_aspect("equal")
    axes.flat[0].legend(fontsize=7, loc="lower left")
    fig.suptitle("Predicted vs true trajectories over the height scan (base frame, 5 s)")
    fig.tight_layout()
    _save(fig, path)


def _save(fig, path: Path) -> None:
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def write_report(path: Path, report: dict[str, Any]) -> None:
    """Write the report as strict JSON (an undefined metric, e.g. AUROC with one class, becomes null)."""
    atomic_write_json(path, json_safe(report))


def json_safe(value: Any) -> Any:
    """Replace NaN/inf floats by None, recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value
