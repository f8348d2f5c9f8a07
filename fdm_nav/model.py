"""The perceptive forward dynamics model (FDM) of a legged robot (after Roth et al., RSS 2025).

Given the last 10 proprio/state samples (20 Hz) and a robot-centric height scan,
it predicts for each of K candidate command sequences (T = 10 steps of 0.5 s)
the poses the robot will reach and the probability that it has failed
(collision, fall, stuck) by each step.

Architecture (sizes from ``FdmCfg``; defaults are the anchor's, Roth et al., RSS 2025; docs/references.md):

    proprio+state history --GRU(2x64)--> p (64) --Linear--> friction latent (4)
    height scan --CNN 32/64/128/256, k 7/3/3/3, s 1/2/2/2, maxpool--> s (512)
    context c = [p, s, friction]
    each command a_t --Linear 3->16, LeakyReLU--> e_t
    GRU(2x128) over t with input [e_t, c]; heads on every hidden state:
      velocity correction (3) -> achieved twist = a_t + correction -> SE(2) poses
      failure logit (1) -> sigmoid

Split for planning: ``encode_context`` runs once per cycle and returns a packed
context that already holds the context's share of the first GRU layer's input
gates (W_c c + b) and the initial hidden states, so ``rollout`` over K samples
only multiplies the 16-d action features. ``forward`` is the plain monolithic
computation; a test holds the two to the same outputs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from dynamics_stack.config import cfg_from_dict, cfg_to_dict
from dynamics_stack.runtime import BoundMethod, GraphSpec
from fdm_nav.observation import HISTORY, HORIZON, PROPRIO_DIM, SCAN_SHAPE, STATE_DIM, STEP_DT
from fdm_nav.se2 import integrate_body_velocities


@dataclass(frozen=True, kw_only=True)
class FdmCfg:
    """Sizes and time base of the FDM."""

    history: int = HISTORY
    """H: proprio/state samples (20 Hz) ending now."""
    proprio_dim: int = PROPRIO_DIM
    """P: entries of one proprio sample (fdm_nav.observation.PROPRIO_FIELDS)."""
    state_dim: int = STATE_DIM
    """Entries of one state sample (fdm_nav.observation.STATE_FIELDS)."""
    scan_shape: tuple[int, int] = SCAN_SHAPE
    """Height-scan rows (y, left to right) x columns (x, behind to ahead)."""
    horizon: int = HORIZON
    """T: command steps predicted."""
    step_dt: float = STEP_DT
    """Seconds per command step."""
    proprio_hidden: int = 64
    """Hidden size of the proprio/state GRU (anchor: 64)."""
    proprio_layers: int = 2
    """Layers of the proprio/state GRU (anchor: 2)."""
    cnn_channels: tuple[int, ...] = (32, 64, 128, 256)
    """Channels of the height-scan CNN (anchor: 32/64/128/256)."""
    cnn_kernels: tuple[int, ...] = (7, 3, 3, 3)
    """Kernel sizes of the CNN layers (anchor: 7/3/3/3)."""
    cnn_strides: tuple[int, ...] = (1, 2, 2, 2)
    """Strides of the CNN layers (anchor: 1/2/2/2; max-pool after the first)."""
    scan_features: int = 512
    """Height-scan feature size (anchor: 512)."""
    action_features: int = 16
    """Per-step command feature size (anchor: 16)."""
    action_dropout: float = 0.0
    """Dropout on command features during training."""
    friction_dim: int = 4
    """Friction latent predicted from the proprio encoding (anchor: 4)."""
    rollout_hidden: int = 128
    """Hidden size of the action GRU (anchor: 128)."""
    use_height_scan: bool = True
    """False builds the proprio-only ablation (no CNN; the scan input is ignored)."""
    command_scale: tuple[float, float, float] = (1.5, 0.4, 1.0)
    """Scale of (vx, vy, wz) commands for the network input (anchor training ranges)."""

    def __post_init__(self) -> None:
        positive = ("history", "proprio_dim", "state_dim", "horizon", "proprio_hidden", "proprio_layers")
        for name in (*positive, "scan_features", "action_features", "rollout_hidden"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not (math.isfinite(self.step_dt) and self.step_dt > 0):
            raise ValueError(f"step_dt must be > 0, got {self.step_dt}")
        if not len(self.cnn_channels) == len(self.cnn_kernels) == len(self.cnn_strides) >= 1:
            raise ValueError("cnn_channels, cnn_kernels and cnn_strides must have the same non-zero length")
        if not 0.0 <= self.action_dropout < 1.0:
            raise ValueError(f"action_dropout must be in [0, 1), got {self.action_dropout}")
        if any(s <= 0 for s in self.command_scale):
            raise ValueError(f"command_scale must be positive, got {self.command_scale}")
        if self.friction_dim < 0:
            raise ValueError(f"friction_dim must be >= 0, got {self.friction_dim}")


class ScanEncoder(nn.Module):
    """Height-scan CNN: [B, 60, 46] -> [B, scan_features]."""

    def __init__(self, cfg: FdmCfg):
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 1
        for i, (c, k, s) in enumerate(zip(cfg.cnn_channels, cfg.cnn_kernels, cfg.cnn_strides, strict=True)):
            layers += [nn.Conv2d(c_in, c, k, stride=s, padding=k // 2), nn.LeakyReLU(0.01)]
            if i == 0:
                layers.append(nn.MaxPool2d(2))
            c_in = c
        self.conv = nn.Sequential(*layers)
        with torch.no_grad():
            flat = self.conv(torch.zeros(1, 1, *cfg.scan_shape)).numel()
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(flat, cfg.scan_features), nn.LeakyReLU(0.01))

    def forward(self, scan: Tensor) -> Tensor:
        return self.head(self.conv(scan.unsqueeze(1)))


class Fdm(nn.Module):
    """Perceptive forward dynamics model; see the module docstring."""

    def __init__(self, cfg: FdmCfg):
        super().__init__()
        self.cfg = cfg
        H, P, S = cfg.history, cfg.proprio_dim, cfg.state_dim
        self.register_buffer("proprio_mean", torch.zeros(P))
        self.register_buffer("proprio_std", torch.ones(P))
        self.register_buffer("state_mean", torch.zeros(S))
        self.register_buffer("state_std", torch.ones(S))
        self.register_buffer("command_scale", torch.tensor(cfg.command_scale))
        self.proprio_gru = nn.GRU(P + S, cfg.proprio_hidden, num_layers=cfg.proprio_layers, batch_first=True)
        self.friction_head = nn.Linear(cfg.proprio_hidden, cfg.friction_dim) if cfg.friction_dim else None
        self.scan_encoder = ScanEncoder(cfg) if cfg.use_height_scan else None
        self.context_dim = cfg.proprio_hidden + cfg.friction_dim + (cfg.scan_features if cfg.use_height_scan else 0)
        self.action_encoder = nn.Sequential(nn.Linear(3, cfg.action_features), nn.LeakyReLU(0.01))
        self.action_dropout = nn.Dropout(cfg.action_dropout)
        Hr = cfg.rollout_hidden
        # Two GRU layers written out (gate order r, z, n as nn.GRU) so the first layer's
        # input weights can be split into an action part and a context part.
        self.w_ih1 = nn.Linear(cfg.action_features + self.context_dim, 3 * Hr)
        self.w_hh1 = nn.Linear(Hr, 3 * Hr)
        self.w_ih2 = nn.Linear(Hr, 3 * Hr)
        self.w_hh2 = nn.Linear(Hr, 3 * Hr)
        self.h0 = nn.Linear(self.context_dim, 2 * Hr)  # initial hidden states of both layers from the context
        self.velocity_head = nn.Linear(Hr, 3)
        self.failure_head = nn.Linear(Hr, 1)
        self.history_len = H

    # ---- context -------------------------------------------------------------------------
    def context_features(self, proprio: Tensor, state: Tensor, height_scan: Tensor) -> Tensor:
        """Raw context c = [proprio encoding, scan features, friction]: [B, context_dim]."""
        x = torch.cat(
            [(proprio - self.proprio_mean) / self.proprio_std, (state - self.state_mean) / self.state_std], -1
        )
        x = torch.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)  # a bad sample must not poison the batch
        # Explicit zero state sized from the input keeps the ONNX graph valid for any batch B.
        h0 = x.new_zeros(self.cfg.proprio_layers, x.shape[0], self.cfg.proprio_hidden)
        _, h = self.proprio_gru(x, h0)  # h: [layers, B, hidden]
        p = h[-1]  # [B, proprio_hidden]
        parts = [p]
        if self.scan_encoder is not None:
            # Missing cells should be filled upstream (fill_nan_nearest); a NaN that slips
            # through reads as the clip's upper bound ("unknown, treat as low ground").
            parts.append(self.scan_encoder(torch.nan_to_num(height_scan, nan=1.5, posinf=1.5, neginf=-1.0)))
        if self.friction_head is not None:
            parts.append(self.friction_head(p))
        return torch.cat(parts, dim=-1)

    def encode_context(self, proprio: Tensor, state: Tensor, height_scan: Tensor) -> Tensor:
        """Packed context for ``rollout``: [B, 5 * rollout_hidden].

        Holds W_c c + b of the first layer's input gates (3 Hr) and both initial
        hidden states (2 Hr): everything that does not depend on the commands.
        """
        c = self.context_features(proprio, state, height_scan)
        A = self.cfg.action_features
        gates = nn.functional.linear(c, self.w_ih1.weight[:, A:], self.w_ih1.bias)  # [B, 3 Hr]
        return torch.cat([gates, torch.tanh(self.h0(c))], dim=-1)

    # ---- rollout -------------------------------------------------------------------------
    def rollout_logits(self, context: Tensor, commands: Tensor) -> tuple[Tensor, Tensor]:
        """Poses [K, T, 3] and failure logits [K, T] for commands [K, T, 3]; context [1 or K, 5 Hr]."""
        K = commands.shape[0]
        Hr, A = self.cfg.rollout_hidden, self.cfg.action_features
        context = context.expand(K, -1)
        ctx_gates, h1, h2 = context[:, : 3 * Hr], context[:, 3 * Hr : 4 * Hr], context[:, 4 * Hr :]
        feats = self.action_dropout(self.action_encoder(commands / self.command_scale))  # [K, T, A]
        act_gates = nn.functional.linear(feats, self.w_ih1.weight[:, :A])  # [K, T, 3 Hr] one matmul for all steps
        return self._decode(commands, act_gates + ctx_gates.unsqueeze(1), h1, h2)

    def rollout(self, context: Tensor, commands: Tensor) -> tuple[Tensor, Tensor]:
        """Poses [K, T, 3] and failure probabilities [K, T] (the planner's graph)."""
        poses, logits = self.rollout_logits(context, commands)
        return poses, torch.sigmoid(logits)

    def forward(self, proprio: Tensor, state: Tensor, height_scan: Tensor, commands: Tensor) -> tuple[Tensor, Tensor]:
        """Monolithic prediction for B windows (one command sequence each): poses, failure logits."""
        c = self.context_features(proprio, state, height_scan)  # [B, C]
        T = commands.shape[1]
        feats = self.action_dropout(self.action_encoder(commands / self.command_scale))  # [B, T, A]
        x = torch.cat([feats, c.unsqueeze(1).expand(-1, T, -1)], dim=-1)
        h1, h2 = torch.tanh(self.h0(c)).chunk(2, dim=-1)
        return self._decode(commands, self.w_ih1(x), h1, h2)

    def _decode(self, commands: Tensor, gates1: Tensor, h1: Tensor, h2: Tensor) -> tuple[Tensor, Tensor]:
        """Run both GRU layers over T given layer-1 input gates [K, T, 3 Hr]; apply the heads."""
        outputs = []
        for t in range(commands.shape[1]):  # T = 10, unrolled in the ONNX graph
            h1 = _gru_step(gates1[:, t], self.w_hh1(h1), h1)
            h2 = _gru_step(self.w_ih2(h1), self.w_hh2(h2), h2)
            outputs.append(h2)
        hidden = torch.stack(outputs, dim=1)  # [K, T, Hr]
        velocity = commands + self.velocity_head(hidden) * self.command_scale  # achieved body twist
        poses = integrate_body_velocities(velocity, self.cfg.step_dt)  # [K, T, 3]
        return poses, self.failure_head(hidden).squeeze(-1)

    # ---- export contract -----------------------------------------------------------------
    def export_graphs(self) -> dict[str, GraphSpec]:
        cfg = self.cfg
        g = torch.Generator().manual_seed(0)
        proprio = torch.randn(1, cfg.history, cfg.proprio_dim, generator=g)
        state = torch.randn(1, cfg.history, cfg.state_dim, generator=g)
        scan = torch.rand(1, *cfg.scan_shape, generator=g) * 0.5
        commands = torch.randn(64, cfg.horizon, 3, generator=g) * 0.5
        with torch.no_grad():
            context = self.encode_context(proprio, state, scan)
        return {
            "encode_context": GraphSpec(
                BoundMethod(self, "encode_context"),
                ("proprio", "state", "height_scan"),
                ("context",),
                (proprio, state, scan),
                dynamic_axes={n: {0: "B"} for n in ("proprio", "state", "height_scan", "context")},
            ),
            "rollout": GraphSpec(
                BoundMethod(self, "rollout"),
                ("context", "commands"),
                ("poses", "failure_prob"),
                (context, commands),
                # context: 1 row (planning, broadcast to K) or K rows (one per window, evaluation)
                dynamic_axes={"context": {0: "Kc"}, "commands": {0: "K"}, "poses": {0: "K"}, "failure_prob": {0: "K"}},
            ),
        }

    def set_normalization(self, stats: dict[str, Tensor]) -> None:
        """Copy proprio/state mean and std (from the training set) into the model's buffers."""
        for name in ("proprio_mean", "proprio_std", "state_mean", "state_std"):
            getattr(self, name).copy_(stats[name])

    def normalization(self) -> dict[str, list[float]]:
        """The normalisation statistics as lists, for the model card."""
        return {n: getattr(self, n).tolist() for n in ("proprio_mean", "proprio_std", "state_mean", "state_std")}


def _gru_step(gi: Tensor, gh: Tensor, h: Tensor) -> Tensor:
    """One GRU update from input gates gi and hidden gates gh ([K, 3 Hr], order r, z, n)."""
    i_r, i_z, i_n = gi.chunk(3, dim=-1)
    h_r, h_z, h_n = gh.chunk(3, dim=-1)
    r = torch.sigmoid(i_r + h_r)
    z = torch.sigmoid(i_z + h_z)
    n = torch.tanh(i_n + r * h_n)
    return (1.0 - z) * n + z * h


def build_from_config(config: dict[str, Any]) -> Fdm:
    """Runtime builder (model kind 'fdm'): the card's config dict -> an untrained Fdm."""
    return Fdm(cfg_from_dict(FdmCfg, config, source="fdm model card"))


def config_dict(cfg: FdmCfg) -> dict[str, Any]:
    """The card's config dict for ``cfg``."""
    return cfg_to_dict(cfg)
