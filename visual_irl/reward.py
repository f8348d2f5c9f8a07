"""The AIRL reward network: state reward g(s) and shaping potential h(s), with its export contract.

AIRL (Fu, Luo, Levine 2018) writes the discriminator's logit as
f(s, s') = g(s) + gamma h(s') - h(s); g is the reward that transfers to new
dynamics, h absorbs shaping. Both are small MLPs over the normalised 13-number
state; the normalisation (mean/std of the expert states) lives in buffers so
the exported graph takes raw states.

Graph ``reward``: input ``state`` [B, 13] float32 -> outputs ``reward`` [B]
(g) and ``potential`` [B] (h). Loaded by ``dynamics_stack.runtime`` as kind
``irl_reward``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from dynamics_stack.runtime import BoundMethod, GraphSpec
from visual_irl.features import STATE_DIM


def mlp(inp: int, hidden: int, layers: int, out: int = 1) -> nn.Sequential:
    mods: list[nn.Module] = []
    for i in range(layers):
        mods += [nn.Linear(inp if i == 0 else hidden, hidden), nn.Tanh()]
    mods.append(nn.Linear(hidden, out))
    return nn.Sequential(*mods)


class MeanOf(nn.Module):
    """The mean of several networks' outputs (an ensemble of independently trained members)."""

    def __init__(self, nets: list[nn.Module]):
        super().__init__()
        self.nets = nn.ModuleList(nets)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([net(x) for net in self.nets]).mean(0)


class RewardNet(nn.Module):
    """g(s) and h(s) over raw states (normalised inside).

    ``members`` > 1: g and h are the means of that many member networks (AIRL runs that differ only in their
    seed, see ``visual_irl.airl``); the graph and its outputs are the same as for one.
    """

    def __init__(
        self,
        state_dim: int = STATE_DIM,
        hidden: int = 64,
        layers: int = 2,
        gamma: float = 0.99,
        project_arm: bool = True,
        members: int = 1,
    ):
        super().__init__()
        if members < 1:
            raise ValueError(f"members must be >= 1, got {members}")
        self.state_dim, self.hidden, self.layers, self.gamma = state_dim, hidden, layers, gamma
        self.project_arm, self.members = project_arm, members
        self.register_buffer("mean", torch.zeros(state_dim))
        self.register_buffer("std", torch.ones(state_dim))
        # ArmModel coefficients [10, 6]: shoulder and elbow as a quadratic function of the wrist
        self.register_buffer("arm_coef", torch.zeros(10, 6))
        if members == 1:
            self.g = mlp(state_dim, hidden, layers)
            self.h = mlp(state_dim, hidden, layers)
        else:
            self.g = MeanOf([mlp(state_dim, hidden, layers) for _ in range(members)])
            self.h = MeanOf([mlp(state_dim, hidden, layers) for _ in range(members)])

    def config(self) -> dict[str, Any]:
        return {
            "state_dim": self.state_dim,
            "hidden": self.hidden,
            "layers": self.layers,
            "gamma": self.gamma,
            "project_arm": self.project_arm,
            **({"members": self.members} if self.members > 1 else {}),
        }

    @classmethod
    def ensemble(cls, nets: list[RewardNet]) -> RewardNet:
        """One reward whose g and h are the means of ``nets``' (same normalisation and arm model required)."""
        first = nets[0]
        for n in nets[1:]:
            same = all(torch.equal(getattr(n, b), getattr(first, b)) for b in ("mean", "std", "arm_coef"))
            if not same or n.config() != first.config():
                raise ValueError("ensemble members must share config, state normalisation and arm model")
        out = cls(**{**first.config(), "members": len(nets)})
        for name in ("mean", "std", "arm_coef"):
            getattr(out, name).copy_(getattr(first, name))
        for k, n in enumerate(nets):
            out.g.nets[k].load_state_dict(n.g.state_dict())
            out.h.nets[k].load_state_dict(n.h.state_dict())
        return out

    def member_rewards(self, state: torch.Tensor) -> torch.Tensor:
        """g(s) of each member: [members, B] (one row for a single network)."""
        nets = self.g.nets if self.members > 1 else [self.g]
        z = self._norm(state)
        return torch.stack([net(z).squeeze(-1) for net in nets])

    def set_arm_model(self, coef) -> None:
        self.arm_coef.copy_(torch.as_tensor(coef, dtype=torch.float32))

    def _arm(self, s: torch.Tensor) -> torch.Tensor:
        """With ``project_arm``, shoulder and elbow are replaced by the arm model's prediction from the wrist:
        the reward then sees the arm exactly as the environment's policy does (see ``visual_irl.airl``)."""
        if not self.project_arm:
            return s
        x, y, z = s[..., 6], s[..., 7], s[..., 8]
        one = torch.ones_like(x)
        design = torch.stack([one, x, y, z, x * x, y * y, z * z, x * y, x * z, y * z], dim=-1)
        return torch.cat([design @ self.arm_coef, s[..., 6:]], dim=-1)

    def set_normalization(self, states: torch.Tensor) -> None:
        self.mean.copy_(states.mean(0))
        self.std.copy_(states.std(0).clamp_min(1e-3))

    def _norm(self, s: torch.Tensor) -> torch.Tensor:
        return (self._arm(s) - self.mean) / self.std

    def reward(self, state: torch.Tensor) -> torch.Tensor:
        """g(s): [B, 13] -> [B]."""
        return self.g(self._norm(state)).squeeze(-1)

    def potential(self, state: torch.Tensor) -> torch.Tensor:
        """h(s): [B, 13] -> [B]."""
        return self.h(self._norm(state)).squeeze(-1)

    def f(self, s: torch.Tensor, s_next: torch.Tensor) -> torch.Tensor:
        """AIRL's f(s, s') = g(s) + gamma h(s') - h(s): [B]."""
        return self.reward(s) + self.gamma * self.potential(s_next) - self.potential(s)

    def reward_and_potential(self, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.reward(state), self.potential(state)

    def export_graphs(self) -> dict[str, GraphSpec]:
        return {
            "reward": GraphSpec(
                module=BoundMethod(self, "reward_and_potential"),
                input_names=("state",),
                output_names=("reward", "potential"),
                dummy_inputs=(torch.zeros(2, self.state_dim),),
                dynamic_axes={"state": {0: "B"}, "reward": {0: "B"}, "potential": {0: "B"}},
            )
        }


def build_from_config(config: dict[str, Any]) -> RewardNet:
    """Runtime builder (``irl_reward`` kind)."""
    return RewardNet(**config)
