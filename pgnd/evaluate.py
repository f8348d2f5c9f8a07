"""Held-out evaluation of PGND against the baselines: ``dynstack manip eval-model --json OUT``.

For every validation episode of a dataset (the split ``pgnd.train`` held
out), each method predicts 30 steps (3 s, the anchor's horizon) from the
ground-truth history at frame ``history``, driven by the recorded gripper
values; MDE, Chamfer and EMD (``pgnd.metrics``) are computed at every step.
Methods: the given PGND model(s) (e.g. the grid model and the particle-only
baseline), constant velocity, and rest (nothing moves). The JSON holds the
mean over episodes and the 30 steps, the value at the last step, and the
curve over the horizon; plots show the curves and 3-D snapshots.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dynamics_stack.checkpoint import ModelFileError
from dynamics_stack.config import ConfigError
from dynamics_stack.runtime import TorchRuntime, load_card
from pgnd import baselines
from pgnd.data import Episodes, load_episodes
from pgnd.metrics import chamfer, emd, mde
from pgnd.model import Pgnd
from sim.deformable_datagen import read_manifest

METRICS = {"mde": mde, "chamfer": chamfer, "emd": emd}
HORIZON = 30  # steps of 0.1 s (anchor: 3 s)


def load_model(card_path: str | Path) -> tuple[str, Pgnd]:
    """A verified PGND model from its card (SHA-256 checked by the runtime)."""
    card = load_card(card_path)
    if card.kind != "pgnd":
        raise ModelFileError(f"{card.path}: model kind is {card.kind!r}, not 'pgnd'")
    runtime = TorchRuntime(card)
    return card.name, runtime.model


TRUTHS = ("observed", "material")


def load_models(card_paths: list[str | Path]) -> dict[str, Pgnd]:
    """Verified models by name; two cards of one name (e.g. two training runs) are told apart by folder."""
    models: dict[str, Pgnd] = {}
    for path in card_paths:
        name, model = load_model(path)
        if name in models:
            name = f"{name} ({Path(path).parent.name or Path(path).parent})"
        if name in models:
            raise ValueError(f"model {name!r} given twice")
        models[name] = model
    return models


def predict_all(
    models: dict[str, Pgnd], ep: Episodes, history: int, horizon: int, truth: str = "observed"
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Ground truth [E, S, N, 3] and each method's prediction from frame ``history``.

    ``truth='observed'``: the future of the same particles the history holds (simulator vertices, or
    perceived particles); ``'material'`` (perceived datasets only): where the material under each
    perceived particle really went, from the simulator's vertices.
    """
    t0 = history
    if ep.frames < t0 + horizon + 1:
        raise ValueError(
            f"episodes have {ep.frames} frames; {history} history + {horizon} steps need {t0 + horizon + 1}"
        )
    if truth not in TRUTHS:
        raise ValueError(f"truth must be one of {TRUTHS}, got {truth!r}")
    if truth == "material" and ep.x_true is None:
        raise ConfigError(
            "truth 'material' needs a perceived dataset (dynstack manip perceive); this one holds vertices"
        )
    x_hist = ep.x[:, t0 - history : t0 + 1]
    grip = ep.gripper[:, t0 : t0 + horizon]
    future = ep.x if truth == "observed" else ep.x_true
    truth = future[:, t0 + 1 : t0 + horizon + 1]
    preds: dict[str, torch.Tensor] = {}
    for name, model in models.items():
        if model.cfg.num_particles != ep.x.shape[2]:
            raise ValueError(f"model {name} expects {model.cfg.num_particles} particles, the data has {ep.x.shape[2]}")
        model.eval()
        with torch.inference_mode():
            preds[name] = torch.cat([model.rollout(x_hist[i : i + 4], grip[i : i + 4]) for i in range(0, len(ep), 4)])
    preds["constant_velocity"] = baselines.constant_velocity(x_hist, horizon)
    preds["rest"] = baselines.rest(x_hist, horizon)
    return truth, preds


def score(truth: torch.Tensor, preds: dict[str, torch.Tensor]) -> dict[str, Any]:
    """Per method and metric: mean over episodes and steps, last step, and the per-step curve (m)."""
    out: dict[str, Any] = {}
    for name, pred in preds.items():
        entry: dict[str, Any] = {}
        for metric, fn in METRICS.items():
            per = fn(pred.double(), truth.double())  # [E, S]
            curve = per.mean(dim=0)
            entry[metric] = {
                "mean": float(per.mean()),
                "last": float(curve[-1]),
                "curve": [round(float(v), 6) for v in curve],
            }
        out[name] = entry
    return out


def evaluate(
    card_paths: list[str | Path],
    data_dir: str | Path,
    *,
    val_fraction: float = 0.2,
    split: str = "val",
    horizon: int = HORIZON,
    plots: str | Path | None = None,
    truth: str = "observed",
) -> dict[str, Any]:
    """Evaluate models + baselines on the held-out episodes of ``data_dir``; returns the JSON dict.

    ``split='val'``: the validation episodes of the training dataset (which also chose the best
    checkpoint); ``split='all'``: every episode of ``data_dir``, for a separate test dataset made with
    another seed, which nothing in training or model selection has seen.
    """
    models = load_models(card_paths)
    sizes = {m.cfg.num_particles for m in models.values()}
    if len(sizes) > 1:
        raise ValueError(f"models disagree on the particle count: {sorted(sizes)}")
    vertices = read_manifest(data_dir)["num_particles"]
    n = sizes.pop() if sizes else vertices
    # the models' particle count: every vertex, or as many farthest-point samples as in training
    ep = load_episodes(data_dir, split, val_fraction, 0 if n == vertices else n)
    history = max((m.cfg.history for m in models.values()), default=2)
    t = time.perf_counter()
    future, preds = predict_all(models, ep, history, horizon, truth)
    result = {
        "category": ep.category,
        "data": str(data_dir),
        "episodes": len(ep),
        "split": split,
        "input": "perceived" if ep.x_true is not None else "vertices",
        "truth": truth,
        "particles": int(ep.x.shape[2]),
        "horizon_steps": horizon,
        "dt": 0.1,
        "metric_definitions": {
            "mde": "mean L2 distance between corresponding particles (m)",
            "chamfer": "sum of the two mean nearest-neighbour distances, not squared (m)",
            "emd": "mean distance after optimal one-to-one (Hungarian) matching (m)",
        },
        "models": {name: str(p) for name, p in zip(models, card_paths, strict=True)},
        "methods": score(future, preds),
        "wall_s": round(time.perf_counter() - t, 1),
    }
    if plots is not None:
        plot_results(result, future, preds, Path(plots), ep.gripper[:, history : history + horizon])
    return result


def plot_results(
    result: dict[str, Any], truth: torch.Tensor, preds: dict[str, torch.Tensor], prefix: Path, grip: torch.Tensor
) -> list[Path]:
    """Error-vs-horizon curves and predicted-vs-true 3-D snapshots as PNGs named ``<prefix>_*.png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    prefix.parent.mkdir(parents=True, exist_ok=True)
    cat = result["category"]
    written = []
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    steps = np.arange(1, result["horizon_steps"] + 1) * result["dt"]
    for ax, metric in zip(axes, METRICS, strict=True):
        for name, entry in result["methods"].items():
            ax.plot(steps, np.array(entry[metric]["curve"]) * 100, label=name)
        ax.set_xlabel("horizon (s)")
        ax.set_ylabel(f"{metric} (cm)")
        ax.set_title(f"{cat}: {metric}")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    path = prefix.with_name(prefix.name + "_error_vs_horizon.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(path)

    # the episode where the truth moves most, at four horizons
    e = int((truth[:, -1] - truth[:, 0]).norm(dim=-1).mean(dim=-1).argmax())
    model_names = [n for n in preds if n not in ("constant_velocity", "rest")][:1] or ["constant_velocity"]
    shown = model_names[0]
    ks = [0, 9, 19, truth.shape[1] - 1]
    # one cube for all panels, metres on every axis alike, so shapes are not distorted
    both = torch.cat((truth[e], preds[shown][e]), dim=0).reshape(-1, 3)
    mid = (both.amax(0) + both.amin(0)) / 2
    half = float((both.amax(0) - both.amin(0))[:2].max()) / 2 + 0.02
    fig = plt.figure(figsize=(14, 3.8))
    for j, k in enumerate(ks):
        ax = fig.add_subplot(1, len(ks), j + 1, projection="3d")
        t_, p_ = truth[e, k].numpy(), preds[shown][e, k].numpy()
        ax.scatter(t_[:, 0], t_[:, 1], t_[:, 2], s=4, c="tab:blue", label="true")
        ax.scatter(p_[:, 0], p_[:, 1], p_[:, 2], s=4, c="tab:red", label=shown)
        g = grip[e, k, 0:3].numpy()
        ax.scatter([g[0]], [g[1]], [g[2]], s=40, c="k", marker="x", label="gripper")
        ax.set_title(f"t + {(k + 1) * 0.1:.1f} s")
        ax.set_xlim(float(mid[0]) - half, float(mid[0]) + half)
        ax.set_ylim(float(mid[1]) - half, float(mid[1]) + half)
        ax.set_zlim(0, 2 * half)
        ax.set_box_aspect((1, 1, 1))
        if j == 0:
            ax.legend(fontsize=7)
    fig.suptitle(f"{cat}: held-out episode {e}, predicted ({shown}) vs true")
    fig.tight_layout()
    path = prefix.with_name(prefix.name + "_snapshots.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(path)
    return written
