"""Gaussian MLP policy with PPO (Schulman et al. 2017), behaviour cloning, and success-rate evaluation.

Small on purpose: 2x64 tanh networks, batched numpy environment, one CPU
thread. ``ppo_update`` takes one batch of rollouts with any per-step reward
(the AIRL reward during adversarial training, the learned reward for transfer).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from visual_irl.env import BatchedSortingEnv
from visual_irl.features import STATE_DIM
from visual_irl.reward import mlp


class GaussianPolicy(nn.Module):
    """Mean = max_step * tanh(MLP(s)); state-independent log std; plus a value head (separate MLP)."""

    def __init__(self, max_step: float, mean: torch.Tensor, std: torch.Tensor, hidden: int = 64):
        super().__init__()
        self.max_step = max_step
        self.register_buffer("s_mean", mean.clone().float())
        self.register_buffer("s_std", std.clone().float())
        self.mu = mlp(STATE_DIM, hidden, 2, 3)
        self.value = mlp(STATE_DIM, hidden, 2, 1)
        self.log_std = nn.Parameter(torch.full((3,), float(np.log(0.3 * max_step))))

    def _n(self, s: torch.Tensor) -> torch.Tensor:
        return (s - self.s_mean) / self.s_std

    def mean(self, s: torch.Tensor) -> torch.Tensor:
        return self.max_step * torch.tanh(self.mu(self._n(s)))

    def dist(self, s: torch.Tensor) -> torch.distributions.Normal:
        return torch.distributions.Normal(self.mean(s), self.log_std.exp())

    def log_prob(self, s: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        return self.dist(s).log_prob(a).sum(-1)

    def v(self, s: torch.Tensor) -> torch.Tensor:
        return self.value(self._n(s)).squeeze(-1)


@dataclass
class Rollout:
    obs: torch.Tensor  # [T, N, 13]
    act: torch.Tensor  # [T, N, 3]
    logp: torch.Tensor  # [T, N]
    next_obs: torch.Tensor  # [T, N, 13]
    success: np.ndarray  # [N]


def collect(env: BatchedSortingEnv, policy: GaussianPolicy, seed: int, deterministic: bool = False) -> Rollout:
    obs_l, act_l, logp_l, nxt_l = [], [], [], []
    obs = torch.from_numpy(env.reset(seed))
    done = False
    with torch.no_grad():
        while not done:
            d = policy.dist(obs)
            a = d.mean if deterministic else d.sample()
            nxt, done = env.step(a.numpy())
            nxt = torch.from_numpy(nxt)
            obs_l.append(obs), act_l.append(a), logp_l.append(d.log_prob(a).sum(-1)), nxt_l.append(nxt)
            obs = nxt
    return Rollout(torch.stack(obs_l), torch.stack(act_l), torch.stack(logp_l), torch.stack(nxt_l), env.success())


def ppo_update(
    policy: GaussianPolicy,
    opt: torch.optim.Optimizer,
    ro: Rollout,
    rewards: torch.Tensor,
    gamma: float = 0.99,
    lam: float = 0.95,
    epochs: int = 4,
    minibatch: int = 1024,
    clip: float = 0.2,
    entropy: float = 0.0,
    gen: torch.Generator | None = None,
) -> dict[str, float]:
    """One PPO update on a rollout with rewards [T, N] (fixed horizon: bootstrap the last value)."""
    T, N = rewards.shape
    with torch.no_grad():
        v = policy.v(ro.obs)
        v_last = policy.v(ro.next_obs[-1])
        adv = torch.zeros(T, N)
        last = torch.zeros(N)
        for t in reversed(range(T)):
            v_next = v_last if t == T - 1 else v[t + 1]
            delta = rewards[t] + gamma * v_next - v[t]
            last = delta + gamma * lam * last
            adv[t] = last
        ret = adv + v
    obs, act, logp0 = ro.obs.reshape(T * N, -1), ro.act.reshape(T * N, -1), ro.logp.reshape(-1)
    adv, ret = adv.reshape(-1), ret.reshape(-1)
    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
    stats = {}
    for _ in range(epochs):
        perm = torch.randperm(T * N, generator=gen)
        for i in range(0, T * N, minibatch):
            idx = perm[i : i + minibatch]
            d = policy.dist(obs[idx])
            logp = d.log_prob(act[idx]).sum(-1)
            ratio = (logp - logp0[idx]).exp()
            pg = -torch.min(ratio * adv[idx], ratio.clamp(1 - clip, 1 + clip) * adv[idx]).mean()
            vl = 0.5 * (policy.v(obs[idx]) - ret[idx]).pow(2).mean()
            ent = d.entropy().sum(-1).mean()
            loss = pg + 0.5 * vl - entropy * ent
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_([p for g in opt.param_groups for p in g["params"]], 1.0)
            opt.step()
            stats = {"pg_loss": float(pg.detach()), "v_loss": float(vl.detach()), "entropy": float(ent.detach())}
    return stats


def behaviour_cloning(
    policy: GaussianPolicy,
    obs: torch.Tensor,
    act: torch.Tensor,
    epochs: int = 300,
    lr: float = 1e-3,
    seed: int = 0,
    fit_std: bool = True,
) -> float:
    """Fit the policy mean to expert actions by mean squared error; returns the final loss.

    With ``fit_std`` the state-independent std is then set to the RMS residual per axis, the maximum-likelihood
    std of a Gaussian policy given its mean: BC is then a full Gaussian maximum-likelihood fit, and its
    sampled actions are as spread as the demonstrations around the fit (not the arbitrary initial std).
    """
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(policy.mu.parameters(), lr=lr)
    loss = torch.tensor(0.0)
    for _ in range(epochs):
        perm = torch.randperm(len(obs), generator=gen)
        for i in range(0, len(obs), 256):
            idx = perm[i : i + 256]
            loss = (policy.mean(obs[idx]) - act[idx]).pow(2).sum(-1).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    if fit_std:
        with torch.no_grad():
            rms = (policy.mean(obs) - act).pow(2).mean(0).sqrt().clamp_min(1e-4)
            policy.log_std.copy_(rms.log())
    return float(loss.detach())


def success_rate(env: BatchedSortingEnv, policy: GaussianPolicy, seed: int, deterministic: bool = True) -> float:
    return float(collect(env, policy, seed, deterministic).success.mean())
