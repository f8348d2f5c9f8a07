"""Evaluation of a learned reward: return vs true score on held-out demos, and policies trained on it.

- ``return_vs_score``: per held-out demonstration the learned return (sum of
  g over its states every ``dt``) and its true task score; Spearman rank
  correlation overall and Kendall's tau, plus per-quality means.
- ``policy_comparison``: task success in the sorting environment of (a) the
  expert demonstrations replayed open-loop from their own start, (b) behaviour
  cloning on the expert transitions, (c) that BC policy improved by PPO on the
  learned reward, (d) a fresh PPO policy on the learned reward and, when the
  training checkpoint is at hand, (e) AIRL's own generator policy; without and
  with actuation noise, sampled and mean actions.
- plots: reward along good, suboptimal and failed demonstrations; return vs score.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.stats import kendalltau, spearmanr

from visual_irl.airl import ExpertData, finetune_policy_on_reward, train_policy_on_reward
from visual_irl.env import BatchedSortingEnv
from visual_irl.features import ArmModel, demo_states
from visual_irl.keypoints import KeypointDemo
from visual_irl.policy import GaussianPolicy, behaviour_cloning, collect
from visual_irl.reward import RewardNet
from visual_irl.task import SortingTaskCfg


def demo_step(demo: KeypointDemo, task: SortingTaskCfg) -> int:
    return max(1, round(task.dt / float(np.median(np.diff(demo.t)))))


def demo_state_tensors(demos: list[KeypointDemo], task: SortingTaskCfg, min_conf: float) -> list[torch.Tensor]:
    """The states [T, 13] of each demonstration, one every ``task.dt``."""
    return [torch.from_numpy(demo_states(d, step=demo_step(d, task), min_confidence=min_conf)[0]) for d in demos]


def reward_traces(reward: RewardNet, states: list[torch.Tensor]) -> list[np.ndarray]:
    """g(s_t) [T] along each demonstration's states (``demo_state_tensors``)."""
    with torch.no_grad():
        return [reward.reward(s).numpy() for s in states]


def return_vs_score(reward: RewardNet, demos: list[KeypointDemo], states: list[torch.Tensor]) -> dict[str, Any]:
    """Learned return vs true score of each demonstration; ``states`` from ``demo_state_tensors(demos, ...)``."""
    traces = reward_traces(reward, states)
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
    members = {}
    if reward.members > 1:  # an ensemble: how each of its AIRL runs ranks the demos alone
        with torch.no_grad():
            per = [reward.member_rewards(s).sum(1).numpy() for s in states]
        members["spearman_per_member"] = [float(spearmanr(r, scores).statistic) for r in np.stack(per, 1)]
    return {
        "demos": len(demos),
        "spearman": float(spearmanr(returns, scores).statistic),
        **members,
        "kendall_tau": float(kendalltau(returns, scores).statistic),
        "per_quality": per_quality,
        "returns": returns.round(3).tolist(),
        "scores": scores.round(4).tolist(),
        "qualities": qualities.tolist(),
    }


def replay_success(
    demos: list[KeypointDemo], arm: ArmModel, task: SortingTaskCfg, min_conf: float = 0.5, action_noise: float = 0.0
) -> float:
    """Fraction of demonstrations whose wrist path, replayed open-loop in the environment, sorts the onion."""
    ok = []
    for i, demo in enumerate(demos):
        s, _ = demo_states(demo, step=demo_step(demo, task), min_confidence=min_conf)
        env = BatchedSortingEnv(task, arm, 1, action_noise=action_noise)
        env.reset(seed=i)
        env.wrist = s[:1, 6:9].astype(np.float64).copy()
        env.onion = s[:1, 9:12].astype(np.float64).copy()
        env.blemished = s[:1, 12].astype(np.float64).copy()
        actions = np.diff(s[:, 6:9], axis=0)
        for t in range(min(task.horizon, len(actions))):
            env.step(actions[t : t + 1])
        ok.append(bool(env.success()[0]))
    return float(np.mean(ok))


def policy_success(
    env: BatchedSortingEnv, policy: GaussianPolicy, seed: int, reward: RewardNet | None = None
) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Success over the env's episodes of ``seed``, actions sampled from the policy and its mean action;
    plus, per selection, how the other episodes failed and (with ``reward``) the mean learned reward g per step.
    """
    rates, how = {}, {}
    for sel, det in (("sampled", False), ("mean_action", True)):
        ro = collect(env, policy, seed, deterministic=det)
        rates[sel] = float(ro.success.mean())
        how[sel] = episode_breakdown(env, ro, reward)
    return rates, how


def episode_breakdown(env: BatchedSortingEnv, ro, reward: RewardNet | None) -> dict[str, float]:
    """Shares of episodes: onion never grasped, put in the wrong box, grasped but never placed; the median
    closest wrist-onion distance of the never-grasped ones (m); mean g per step (with a reward)."""
    picked = env.held | (env.placed > 0)
    wrong = (env.placed > 0) & ~env.success()
    dist = np.linalg.norm(ro.obs[..., 6:9].numpy() - ro.obs[..., 9:12].numpy(), axis=-1).min(0)
    out = {
        "not_grasped": float((~picked).mean()),
        "wrong_box": float(wrong.mean()),
        "grasped_not_placed": float((picked & (env.placed == 0)).mean()),
        "closest_approach_not_grasped_m": float(np.median(dist[~picked])) if (~picked).any() else float("nan"),
    }
    if reward is not None:
        with torch.no_grad():
            out["mean_g_per_step"] = float(reward.reward(ro.obs).mean())
    return out


def rest_reward(env: BatchedSortingEnv, reward: RewardNet, seed: int) -> float:
    """Mean g per step of an arm that stays at rest (zero displacement) for the whole episode."""
    obs = env.reset(seed)
    total, done = [], False
    while not done:
        with torch.no_grad():
            total.append(float(reward.reward(torch.from_numpy(obs)).mean()))
        obs, done = env.step(np.zeros((env.n, 3)))
    return float(np.mean(total))


LEARNED = ("bc_then_ppo_on_learned_reward", "ppo_on_learned_reward_from_scratch")


def policy_comparison(
    reward: RewardNet,
    expert: ExpertData,
    expert_demos: list[KeypointDemo],
    task: SortingTaskCfg,
    ppo_iterations: int,
    finetune_iterations: int = 800,
    episodes: int = 500,
    seed: int = 0,
    action_noise: tuple[float, ...] = (0.005, 0.01),
    progress: bool = False,
    airl_policy: GaussianPolicy | None = None,
) -> dict[str, Any]:
    """Task success of policies from the same expert transitions, on the same episodes, in each condition.

    Policies: ``bc`` (Gaussian maximum likelihood on the expert transitions), ``bc_then_ppo_on_learned_reward``
    (that BC policy improved by PPO on the learned reward, see ``finetune_policy_on_reward``),
    ``ppo_on_learned_reward_from_scratch`` (AIRL's maximum-entropy objective f - log pi) and, when the training
    checkpoint is at hand, ``airl_generator`` (AIRL's own policy, trained against the evolving reward). All are
    trained without actuation noise; each is evaluated on the same ``episodes`` (one env seed) without noise
    and with each std in ``action_noise`` (m per step), sampling actions and with the mean action.
    Target per condition and action selection: a learned-reward policy reaches >= 80 % of the expert's
    noise-free replay success and beats BC.
    ``finetune_iterations`` 800: on prototype episodes (not the reported ones) the mean action of BC-then-PPO
    dipped below BC's between 100 and 300 iterations (0.95-0.97) and held 1.000 from 500 to 900, for two
    fine-tuning seeds; PPO shrinks the policy's std as it goes, so its mean action is trained longer.
    """
    expert_rate = replay_success(expert_demos, expert.arm, task)
    torch.manual_seed(seed)
    bc = GaussianPolicy(task.max_step, reward.mean, reward.std, hidden=reward.hidden)
    bc_loss = behaviour_cloning(bc, expert.obs, expert.act, seed=seed)
    bc.eval().requires_grad_(False)
    tuned, tuned_curve = finetune_policy_on_reward(
        reward, bc, expert.arm, task, finetune_iterations, seed=seed, progress=progress
    )
    scratch, curve = train_policy_on_reward(reward, expert.arm, task, ppo_iterations, seed=seed, progress=progress)
    policies = {"bc": bc, LEARNED[0]: tuned, LEARNED[1]: scratch}
    if airl_policy is not None:
        policies["airl_generator"] = airl_policy
    conditions = {}
    for noise in (0.0, *action_noise):
        env = BatchedSortingEnv(task, expert.arm, episodes, action_noise=noise)
        both = {name: policy_success(env, pol, 10_000 + seed, reward) for name, pol in policies.items()}
        rates = {name: r for name, (r, _) in both.items()}
        targets = {}
        for sel in ("sampled", "mean_action"):
            best = max(LEARNED, key=lambda n, sel=sel: rates[n][sel])
            targets[sel] = {
                "best_learned_reward_policy": best,
                "vs_expert": rates[best][sel] / expert_rate if expert_rate else float("nan"),
                "above_bc": rates[best][sel] > rates["bc"][sel],
            }
            targets[sel]["met"] = targets[sel]["vs_expert"] >= 0.8 and targets[sel]["above_bc"]
        name = "noise_free" if noise == 0 else f"actuation_noise_{noise * 1000:g}mm"
        conditions[name] = {
            "action_noise_m": noise,
            "expert_replay_open_loop": replay_success(expert_demos, expert.arm, task, action_noise=noise),
            "success": rates,
            "target": targets,
            "episodes_breakdown": {name: how for name, (_, how) in both.items()},
        }
    return {
        "episodes": episodes,
        "eval_seed": 10_000 + seed,
        "expert_replay_success": expert_rate,
        "conditions": conditions,
        "ppo_iterations": ppo_iterations,
        "finetune_iterations": finetune_iterations,
        "ppo_from_scratch_training_curve": _thin(curve),
        "bc_then_ppo_training_curve": _thin(tuned_curve),
        "expert_mean_g_per_step": float(reward.reward(expert.obs).mean().detach()),
        "rest_mean_g_per_step": rest_reward(BatchedSortingEnv(task, expert.arm, episodes), reward, 10_000 + seed),
        "bc_final_mse": bc_loss,
        "bc_std": bc.log_std.exp().tolist(),
    }


def _thin(curve: list[float], points: int = 20) -> list[float]:
    """About ``points`` evenly spaced values of a per-iteration curve, for the report."""
    return [round(c, 3) for c in curve[:: max(1, len(curve) // points)]]


def plot_rewards(
    reward: RewardNet,
    demos: list[KeypointDemo],
    states: list[torch.Tensor],
    task: SortingTaskCfg,
    report: dict,
    out: Path,
) -> list[Path]:
    """g along each demonstration (the same ``states`` the ranking used) and return vs score, as PNGs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    traces = reward_traces(reward, states)
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
