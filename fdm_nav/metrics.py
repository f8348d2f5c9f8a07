"""Prediction metrics of the FDM and its constant-velocity baseline (Roth et al., RSS 2025; docs/references.md).

- position error: L2 distance of predicted to true (x, y), per step; "final" is
  the last step, "mean" the average over the horizon
- heading error: absolute wrapped yaw difference in degrees
- constant-velocity baseline: perfect command tracking, i.e. the commands
  integrated in SE(2) (what the heuristic planner assumes)
- failure: a window fails when any step fails; the model's score is its largest
  per-step probability; precision and recall at the planner's threshold, AUROC
  (Mann-Whitney U, ties counted half)
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from fdm_nav.se2 import integrate_body_velocities, wrap_angle


def constant_velocity_poses(commands: Tensor, step_dt: float) -> Tensor:
    """Poses [B, T, 3] of a robot that tracks every command perfectly."""
    return integrate_body_velocities(commands, step_dt)


def pose_errors(pred: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """Per-step position error [B, T] (m) and heading error [B, T] (deg)."""
    pos = torch.linalg.vector_norm(pred[..., :2] - target[..., :2], dim=-1)
    head = wrap_angle(pred[..., 2] - target[..., 2]).abs().rad2deg()
    return pos, head


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve; NaN when only one class is present."""
    labels = labels.astype(bool)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores), dtype=np.float64)
    sorted_scores = scores[order]
    # average ranks over ties
    _, first_idx, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    avg = first_idx + (counts - 1) / 2.0 + 1.0
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def failure_metrics(prob: np.ndarray, label: np.ndarray, threshold: float) -> dict[str, float]:
    """Precision, recall and AUROC of window-level failure scores ``prob`` [W] vs ``label`` [W]."""
    pred = prob > threshold
    label = label.astype(bool)
    tp = int((pred & label).sum())
    return {
        "precision": tp / max(int(pred.sum()), 1),
        "recall": tp / max(int(label.sum()), 1),
        "auroc": auroc(prob, label),
        "positives": int(label.sum()),
        "windows": int(label.size),
    }


def summarize(pos_err: Tensor, head_err: Tensor) -> dict[str, float]:
    """Final and mean position error (m), final heading error (deg) over windows."""
    return {
        "final_position_error": float(pos_err[:, -1].mean()),
        "mean_position_error": float(pos_err.mean()),
        "final_heading_error_deg": float(head_err[:, -1].mean()),
    }
