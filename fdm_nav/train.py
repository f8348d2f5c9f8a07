"""Training of the FDM: ``dynstack nav train --data DIR --out PATH``.

Anchor recipe (Roth et al., RSS 2025; docs/references.md): Adam (lr 3e-3, weight decay 1e-4), plateau LR
schedule, the four-term loss of ``fdm_nav.loss``. Validation windows come from
held-out terrain seeds. Every epoch writes one atomic checkpoint
(``<out>.ckpt/last.safetensors``: weights, optimizer, epoch, scheduler) and a
CSV row of scalars (``<out>.ckpt/log.csv``); ``--resume`` continues from it and
reproduces the uninterrupted run exactly (batch order and dropout are seeded
per epoch). The end writes the model files and card (``dynamics_stack.runtime.save_model``).

Data-parallel training: launch the same command under ``torchrun
--nproc_per_node N`` (gloo on CPU, nccl on CUDA); each process takes every
N-th batch, gradients are averaged by DistributedDataParallel, rank 0 writes.
"""

from __future__ import annotations

import csv
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from tqdm import tqdm

from dynamics_stack.atomic import atomic_path
from dynamics_stack.checkpoint import ModelCard, load_training_state, load_weights, save_training_state, save_weights
from dynamics_stack.config import cfg_to_dict
from dynamics_stack.runtime import save_model
from fdm_nav.data import WindowTensors, load_windows
from fdm_nav.loss import FdmLossCfg, fdm_loss
from fdm_nav.model import Fdm, FdmCfg


@dataclass(frozen=True, kw_only=True)
class TrainCfg:
    """Optimisation settings of ``dynstack nav train``."""

    epochs: int = 20
    """Passes over the training windows."""
    batch_size: int = 256
    """Windows per optimisation step (summed over processes). Anchor: 2048 on a GPU."""
    lr: float = 3e-3
    """Adam learning rate (anchor)."""
    weight_decay: float = 1e-4
    """Adam weight decay (anchor)."""
    grad_clip: float = 1.0
    """Largest gradient norm."""
    plateau_factor: float = 0.5
    """LR multiplier when the validation loss plateaus."""
    plateau_patience: int = 1
    """Epochs without improvement before the LR drops."""
    val_fraction: float = 0.2
    """Fraction of terrain seeds held out for validation."""
    max_train_windows: int | None = None
    """Cap on training windows (random subset), None = all."""
    failure_repeat: int = 1
    """Training windows containing a failure are listed this many times (the authors add such windows)."""
    max_slow_fraction: float = 1.0
    """Largest share of failure-free training windows moving under 1 m (anchor: 0.1; 1.0 = no cap)."""
    seed: int = 0
    """Seed of initialisation, batch order and dropout."""
    model: FdmCfg = field(default_factory=FdmCfg)
    """Model sizes."""
    loss: FdmLossCfg = field(default_factory=FdmLossCfg)
    """Loss weights."""

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError(f"epochs and batch_size must be >= 1, got {self.epochs}, {self.batch_size}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if not 0.0 < self.val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in (0, 1), got {self.val_fraction}")


LOG_FIELDS = ("epoch", "train_loss", "val_loss", "val_final_position_error", "val_failure_bce", "lr", "seconds")


def checkpoint_dir(out: str | Path) -> Path:
    """Where the checkpoint and log of a run writing model ``out`` live."""
    out = Path(out)
    return out.with_name(out.name + ".ckpt")


def _dist_info() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _init_distributed() -> bool:
    """Join the process group when started by torchrun (WORLD_SIZE > 1)."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or dist.is_initialized():
        return False
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    dist.init_process_group(backend=backend)
    return True


@torch.no_grad()
def evaluate_loss(model: Fdm, data: WindowTensors, cfg: TrainCfg, batch: int = 1024) -> dict[str, float]:
    """Mean loss terms and final position error over ``data`` (eval mode)."""
    model.eval()
    sums: dict[str, float] = {}
    n = len(data)
    for start in range(0, n, batch):
        b = data.select(torch.arange(start, min(start + batch, n)))
        poses, logits = model(b.proprio, b.state, b.height_scan, b.commands)
        terms = fdm_loss(poses, logits, b.poses, b.failure, cfg.loss)
        terms["final_position_error"] = torch.linalg.vector_norm(poses[:, -1, :2] - b.poses[:, -1, :2], dim=-1).mean()
        for k, v in terms.items():
            sums[k] = sums.get(k, 0.0) + float(v) * len(b)
    return {k: v / n for k, v in sums.items()}


def train(
    cfg: TrainCfg,
    data_dir: str | Path,
    out: str | Path,
    resume: bool = False,
    progress: bool = True,
    train_data: WindowTensors | None = None,
    val_data: WindowTensors | None = None,
) -> ModelCard | None:
    """Train, checkpoint every epoch, write the model; returns its card on rank 0 (None elsewhere)."""
    started_dist = _init_distributed()
    rank, _ = _dist_info()
    try:
        return _train(cfg, Path(data_dir), Path(out), resume, progress and rank == 0, train_data, val_data)
    finally:
        if started_dist:
            dist.destroy_process_group()


def _train(cfg, data_dir, out, resume, progress, train_data, val_data):
    rank, world = _dist_info()
    torch.manual_seed(cfg.seed)
    train_data = train_data or load_windows(
        data_dir,
        "train",
        cfg.val_fraction,
        progress=progress,
        max_windows=cfg.max_train_windows,
        failure_repeat=cfg.failure_repeat,
        max_slow_fraction=cfg.max_slow_fraction,
    )
    val_data = val_data or load_windows(data_dir, "val", cfg.val_fraction, progress=progress)
    model = Fdm(cfg.model)
    with torch.no_grad():
        model.set_normalization(train_data.normalization())
    ddp = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else None
    net = ddp or model
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, factor=cfg.plateau_factor, patience=cfg.plateau_patience
    )
    ckpt_dir = checkpoint_dir(out)
    ckpt = ckpt_dir / "last.safetensors"
    best_path = ckpt_dir / "best.safetensors"  # weights of the epoch with the lowest validation loss
    log_path = ckpt_dir / "log.csv"
    start_epoch, history, train_seconds, best = 0, [], 0.0, {"epoch": 0, "val_loss": float("inf")}
    if resume and ckpt.is_file():
        extra = load_training_state(ckpt, model, optimizer)
        scheduler.load_state_dict(extra["scheduler"])
        start_epoch, history, train_seconds = extra["epoch"], extra["history"], extra["train_seconds"]
        best = extra.get("best", best)
        if progress:
            print(f"resuming from {ckpt} after epoch {start_epoch}")
    elif resume and progress:
        print(f"no checkpoint at {ckpt}; starting from scratch")
    per_rank = max(cfg.batch_size // world, 1)
    n = len(train_data)
    for epoch in range(start_epoch, cfg.epochs):
        t0 = time.perf_counter()
        net.train()
        torch.manual_seed(cfg.seed * 1000 + epoch)  # dropout: same stream whether resumed or not
        order = torch.randperm(n, generator=torch.Generator().manual_seed(cfg.seed * 1000 + epoch))
        batches = [order[i : i + cfg.batch_size] for i in range(0, n, cfg.batch_size)]
        if world > 1:  # every rank walks the same batches, each taking its slice: drop a short tail
            batches = [b for b in batches if len(b) == cfg.batch_size]
        total, count = 0.0, 0
        bar = tqdm(batches, desc=f"epoch {epoch + 1}/{cfg.epochs}", disable=not progress, unit="batch", leave=False)
        for idx in bar:
            mine = idx[rank * per_rank : (rank + 1) * per_rank] if world > 1 else idx
            b = train_data.select(mine)
            poses, logits = net(b.proprio, b.state, b.height_scan, b.commands)
            loss = fdm_loss(poses, logits, b.poses, b.failure, cfg.loss)["total"]
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            optimizer.step()
            total += float(loss.detach()) * len(mine)
            count += len(mine)
            bar.set_postfix(loss=f"{total / max(count, 1):.4f}")
        val = evaluate_loss(model, val_data, cfg)
        scheduler.step(val["total"])
        train_seconds += time.perf_counter() - t0
        row = {
            "epoch": epoch + 1,
            "train_loss": total / max(count, 1),
            "val_loss": val["total"],
            "val_final_position_error": val["final_position_error"],
            "val_failure_bce": val["failure"],
            "lr": optimizer.param_groups[0]["lr"],
            "seconds": train_seconds,
        }
        history.append(row)
        if rank == 0:
            if val["total"] < best["val_loss"]:
                best = {"epoch": epoch + 1, "val_loss": val["total"]}
                save_weights(best_path, model.state_dict())
            extra = {"epoch": epoch + 1, "history": history, "train_seconds": train_seconds, "best": best}
            extra["scheduler"] = scheduler.state_dict()
            save_training_state(ckpt, model, optimizer, extra)
            _write_log(log_path, history)
            if progress:
                print(
                    f"epoch {epoch + 1}: train {row['train_loss']:.4f}  val {row['val_loss']:.4f}  "
                    f"val final pos err {row['val_final_position_error']:.3f} m  lr {row['lr']:.1e}"
                )
    if rank != 0:
        return None
    if best_path.is_file():  # ship the epoch that generalised best, not merely the last one
        model.load_state_dict(load_weights(best_path))
    manifest = _manifest_summary(data_dir)
    return save_model(
        out,
        model,
        kind="fdm",
        config=cfg_to_dict(cfg.model),
        description="Perceptive forward dynamics model (poses + failure probability over 10 x 0.5 s commands).",
        normalization=model.normalization(),
        training={
            "data": str(data_dir),
            "dataset": manifest,
            "train_windows": len(train_data),
            "val_windows": len(val_data),
            "val_split": f"by terrain seed, fraction {cfg.val_fraction}",
            "epochs": cfg.epochs,
            "best_epoch": best["epoch"],
            "processes": world,
            "train_seconds": round(train_seconds, 1),
            "config": cfg_to_dict(cfg),
            "history": history,
        },
        metrics={},
    )


def _write_log(path: Path, history: list[dict[str, Any]]) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=LOG_FIELDS)
        writer.writeheader()
        writer.writerows(history)


def _manifest_summary(data_dir: Path) -> dict[str, Any]:
    from sim.dataset import read_manifest

    manifest = read_manifest(data_dir)
    return {k: v for k, v in manifest.items() if k != "shards"} | {"shards": len(manifest.get("shards", []))}
