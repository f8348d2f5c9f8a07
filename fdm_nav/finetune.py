"""Fine-tune a shipped FDM for a few steps on a (small) dataset, e.g. one imported from a rosbag.

The model keeps its normalisation (the statistics of the data it was trained
on); the loss is training's (``fdm_nav.loss.fdm_loss`` with the card's loss
settings), the windows come from ``fdm_nav.data.load_windows`` like
training's. With ``out`` the result is saved as a new model card through
``dynamics_stack.runtime.save_model`` (weights + card; ONNX with ``export``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from dynamics_stack.config import cfg_from_dict
from dynamics_stack.runtime import TorchRuntime, load_runtime, save_model
from fdm_nav.data import load_windows
from fdm_nav.loss import FdmLossCfg, fdm_loss


def finetune(
    card: str | Path,
    data_dir: str | Path,
    steps: int = 5,
    lr: float = 1e-4,
    batch_size: int = 64,
    seed: int = 0,
    out: str | Path | None = None,
    export: bool = False,
) -> dict[str, Any]:
    """Adam steps on random batches of every window of ``data_dir``; returns losses before/after and per step."""
    if steps < 1 or batch_size < 1 or not lr > 0:
        raise ValueError(f"steps, batch_size and lr must be positive, got {steps}, {batch_size}, {lr}")
    runtime = load_runtime(card, backend="torch")
    assert isinstance(runtime, TorchRuntime)
    model = runtime.model
    loss_cfg = cfg_from_dict(
        FdmLossCfg, runtime.card.data.get("training", {}).get("config", {}).get("loss", {}), source=str(card)
    )
    data = load_windows(data_dir, "all", progress=False)
    torch.manual_seed(seed)

    def full_loss() -> float:
        model.eval()
        with torch.no_grad():
            poses, logits = model(data.proprio, data.state, data.height_scan, data.commands)
            return float(fdm_loss(poses, logits, data.poses, data.failure, loss_cfg)["total"])

    before = full_loss()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(steps):
        model.train()
        idx = torch.randint(len(data), (min(batch_size, len(data)),), generator=generator)
        b = data.select(idx)
        poses, logits = model(b.proprio, b.state, b.height_scan, b.commands)
        loss = fdm_loss(poses, logits, b.poses, b.failure, loss_cfg)["total"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(float(loss.detach()))
    after = full_loss()
    result = {"windows": len(data), "loss_before": before, "loss_after": after, "step_losses": losses}
    if out is not None:
        card_data = runtime.card.data
        saved = save_model(
            out,
            model,
            kind=card_data["kind"],
            config=runtime.card.config,
            export=export,
            normalization=card_data.get("normalization"),
            description=f"{card_data.get('description', '')} Fine-tuned {steps} steps on {data_dir}.".strip(),
        )
        result["card"] = str(saved.path)
    return result
