"""Training of PGND (or the particle-only baseline): ``dynstack manip train --data DIR --out models/NAME``.

Recipe after the anchor (Zhang et al., RSS 2025; docs/references.md): S-step rollouts from ground-truth
history (S = 5), loss = 100 x MSE of predicted positions in the unit-cube
coordinates of the model, Adam with a cosine learning rate, gradient
clipping, random yaw augmentation. Differences, for CPU minutes instead of GPU
hours: lr 1e-3 instead of 1e-4, thousands instead of 100k iterations, batch 8
instead of 32. The shipped recipes (config/pgnd_*.yaml) train on the mean
particle distance instead of the squared error (``loss: distance``): with the
squared error the grid model learnt to leave a resting object creeping by
~0.3 mm per step, which the 30-step evaluation accumulates (models/README.md).

Every ``ckpt_every`` iterations one atomic checkpoint
(``<out>.ckpt/last.safetensors``: weights, optimizer, iteration, best
validation) is written; ``--resume`` continues from it and, because every
batch is drawn from a generator seeded by its iteration number, reproduces the
uninterrupted run. The model with the best validation rollout loss is saved at
the end with its card (``dynamics_stack.runtime.save_model``).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from dynamics_stack.checkpoint import ModelCard, load_training_state, load_weights, save_training_state, save_weights
from dynamics_stack.config import cfg_to_dict
from dynamics_stack.runtime import save_model
from pgnd.data import gather_windows, load_episodes, random_yaw, window_index
from pgnd.metrics import chamfer
from pgnd.model import Pgnd, PgndCfg

LOSS_SCALE = 100.0  # anchor: loss = 100 x MSE of positions
LOSSES = ("mse", "distance")


@dataclass(frozen=True, kw_only=True)
class PgndTrainCfg:
    """Optimisation settings of ``dynstack manip train``."""

    iterations: int = 2000
    """Optimisation steps."""
    batch_size: int = 8
    """Windows per step (anchor: 32 on a GPU)."""
    rollout_steps: int = 5
    """Model steps unrolled per window, loss on all of them (anchor: 5)."""
    loss: str = "mse"
    """'mse': 100 x mean squared position error (anchor). 'distance': 100 x mean Euclidean distance
    (the MDE itself, not squared): a particle that creeps 0.3 mm per step while the object rests
    weighs as much per mm as a 1 cm error during a grasp, where the squared error all but ignores it;
    errors in the unit cube of the model either way."""
    large_error: float = 0.0
    """> 0 (m, loss 'distance' only): each particle's distance d weighs (1 + d / large_error), i.e. the
    loss is 100 x mean(d + d^2 / large_error). Errors below it keep the distance's constant pull towards
    exact rest; larger ones grow quadratically as in the anchor's MSE. Without it a particle at rest
    (most of them, most of the time) pulls as hard as one that is dragged 6 mm per step, and the
    cloth models learnt to leave a dragged sheet behind (models/README.md)."""
    chamfer_weight: float = 0.0
    """> 0: add this times 100 x the Chamfer distance (the anchor's metric: mean nearest-neighbour distance
    both ways) of each predicted frame to the true one. The correspondence loss alone does not care
    whether the predicted particles still form the sheet's surface; the Chamfer term does. 0 = off."""
    lr: float = 1e-3
    """Peak Adam learning rate, cosine-annealed to zero."""
    grad_clip: float = 0.1
    """Largest gradient norm (anchor: 0.1)."""
    val_fraction: float = 0.2
    """Share of episodes held out for validation (and evaluation)."""
    val_windows: int = 32
    """Validation windows (fixed subset) scored every ``val_every`` iterations."""
    val_every: int = 100
    """Iterations between validations."""
    ckpt_every: int = 100
    """Iterations between checkpoints."""
    augment_yaw: bool = True
    """Random rotation about the vertical axis (anchor)."""
    particles: int = 0
    """> 0: farthest-point sample this many of the object's vertices per episode (anchor: 1000 from
    the fused point cloud); 0: every vertex is a particle."""
    seed: int = 0
    """Seed of initial weights and batches."""

    def __post_init__(self) -> None:
        if self.iterations < 1 or self.batch_size < 1 or self.rollout_steps < 1:
            raise ValueError("iterations, batch_size and rollout_steps must be >= 1")
        if self.lr <= 0 or self.grad_clip <= 0:
            raise ValueError(f"lr and grad_clip must be > 0, got {self.lr}, {self.grad_clip}")
        if not 0 < self.val_fraction < 1:
            raise ValueError(f"val_fraction must be in (0, 1), got {self.val_fraction}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        if self.large_error < 0 or (self.large_error > 0 and self.loss != "distance"):
            raise ValueError(
                f"large_error must be >= 0 and needs loss 'distance', got {self.large_error}, {self.loss!r}"
            )
        if self.chamfer_weight < 0:
            raise ValueError(f"chamfer_weight must be >= 0, got {self.chamfer_weight}")
        if self.particles < 0:
            raise ValueError(f"particles must be >= 0, got {self.particles}")
        if self.val_every < 1 or self.ckpt_every < 1 or self.val_windows < 1:
            raise ValueError("val_every, ckpt_every and val_windows must be >= 1")


def rollout_loss(model: Pgnd, batch: dict[str, torch.Tensor], cfg: PgndTrainCfg | None = None) -> torch.Tensor:
    """100 x MSE (or mean distance, ``cfg.loss='distance'``) of the S predicted frames in unit-cube coordinates.

    ``cfg.large_error`` > 0 (m): the distance d of each particle counts as d + d^2 / large_error.
    ``cfg.chamfer_weight`` > 0: plus that times 100 x the mean Chamfer distance of the frames (unit cube).
    Only the loss fields of ``cfg`` are read (default: the anchor's MSE).
    """
    cfg = cfg or PgndTrainCfg()
    pred = model.rollout(batch["x_hist"], batch["gripper"])
    err = (pred - batch["target"]) / model.cfg.workspace
    if cfg.loss == "distance":
        # + a tiny epsilon under the root: the gradient of |e| at e = 0 (a grasped particle) is undefined
        d = (err.pow(2).sum(dim=-1) + 1e-12).sqrt()
        if cfg.large_error > 0:
            d = d + d.pow(2) / (cfg.large_error / model.cfg.workspace)  # the knee in unit-cube units too
        value = LOSS_SCALE * d.mean()
    else:
        value = LOSS_SCALE * err.pow(2).mean()
    if cfg.chamfer_weight > 0:
        value = value + cfg.chamfer_weight * LOSS_SCALE * chamfer(pred, batch["target"]).mean() / model.cfg.workspace
    return value


def checkpoint_dir(out: str | Path) -> Path:
    out = Path(out)
    return out.with_name(out.name.removesuffix(".card.json") + ".ckpt")


def train(
    model_cfg: PgndCfg,
    cfg: PgndTrainCfg,
    data_dir: str | Path,
    out: str | Path,
    *,
    resume: bool = False,
    progress: bool = True,
    description: str = "",
    stop_after: int | None = None,
) -> ModelCard | None:
    """Train on the dataset in ``data_dir`` and save the best model as ``out`` (+ card); returns the card.

    ``stop_after`` ends this run after that many iterations, leaving only the checkpoint (returns
    None): a run spread over several calls, and the tests of resuming.
    """
    train_ep = load_episodes(data_dir, "train", cfg.val_fraction, cfg.particles)
    val_ep = load_episodes(data_dir, "val", cfg.val_fraction, cfg.particles)
    n = int(train_ep.x.shape[2])
    if model_cfg.num_particles != n:
        model_cfg = dataclasses.replace(model_cfg, num_particles=n)  # the data fixes N
    torch.manual_seed(cfg.seed)
    model = Pgnd(model_cfg)
    model.compact_grid = True  # training speed only; the saved model is the same module
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    H, S = model_cfg.history, cfg.rollout_steps
    train_idx = window_index(train_ep, H, S)
    val_all = window_index(val_ep, H, S)
    pick = torch.randperm(len(val_all), generator=torch.Generator().manual_seed(cfg.seed))[: cfg.val_windows]
    val_batch = gather_windows(val_ep, val_all[pick], H, S)

    ckpt = checkpoint_dir(out) / "last.safetensors"
    start, best_val, history = 0, math.inf, []
    best_state = copy.deepcopy(model.state_dict())
    if resume and ckpt.exists():
        extra = load_training_state(ckpt, model, opt)
        start, best_val, history = extra["iteration"], extra["best_val"], extra["history"]
        best_state = copy.deepcopy(model.state_dict()) if extra.get("best_is_last") else _best_from(ckpt, model)
    t0 = time.perf_counter()
    end = cfg.iterations if stop_after is None else min(cfg.iterations, start + stop_after)
    bar = tqdm(range(start, end), desc=f"manip train {train_ep.category}", disable=not progress)
    last_train = float("nan")
    for it in bar:
        g = torch.Generator().manual_seed(cfg.seed * 1_000_003 + it)
        batch = gather_windows(train_ep, train_idx[torch.randint(len(train_idx), (cfg.batch_size,), generator=g)], H, S)
        if cfg.augment_yaw:
            batch = random_yaw(batch, g)
        for group in opt.param_groups:
            group["lr"] = 0.5 * cfg.lr * (1 + math.cos(math.pi * it / cfg.iterations))
        model.train()
        loss = rollout_loss(model, batch, cfg)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        last_train = float(loss.detach())
        done = it + 1
        if done % cfg.val_every == 0 or done == cfg.iterations:
            val = evaluate_loss(model, val_batch, cfg)
            history.append({"iteration": done, "train_loss": last_train, "val_loss": val})
            if val < best_val:
                best_val, best_state = val, copy.deepcopy(model.state_dict())
                _save_best(ckpt, best_state)
            bar.set_postfix(train=f"{last_train:.4f}", val=f"{val:.4f}", best=f"{best_val:.4f}")
        if done % cfg.ckpt_every == 0 or done in (cfg.iterations, end):
            ckpt.parent.mkdir(parents=True, exist_ok=True)
            save_training_state(
                ckpt,
                model,
                opt,
                {"iteration": done, "best_val": best_val, "history": history, "best_is_last": False},
            )
    if end < cfg.iterations:
        return None
    model.load_state_dict(best_state)
    model.eval()
    training = {
        "data": str(data_dir),
        "category": train_ep.category,
        "train_episodes": len(train_ep),
        "val_episodes": len(val_ep),
        "config": cfg_to_dict(cfg),
        "best_val_loss": best_val,
        "history": history,
        "wall_s_this_run": round(time.perf_counter() - t0, 1),
        "torch_threads": torch.get_num_threads(),
    }
    return save_model(
        out,
        model,
        kind="pgnd",
        config=cfg_to_dict(model_cfg),
        training=training,
        description=description
        or f"{'PGND' if model_cfg.use_grid else 'particle-only baseline'} of {train_ep.category}, "
        "trained on simulated MuJoCo episodes (sim/deformable_*.py); one model step (dt 0.1 s) per graph call.",
        units={"x_hist": "m, world frame, z up, table top z = 0", "gripper": "sim.deformable_datagen.GRIPPER_FIELDS"},
    )


def evaluate_loss(model: Pgnd, batch: dict[str, torch.Tensor], cfg: PgndTrainCfg) -> float:
    model.eval()
    with torch.no_grad():
        return float(rollout_loss(model, batch, cfg))


def _save_best(ckpt: Path, state: dict[str, torch.Tensor]) -> None:
    ckpt.parent.mkdir(parents=True, exist_ok=True)
    save_weights(ckpt.with_name("best.safetensors"), state)


def _best_from(ckpt: Path, model: Pgnd) -> dict[str, torch.Tensor]:
    best = ckpt.with_name("best.safetensors")
    return load_weights(best) if best.exists() else copy.deepcopy(model.state_dict())
