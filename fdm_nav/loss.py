"""Training loss of the FDM: the anchor's four terms and weights (Roth et al., RSS 2025; docs/references.md).

- failure: binary cross-entropy on per-step failure logits (weight 2.0)
- position: MSE of predicted (x, y) against the true poses (weight 1.7)
- heading: MSE of (sin yaw, cos yaw) (weight 1.7)
- stop: after the first true failure the robot does not move, so predicted
  poses after that step are pulled to the predicted pose at it (weight 1.0)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True, kw_only=True)
class FdmLossCfg:
    """Weights of the loss terms (anchor defaults)."""

    failure: float = 2.0
    """Weight of the failure BCE."""
    position: float = 1.7
    """Weight of the position MSE."""
    heading: float = 1.7
    """Weight of the (sin, cos) heading MSE."""
    stop: float = 1.0
    """Weight of the stop loss after the first failure."""
    failure_pos_weight: float = 1.0
    """Extra weight of positive failure steps in the BCE (counters class imbalance)."""

    def __post_init__(self) -> None:
        for name in ("failure", "position", "heading", "stop", "failure_pos_weight"):
            if getattr(self, name) < 0:
                raise ValueError(f"loss weight {name} must be >= 0, got {getattr(self, name)}")


def fdm_loss(
    poses: Tensor, logits: Tensor, target_poses: Tensor, failure: Tensor, cfg: FdmLossCfg
) -> dict[str, Tensor]:
    """Loss terms and their weighted sum ('total').

    poses, target_poses: [B, T, 3] (x, y, yaw); logits, failure: [B, T] (failure in {0, 1},
    1 from the first failing step on).
    """
    position = (poses[..., :2] - target_poses[..., :2]).square().sum(-1).mean()
    heading = (
        (torch.sin(poses[..., 2]) - torch.sin(target_poses[..., 2])).square()
        + (torch.cos(poses[..., 2]) - torch.cos(target_poses[..., 2])).square()
    ).mean()
    pos_weight = logits.new_tensor(cfg.failure_pos_weight)
    failure_bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, failure, pos_weight=pos_weight)
    # First failing step per window (T where none): poses after it should equal the pose at it.
    T = failure.shape[1]
    steps = torch.arange(T, device=failure.device).expand_as(failure)
    first = torch.where(failure > 0.5, steps, torch.full_like(steps, T)).min(dim=1).values  # [B]
    after = (steps > first[:, None]).float()  # [B, T]
    anchor = torch.gather(poses[..., :2], 1, first.clamp(max=T - 1)[:, None, None].expand(-1, 1, 2))  # [B, 1, 2]
    stop = ((poses[..., :2] - anchor).square().sum(-1) * after).sum() / after.sum().clamp(min=1.0)
    total = cfg.failure * failure_bce + cfg.position * position + cfg.heading * heading + cfg.stop * stop
    return {"total": total, "failure": failure_bce, "position": position, "heading": heading, "stop": stop}
