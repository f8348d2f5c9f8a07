"""Evaluation of a learned reward: return vs true score on held-out demos, and policies trained on it.

- ``return_vs_score``: per held-out demonstration the learned return (sum of
  g over its states every ``dt``) and its true task score; Spearman rank
  correlation overall and Kendall's tau, plus per-quality means.
- ``policy_comparison``: task success in the sorting environment of (a) the
  expert demonstrations replayed open-loop from their own start, (b) a fresh
  PPO policy trained on the learned reward, (c) behaviour cloning on the same
  expert transitions; and, when the training checkpoint is at hand, (d) AIRL's
  own generator policy.
- plots: reward along good, suboptimal and failed demonstrations; return vs score.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.stats import kendalltau, spearmanr

from visual_irl.airl import ExpertData, train_policy_on_reward
from visual_irl.env import BatchedSortingEnv
from visual_irl.features import ArmModel, demo_states
from visual_irl.keypoints import KeypointDemo
from visual_irl.policy import GaussianPolicy, behaviour_cloning, collect
from visual_irl.reward import RewardNet
from visual_irl.task import SortingTaskCfg


def demo_step(demo: KeypointDemo, task: SortingTaskCfg) -> int:
    return max(1, round(task.dt / float(np.median(np.diff(demo.t)))))


def reward_traces(
    reward: RewardNet, demos: list[KeypointDemo], task: SortingTaskCfg, min_conf: float
) -> list[np.ndarray]:
    """g(s_t) [T] along each demonstration."""
    out = []
    with torch.no_grad():
        for demo in demos:
            s, _ = demo_states(demo, step=demo_step(demo, task), min_confidence=min_conf)
            out.append(reward.reward(torch.from_numpy(s)).numpy())
    return out


def return_vs_score(
    reward: RewardNet, demos: list[KeypointDemo], task: SortingTaskCfg, min_conf: float = 0.5
) -> dict[str, Any]:
    traces = reward_traces(reward, demos, task, min_conf)
    returns = np.array([float(t.sum()) for t in traces])
    scores = np.array([float(d.meta["score"]) for d in demos])
    qualities = np.array([d.meta.get("quality", "unknown") for d in demos])
    per_quality = {
        q: {
            "n": int((qualities == q).sum()),
            "mean_return": float(returns[qualities == q].mean()),
            "mean_score": float(scores[qualities == q].mean()),
        }
        for q in dict.fromkeys(qualities.tolist())
    }
    return {
        "demos": len(demos),
        "spearman": float(spearmanr(returns, scores).statistic),
        "kendall_tau": float(kendalltau(returns, scores).statistic),
        "per_quality": per_quality,
        "returns": returns.round(3).tolist(),
        "scores": scores.round(4).tolist(),
        "qualities": qualities.tolist(),
    }


def replay_success(demos: list[KeypointDemo], arm: ArmModel, task: SortingTaskCfg, min_conf: float = 0.5) -> float:
    """Fraction of demonstrations whose wrist path, replayed open-loop in the environment, sorts the onion."""
    ok = []
    for demo in demos:
        s, _ = demo_states(demo, step=demo_step(demo, task), min_confidence=min_conf)
        env = BatchedSortingEnv(task, arm, 1)
        env.reset(seed=0)
        env.wrist = s[:1, 6:9].astype(np.float64).copy()
        env.onion = s[:1, 9:12].astype(np.float64).copy()
        env.blemished = s[:1, 12].astype(np.float64).copy()
        actions = np.diff(s[:, 6:9], axis=0)
        for t in range(min(task.horizon, len(actions))):
            env.step(actions[t : t + 1])
        ok.append(bool(env.success()[0]))
    return float(np.mean(ok))


def policy_success(env: BatchedSortingEnv, policy: GaussianPolicy, seed: int) -> dict[str, float]:
    return {
        "stochastic": float(collect(env, policy, seed, deterministic=False).success.mean()),
        "deterministic": float(collect(env, policy, seed, deterministic=True).success.mean()),
    }


def policy_comparison(
    reward: RewardNet,
    expert: ExpertData,
    expert_demos: list[KeypointDemo],
    task: SortingTaskCfg,
    ppo_iterations: int,
    episodes: int = 500,
    seed: int = 0,
    progress: bool = False,
    airl_policy: GaussianPolicy | None = None,
) -> dict[str, Any]:
    """``airl_policy``: AIRL's own generator (trained against the evolving reward), when its checkpoint exists."""
    env = BatchedSortingEnv(task, expert.arm, episodes)
    expert_rate = replay_success(expert_demos, expert.arm, task)
    policy, curve = train_policy_on_reward(reward, expert.arm, task, ppo_iterations, seed=seed, progress=progress)
    learned = policy_success(env, policy, seed=10_000 + seed)
    torch.manual_seed(seed)
    bc = GaussianPolicy(task.max_step, reward.mean, reward.std, hidden=reward.hidden)
    bc_loss = behaviour_cloning(bc, expert.obs, expert.act, seed=seed)
    bc_rate = policy_success(env, bc, seed=10_000 + seed)
    airl = {}
    if airl_policy is not None:
        airl = {"airl_generator_policy_success": policy_success(env, airl_policy, seed=10_000 + seed)}
    best = max(learned.values())
    return {
        **airl,
        "episodes": episodes,
        "expert_replay_success": expert_rate,
        "learned_reward_policy_success": learned,
        "learned_reward_policy_training_curve": [round(c, 3) for c in curve[:: max(1, len(curve) // 20)]],
        "ppo_iterations": ppo_iterations,
        "bc_success": bc_rate,
        "bc_final_mse": bc_loss,
        "learned_vs_expert": best / expert_rate if expert_rate else float("nan"),
        "learned_above_bc": best > max(bc_rate.values()),
    }


def plot_rewards(
    reward: RewardNet, demos: list[KeypointDemo], task: SortingTaskCfg, report: dict, out: Path
) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    traces = reward_traces(reward, demos, task, 0.5)
    colors = {"good": "tab:green", "suboptimal": "tab:orange", "failed": "tab:red"}
    fig, ax = plt.subplots(figsize=(7, 4))
    shown = set()
    for demo, tr in zip(demos, traces, strict=True):
        q = demo.meta.get("quality", "unknown")
        label = None if q in shown else f"{q}"
        shown.add(q)
        ax.plot(np.arange(len(tr)) * task.dt, tr, color=colors.get(q, "gray"), alpha=0.35, lw=1, label=label)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("learned reward g(s)")
    ax.set_title("Learned reward along held-out demonstrations")
    ax.legend()
    fig.tight_layout()
    p1 = out / "irl_reward_along_demos.png"
    fig.savefig(p1, dpi=110)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(5, 4))
    r, s, q = np.array(report["returns"]), np.array(report["scores"]), np.array(report["qualities"])
    for name, c in colors.items():
        ax.scatter(s[q == name], r[q == name], color=c, label=name, s=18)
    ax.set_xlabel("true task score")
    ax.set_ylabel("learned return (sum of g)")
    ax.set_title(f"Spearman {report['spearman']:.3f}")
    ax.legend()
    fig.tight_layout()
    p2 = out / "irl_return_vs_score.png"
    fig.savefig(p2, dpi=110)
    plt.close(fig)
    return [p1, p2]
