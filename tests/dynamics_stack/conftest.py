"""Fixtures for the core tests: a tiny two-graph model saved as a real model card."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dynamics_stack.runtime import BoundMethod, GraphSpec, register_model_kind, save_model


class TinyDynamics(nn.Module):
    """A miniature of the FDM's split: encode a context once, roll out K action sequences."""

    def __init__(self, obs_dim: int = 4, action_dim: int = 2, hidden: int = 8, horizon: int = 5):
        super().__init__()
        self.config = {"obs_dim": obs_dim, "action_dim": action_dim, "hidden": hidden, "horizon": horizon}
        self.encoder = nn.Sequential(nn.Linear(obs_dim, hidden), nn.Tanh())
        self.step = nn.Linear(hidden + action_dim, hidden)
        self.head = nn.Linear(hidden, 2)
        self.register_buffer("obs_mean", torch.zeros(obs_dim))

    def encode(self, obs: torch.Tensor) -> torch.Tensor:  # [1, obs] -> [1, hidden]
        return self.encoder(obs - self.obs_mean)

    def rollout(self, context: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:  # [1,H], [K,T,nu] -> [K,T,2]
        K, T, _ = actions.shape
        ctx = context.expand(K, -1).unsqueeze(1).expand(K, T, -1)
        hidden = torch.tanh(self.step(torch.cat([ctx, actions], dim=-1)))
        return torch.cumsum(self.head(hidden), dim=1)

    def export_graphs(self) -> dict[str, GraphSpec]:
        c = self.config
        obs = torch.randn(1, c["obs_dim"], generator=torch.Generator().manual_seed(1))
        context = self.encode(obs).detach()
        actions = torch.randn(7, c["horizon"], c["action_dim"], generator=torch.Generator().manual_seed(2))
        return {
            "encode": GraphSpec(BoundMethod(self, "encode"), ("obs",), ("context",), (obs,)),
            "rollout": GraphSpec(
                BoundMethod(self, "rollout"),
                ("context", "actions"),
                ("positions",),
                (context, actions),
                dynamic_axes={"actions": {0: "K"}, "positions": {0: "K"}},
            ),
        }


def build_tiny(config: dict) -> TinyDynamics:
    return TinyDynamics(**config)


register_model_kind("tiny_test", build_tiny)


@pytest.fixture
def tiny_card(tmp_path):
    """Path of a saved, exported tiny model card (weights + 2 ONNX graphs)."""
    torch.manual_seed(0)
    model = TinyDynamics()
    with torch.no_grad():
        model.obs_mean.fill_(0.25)
    card = save_model(
        tmp_path / "tiny",
        model,
        kind="tiny_test",
        config=model.config,
        normalization={"obs_mean": [0.25] * 4},
        training={"data": "none (test fixture)"},
        metrics={},
    )
    return card.path
