"""``dynstack manip eval-render``: predicted futures rendered with splats and compared with the camera frames.

For each held-out episode of a perceived dataset (``dynstack manip perceive``):

1. one splat set is fitted to the cameras' frame at t0 = ``history`` (``pgnd.splats.fit``)
   and bound to the perceived particles of that frame (``pgnd.splats.skinning``);
2. every method predicts the particles 3 s ahead from the perceived history and the recorded
   gripper (the PGND models given, constant velocity; ``tracked``, the perceived particles of
   the future frames themselves, is the ceiling of splats + skinning given the tracker);
3. the splats, carried by each method's particles, are rendered with the evaluation cameras and
   compared with the frames: PSNR, SSIM, mask IoU and boundary F (``pgnd.image_metrics``) on
   object-only images (the frame with everything but the object blacked out, against the
   render over black). Pixels the gripper covers count for no method: the splats model only
   the object. PSNR and SSIM run over the whole frame, so their absolute values include the
   black background both images share; the comparison between methods is what they are for.

The JSON holds the mean over episodes and steps, the curves over the horizon, per-episode
values and the paired per-episode differences of the first model to every other method with
bootstrap 95 % intervals. Plots: the metrics against the horizon, and a strip of rendered
frames per method next to the truth.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from dynamics_stack.camera import rig_from_dict
from dynamics_stack.config import ConfigError
from pgnd.data import load_episodes
from pgnd.evaluate import load_models, predict_all
from pgnd.image_metrics import boundary_f, mask_iou, psnr, ssim
from pgnd.splats.fit import SplatFitCfg, fit_splats
from pgnd.splats.render import render_view
from pgnd.splats.skinning import bind, deform
from sim.deformable_cameras import LABEL_GRIPPER, LABEL_OBJECT
from sim.deformable_datagen import load_frames, read_manifest

METRICS = ("psnr", "ssim", "iou", "boundary_f")
HIGHER_IS_BETTER = True  # every image metric here
BOOTSTRAP = 2000


def frame_metrics(render: dict[str, torch.Tensor], rgb: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """The four metrics of one render against one camera frame (rgb uint8 [H, W, 3], labels [H, W])."""
    obj = labels == LABEL_OBJECT
    keep = labels != LABEL_GRIPPER
    true = torch.from_numpy(rgb * (obj & keep)[..., None] / 255.0).float()
    k = torch.from_numpy(keep.astype(np.float32))
    pred = render["rgb"].detach().float().clamp(0, 1) * k[..., None]
    pred_mask = (render["alpha"].detach().numpy() > 0.5) & keep
    return {
        "psnr": float(psnr(pred, true)),
        "ssim": float(ssim(pred, true)),
        "iou": mask_iou(pred_mask, obj & keep),
        "boundary_f": boundary_f(pred_mask, obj & keep),
    }


def paired_bootstrap(a: np.ndarray, b: np.ndarray, seed: int = 0) -> dict[str, float]:
    """Mean of a - b over episodes with a bootstrap 95 % interval, and how often a > b."""
    d = a - b
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, len(d), size=(BOOTSTRAP, len(d)))].mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return {"mean": float(d.mean()), "ci95": [float(lo), float(hi)], "wins": int((d > 0).sum()), "episodes": len(d)}


def evaluate_renders(
    card_paths: list[str | Path],
    data_dir: str | Path,
    *,
    split: str = "all",
    val_fraction: float = 0.2,
    horizon: int = 30,
    episodes: int | None = None,
    cameras: tuple[int, ...] = (0,),
    step_every: int = 1,
    fit: SplatFitCfg | None = None,
    plots: str | Path | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Render-metric report (JSON dict) of the models and baselines on a perceived dataset."""
    data_dir = Path(data_dir)
    manifest = read_manifest(data_dir)
    if "perception" not in manifest:
        raise ConfigError(f"{data_dir}: eval-render needs a perceived dataset (dynstack manip perceive)")
    source = Path(manifest["perception"]["source"])
    src_manifest = read_manifest(source)
    rig = rig_from_dict(src_manifest["cameras"], str(source))
    bad = [c for c in cameras if not 0 <= c < len(rig)]
    if bad:
        raise ConfigError(f"evaluation camera(s) {bad} not in the rig of {len(rig)} cameras")
    models = load_models(card_paths)
    ep = load_episodes(data_dir, split, val_fraction)
    if episodes is not None:
        keep = slice(0, min(episodes, len(ep)))
        ep = type(ep)(
            x=ep.x[keep], gripper=ep.gripper[keep], params=ep.params[keep], action=ep.action[keep],
            category=ep.category, x_true=None if ep.x_true is None else ep.x_true[keep], origin=ep.origin[keep],
        )  # fmt: skip
    history = max((m.cfg.history for m in models.values()), default=2)
    _, preds = predict_all(models, ep, history, horizon)
    preds.pop("rest")
    preds["tracked"] = ep.x[:, history + 1 : history + 1 + horizon]
    names = list(preds)
    steps = list(range(step_every - 1, horizon, step_every))  # index s = frame t0 + s + 1
    shards = {s["index"]: s for s in src_manifest["shards"]}
    fit = fit or SplatFitCfg()
    per_ep = {n: {m: np.zeros((len(ep), len(steps))) for m in METRICS} for n in names}
    strip: dict[str, Any] = {}
    t_start = time.perf_counter()
    fit_s = []
    frames_cache: dict[int, list[dict[str, np.ndarray]]] = {}
    for i in tqdm(range(len(ep)), desc="manip eval-render", unit="episode", disable=not progress):
        shard, e = ep.origin[i]
        if shard not in frames_cache:
            frames_cache.clear()  # one shard's frames at a time
            frames_cache[shard] = load_frames(source, shards[shard], src_manifest)
        fr = frames_cache[shard][e]
        t0 = history
        tf = time.perf_counter()
        splats, _ = fit_splats(
            fr["rgb"][t0],
            fr["depth"][t0],
            fr["labels"][t0] == LABEL_OBJECT,
            rig,
            fit,
            occluders=fr["labels"][t0] == LABEL_GRIPPER,
        )
        fit_s.append(time.perf_counter() - tf)
        skin = bind(splats, ep.x[i, t0].float())
        for name in names:
            for j, s in enumerate(steps):
                moved = deform(splats, skin, preds[name][i, s].float())
                vals = []
                for c in cameras:
                    out = render_view(moved, rig[c])
                    vals.append(frame_metrics(out, fr["rgb"][t0 + s + 1, c], fr["labels"][t0 + s + 1, c]))
                    if i == 0 and c == cameras[0]:
                        strip.setdefault(name, {})[s] = out["rgb"].detach().clamp(0, 1).numpy()
                        strip.setdefault("truth", {})[s] = (
                            fr["rgb"][t0 + s + 1, c] * (fr["labels"][t0 + s + 1, c] == LABEL_OBJECT)[..., None] / 255.0
                        )
                for m in METRICS:
                    per_ep[name][m][i, j] = np.mean([v[m] for v in vals])
    dt = float(manifest["dt"])
    first = names[0]
    result: dict[str, Any] = {
        "category": ep.category,
        "data": str(data_dir),
        "frames_from": str(source),
        "episodes": len(ep),
        "split": split,
        "horizon_steps": horizon,
        "steps_scored": [s + 1 for s in steps],
        "dt": dt,
        "cameras": [rig[c].name for c in cameras],
        "fit": {
            "gaussians_max": fit.gaussians,
            "iterations": fit.iterations,
            "mean_fit_s": round(float(np.mean(fit_s)), 2),
        },
        "metric_definitions": {
            "psnr": "10 log10(1 / MSE) over the whole object-only frame in [0, 1] (dB)",
            "ssim": "Gaussian-window SSIM (sigma 1.5, 11 px), mean over the frame's valid windows and channels",
            "iou": "IoU of render alpha > 0.5 and the object mask",
            "boundary_f": "DAVIS boundary F, tolerance ceil(0.008 x image diagonal) px",
            "excluded": "pixels covered by the gripper, in every method",
            "lpips": "not computed: its backbone weights cannot be downloaded here",
        },
        "models": {name: str(p) for name, p in zip(models, card_paths, strict=True)},
        "methods": {
            n: {
                m: {
                    "mean": float(per_ep[n][m].mean()),
                    "last": float(per_ep[n][m][:, -1].mean()),
                    "curve": [round(float(v), 5) for v in per_ep[n][m].mean(axis=0)],
                    "per_episode": [round(float(v), 5) for v in per_ep[n][m].mean(axis=1)],
                }
                for m in METRICS
            }
            for n in names
        },
        "paired_vs_first": {
            other: {m: paired_bootstrap(per_ep[first][m].mean(axis=1), per_ep[other][m].mean(axis=1)) for m in METRICS}
            for other in names[1:]
        },
        "first": first,
        "wall_s": round(time.perf_counter() - t_start, 1),
    }
    if plots is not None:
        plot_render_results(result, strip, Path(plots))
    return result


def plot_render_results(result: dict[str, Any], strip: dict[str, dict[int, np.ndarray]], prefix: Path) -> list[Path]:
    """``<prefix>_render_metrics.png`` (metrics vs horizon) and ``<prefix>_render_strip.png`` (frames)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    prefix.parent.mkdir(parents=True, exist_ok=True)
    written = []
    t = np.array(result["steps_scored"]) * result["dt"]
    fig, axes = plt.subplots(1, len(METRICS), figsize=(15, 3.4))
    for ax, m in zip(axes, METRICS, strict=True):
        for name, entry in result["methods"].items():
            ax.plot(t, entry[m]["curve"], label=name, ls="--" if name == "tracked" else "-")
        ax.set_xlabel("horizon (s)")
        ax.set_title(f"{result['category']}: {m}")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    path = prefix.with_name(prefix.name + "_render_metrics.png")
    fig.savefig(path, dpi=100)
    plt.close(fig)
    written.append(path)

    if strip:
        rows = ["truth", *[n for n in result["methods"] if n != "tracked"], "tracked"]
        scored = sorted(strip["truth"])
        cols = sorted({min(scored, key=lambda s, k=k: abs(s + 1 - k)) for k in (5, 10, 20, 30)})  # ~0.5, 1, 2, 3 s
        truth_stack = np.stack([strip["truth"][s] for s in cols])
        mask = truth_stack.sum(axis=(0, 3)) > 0
        ys, xs = np.nonzero(mask)
        pad = 20
        if len(ys):
            y0, y1 = max(0, ys.min() - pad), min(mask.shape[0], ys.max() + pad)
            x0, x1 = max(0, xs.min() - pad), min(mask.shape[1], xs.max() + pad)
        else:
            y0, y1, x0, x1 = 0, mask.shape[0], 0, mask.shape[1]
        fig, axes = plt.subplots(len(rows), len(cols), figsize=(2.6 * len(cols), 2.2 * len(rows)), squeeze=False)
        for r, name in enumerate(rows):
            for c, s in enumerate(cols):
                ax = axes[r][c]
                ax.imshow(strip[name][s][y0:y1, x0:x1])
                ax.set_xticks([])
                ax.set_yticks([])
                if r == 0:
                    ax.set_title(f"t + {(s + 1) * result['dt']:.1f} s")
                if c == 0:
                    ax.set_ylabel(name, fontsize=9)
        fig.suptitle(f"{result['category']}: rendered predictions vs camera frame (episode 0, {result['cameras'][0]})")
        fig.tight_layout()
        path = prefix.with_name(prefix.name + "_render_strip.png")
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)
    return written
