"""Adversarial inverse RL (AIRL, Fu et al. 2018) over keypoint states, written in torch.

Why not the ``imitation`` library: its last release (1.0.1) pins gymnasium
0.29 and Stable-Baselines3 2.2 and pulls some 45 packages (datasets, pyarrow,
pandas, tensorboard, optuna, sacred); gymnasium 0.29 predates numpy 2, which
this project pins. The algorithm is small, so it is written here:

    D(s, a, s') = sigmoid(f(s, s') - log pi(a|s)),   f = g(s) + gamma h(s') - h(s)
    discriminator: expert transitions labelled 1, policy transitions 0 (BCE)
    generator:     PPO on r = f(s, s') - log pi(a|s)  (= log D - log(1 - D))

Expert states are put on the environment's arm (shoulder and elbow from the
``ArmModel`` regression of the wrist), so the discriminator cannot tell demos
from policy by the regression's residual; both sides get the same small
Gaussian instance noise.

Training writes ``OUT.ckpt/last.safetensors`` (reward, policy, optimiser,
iteration) every ``checkpoint_every`` iterations and ``OUT.ckpt/log.csv``;
``resume`` continues from it with the same per-iteration seeds (the
discriminator's replay buffer of policy samples starts empty again). The shipped model is the reward
network (``save_model`` -> card, safetensors, ONNX).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from dynamics_stack.atomic import atomic_write_bytes
from dynamics_stack.checkpoint import ModelCard, load_training_state, save_training_state
from dynamics_stack.config import cfg_from_dict, cfg_to_dict
from dynamics_stack.runtime import save_model
from visual_irl.env import BatchedSortingEnv
from visual_irl.features import STATE_NAMES, ArmModel, demo_states
from visual_irl.keypoints import KeypointDemo
from visual_irl.policy import GaussianPolicy, collect, ppo_update
from visual_irl.reward import RewardNet
from visual_irl.task import SortingTaskCfg


@dataclass(frozen=True, kw_only=True)
class IrlTrainCfg:
    """AIRL training recipe (sized for minutes on one CPU thread)."""

    iterations: int = 150
    """Adversarial iterations (one rollout batch, discriminator steps, one PPO update each)."""
    n_envs: int = 64
    """Parallel episodes per rollout batch."""
    disc_steps: int = 8
    """Discriminator minibatch steps per iteration."""
    disc_batch: int = 512
    """Transitions per side in a discriminator minibatch."""
    project_arm: bool = True
    """Reward sees shoulder and elbow through the arm model (as the policy's environment makes them), not as
    observed; measured: with the raw elbow the discriminator separates demos from rollouts by the regression's
    residual and the held-out Spearman drops (0.53-0.59 raw vs 0.76-0.79 projected, 100-iteration runs)."""
    replay_iterations: int = 20
    """Policy batches kept for the discriminator (a replay buffer, as the imitation library's AIRL keeps)."""
    ema_decay: float = 0.0
    """Exponential moving average of the reward weights, per iteration (0: none); the average is shipped.
    Averages out the discriminator's iteration-to-iteration swings."""
    lr_reward: float = 3e-4
    """Adam learning rate of g and h."""
    lr_policy: float = 3e-4
    """Adam learning rate of the policy and value networks."""
    gamma: float = 0.99
    """Discount (PPO and AIRL shaping)."""
    hidden: int = 64
    """Hidden width of g, h, policy and value MLPs."""
    instance_noise: float = 0.01
    """Std of the Gaussian noise added to both sides' discriminator inputs (m; flag unaffected)."""
    entropy: float = 0.0
    """PPO entropy bonus."""
    grad_penalty: float = 0.0
    """Weight of the R1 penalty (Mescheder et al. 2018): the squared gradient of f on expert transitions.
    Keeps the reward smooth where the demonstrations are, so states no rollout reached get a reward
    extrapolated smoothly rather than one that depends on the seed (0: off)."""
    min_confidence: float = 0.5
    """Keypoints below this confidence count as missing when states are built."""
    checkpoint_every: int = 10
    """Iterations between training checkpoints."""
    seed: int = 0
    """Base seed; iteration i uses seed + i."""
    members: int = 1
    """Independent AIRL runs (seeds seed, seed + 1, ...; all else equal) whose g and h are averaged into the
    shipped reward. Measured: single runs rank held-out demos with Spearman 0.85-0.92 depending on the seed;
    the average of three is steadier (see models/README.md)."""

    def __post_init__(self) -> None:
        if self.iterations < 1 or self.n_envs < 1 or self.disc_steps < 0 or self.disc_batch < 1:
            raise ValueError("iterations, n_envs, disc_batch >= 1 and disc_steps >= 0 required")
        if not 0 < self.gamma <= 1:
            raise ValueError(f"gamma must be in (0, 1], got {self.gamma}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1), got {self.ema_decay}")
        if self.replay_iterations < 1:
            raise ValueError("replay_iterations must be >= 1")
        if self.checkpoint_every < 1:
            raise ValueError("checkpoint_every must be >= 1")
        if self.members < 1:
            raise ValueError("members must be >= 1")


@dataclass
class ExpertData:
    """Expert transitions (on the env's arm) and the raw per-demo states."""

    obs: torch.Tensor  # [M, 13]
    act: torch.Tensor  # [M, 3]
    next_obs: torch.Tensor  # [M, 13]
    arm: ArmModel
    invalid_frames: int
    frames: int


def expert_data(demos: list[KeypointDemo], task: SortingTaskCfg, min_confidence: float) -> ExpertData:
    """States every ``task.dt`` from the demos, the fitted arm model, and (s, a, s') transitions."""
    if not demos:
        raise ValueError("no expert demonstrations given")
    per_demo, invalid, frames = [], 0, 0
    for demo in demos:
        step = max(1, round(task.dt / float(np.median(np.diff(demo.t)))))
        s, info = demo_states(demo, step=step, min_confidence=min_confidence)
        per_demo.append(s)
        invalid += info["invalid_frames"]
        frames += info["frames"]
    arm = ArmModel.fit(np.concatenate(per_demo))
    obs, act, nxt = [], [], []
    for s in per_demo:
        s = arm.project(s)
        obs.append(s[:-1])
        nxt.append(s[1:])
        act.append(np.clip(s[1:, 6:9] - s[:-1, 6:9], -task.max_step, task.max_step))
    cat = lambda xs: torch.from_numpy(np.concatenate(xs).astype(np.float32))  # noqa: E731
    return ExpertData(cat(obs), cat(act), cat(nxt), arm, invalid, frames)


class AirlModules(nn.Module):
    """Everything trained, in one module so one checkpoint holds it (``reward_ema``: the shipped reward)."""

    def __init__(self, reward: RewardNet, policy: GaussianPolicy):
        super().__init__()
        self.reward, self.policy = reward, policy
        self.reward_ema = copy.deepcopy(reward).requires_grad_(False)

    @torch.no_grad()
    def update_ema(self, decay: float) -> None:
        for e, p in zip(self.reward_ema.state_dict().values(), self.reward.state_dict().values(), strict=True):
            e.copy_(p) if decay == 0.0 or not e.is_floating_point() else e.mul_(decay).add_(p, alpha=1 - decay)


def make_modules(cfg: IrlTrainCfg, task: SortingTaskCfg, expert: ExpertData) -> tuple[AirlModules, torch.optim.Adam]:
    reward = RewardNet(hidden=cfg.hidden, gamma=cfg.gamma, project_arm=cfg.project_arm)
    reward.set_normalization(expert.obs)
    reward.set_arm_model(expert.arm.coef)
    policy = GaussianPolicy(task.max_step, reward.mean, reward.std, hidden=cfg.hidden)
    mods = AirlModules(reward, policy)
    # one optimiser, two groups: each loss only produces gradients for its own group, and
    # Adam skips parameters whose gradient is None (zero_grad(set_to_none=True) before each step)
    opt = torch.optim.Adam(
        [
            {"params": list(reward.parameters()), "lr": cfg.lr_reward},
            {"params": list(policy.parameters()), "lr": cfg.lr_policy},
        ]
    )
    return mods, opt


def _noisy(x: torch.Tensor, std: float, gen: torch.Generator) -> torch.Tensor:
    noise = torch.randn(x.shape, generator=gen) * std
    noise[..., -1] = 0.0  # the blemished flag is a label, not a measurement
    return x + noise


def input_gradient_sq(f_sum: torch.Tensor, s: torch.Tensor, s2: torch.Tensor) -> torch.Tensor:
    """Per row, the squared gradient of ``f_sum`` with respect to the states s and s' [B, 13] (the R1 term of
    ``IrlTrainCfg.grad_penalty``); the blemished flag is a label, not a direction, and is left out."""
    gs, gs2 = torch.autograd.grad(f_sum, (s, s2), create_graph=True)
    return gs[:, :-1].pow(2).sum(-1) + gs2[:, :-1].pow(2).sum(-1)


def discriminator_step(
    mods: AirlModules, opt, expert: ExpertData, ro_obs, ro_act, ro_next, cfg: IrlTrainCfg, gen
) -> tuple[float, float]:
    """One BCE step; returns (loss, accuracy)."""
    n_e, n_p = len(expert.obs), len(ro_obs)
    ie = torch.randint(0, n_e, (cfg.disc_batch,), generator=gen)
    ip = torch.randint(0, n_p, (cfg.disc_batch,), generator=gen)
    s = torch.cat([expert.obs[ie], ro_obs[ip]])
    a = torch.cat([expert.act[ie], ro_act[ip]])
    s2 = torch.cat([expert.next_obs[ie], ro_next[ip]])
    with torch.no_grad():
        logp = mods.policy.log_prob(s, a)
    s_in, s2_in = _noisy(s, cfg.instance_noise, gen), _noisy(s2, cfg.instance_noise, gen)
    if cfg.grad_penalty > 0.0:
        s_in.requires_grad_(True), s2_in.requires_grad_(True)
    f = mods.reward.f(s_in, s2_in)
    logits = f - logp
    labels = torch.cat([torch.ones(cfg.disc_batch), torch.zeros(cfg.disc_batch)])
    loss = nn.functional.binary_cross_entropy_with_logits(logits, labels)
    if cfg.grad_penalty > 0.0:
        n = cfg.disc_batch  # the expert half
        r1 = input_gradient_sq(f[:n].sum(), s_in, s2_in)[:n].mean()
        loss = loss + 0.5 * cfg.grad_penalty * r1
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    acc = float(((logits > 0).float() == labels).float().mean())
    return float(loss.detach()), acc


def train_airl(
    cfg: IrlTrainCfg,
    demos: list[KeypointDemo],
    out: str | Path,
    task: SortingTaskCfg | None = None,
    resume: bool = False,
    progress: bool = True,
    save: bool = True,
    callback=None,
) -> tuple[AirlModules, ExpertData, ModelCard | None]:
    """Run AIRL; with ``save`` write the reward model card under ``out``. Returns (modules, expert data, card).

    With ``cfg.members`` > 1 the members run one after the other (checkpoints ``OUT.ckpt/member_K/``; each
    resumes on its own) and the returned modules are the first member's, with the ensemble as ``reward_ema``.
    """
    task = task or SortingTaskCfg()
    out = Path(out)
    ckpt_dir = out.with_name(out.name + ".ckpt")
    expert = expert_data(demos, task, cfg.min_confidence)
    t0 = time.perf_counter()
    runs = []
    for k in range(cfg.members):
        member = dataclasses.replace(cfg, seed=cfg.seed + k, members=1)
        where = ckpt_dir if cfg.members == 1 else ckpt_dir / f"member_{k}"
        runs.append(_train_one(member, expert, task, where, resume, progress, save, callback))
    mods, log_rows = runs[0]
    if cfg.members > 1:
        mods.reward_ema = RewardNet.ensemble([m.reward_ema for m, _ in runs])
    seconds = time.perf_counter() - t0
    card = None
    if save:
        training = {
            "algorithm": "AIRL (torch, this package)",
            "config": cfg_to_dict(cfg),
            "task": cfg_to_dict(task),
            "demos": len(demos),
            "transitions": len(expert.obs),
            "frames": expert.frames,
            "invalid_frames_filled": expert.invalid_frames,
            "seconds_this_run": round(seconds, 1),
            "threads": torch.get_num_threads(),
            "final": log_rows[-1] if log_rows else {},
        }
        if cfg.members > 1:
            training["final_per_member"] = [rows[-1] if rows else {} for _, rows in runs]
        card = save_model(
            out,
            mods.reward_ema,
            kind="irl_reward",
            config=mods.reward_ema.config(),
            description="AIRL reward g(s) and shaping h(s) over keypoint states of the onion-sorting task"
            + (f" (mean of {cfg.members} AIRL runs)" if cfg.members > 1 else ""),
            state=list(STATE_NAMES),
            arm_model=expert.arm.to_list(),
            training=training,
        )
    return mods, expert, card


def _train_one(
    cfg: IrlTrainCfg, expert: ExpertData, task: SortingTaskCfg, ckpt_dir: Path, resume: bool, progress, save, callback
) -> tuple[AirlModules, list[dict]]:
    """One AIRL run (checkpoints in ``ckpt_dir``); returns its modules and log rows."""
    torch.manual_seed(cfg.seed)  # the networks' initial weights: a run is a function of its recipe
    mods, opt = make_modules(cfg, task, expert)
    env = BatchedSortingEnv(task, expert.arm, cfg.n_envs)
    start, log_rows = 0, []
    last = ckpt_dir / "last.safetensors"
    if resume:
        if not last.is_file():
            raise FileNotFoundError(f"{last}: no checkpoint to resume from")
        extra = load_training_state(last, mods, opt)
        # fields added since the checkpoint was written read as their defaults
        if cfg_from_dict(IrlTrainCfg, extra.get("cfg"), source=str(last)) != cfg:
            raise ValueError(f"{last}: checkpoint was made with another training config; start without --resume")
        start, log_rows = int(extra["iteration"]), list(extra.get("log", []))
    replay: list[tuple[torch.Tensor, ...]] = []
    bar = tqdm(range(start, cfg.iterations), desc="airl", disable=not progress, initial=start, total=cfg.iterations)
    for it in bar:
        torch.manual_seed(cfg.seed + it)
        gen = torch.Generator().manual_seed(cfg.seed + it)
        ro = collect(env, mods.policy, seed=cfg.seed * 100003 + it)
        # the discriminator sees the policy's transitions of the last `replay_iterations` batches, so states
        # the policy has left behind (early wandering, wrong bins) stay marked as non-expert
        replay.append(tuple(x.reshape(-1, x.shape[-1]) for x in (ro.obs, ro.act, ro.next_obs)))
        del replay[: -cfg.replay_iterations]
        p_obs, p_act, p_next = (torch.cat(parts) for parts in zip(*replay, strict=True))
        d_loss = d_acc = float("nan")
        for _ in range(cfg.disc_steps):
            d_loss, d_acc = discriminator_step(mods, opt, expert, p_obs, p_act, p_next, cfg, gen)
        mods.update_ema(cfg.ema_decay)
        with torch.no_grad():
            rew = mods.reward.f(ro.obs, ro.next_obs) - mods.policy.log_prob(ro.obs, ro.act)
        stats = ppo_update(mods.policy, opt, ro, rew, gamma=cfg.gamma, entropy=cfg.entropy, gen=gen)
        row = {
            "iteration": it + 1,
            "disc_loss": d_loss,
            "disc_acc": d_acc,
            "success": float(ro.success.mean()),
            **stats,
        }
        log_rows.append({k: round(v, 5) if isinstance(v, float) else v for k, v in row.items()})
        bar.set_postfix(d_loss=f"{d_loss:.3f}", d_acc=f"{d_acc:.2f}", success=f"{row['success']:.2f}")
        if callback is not None:
            callback(it + 1, mods, expert)
        if save and ((it + 1) % cfg.checkpoint_every == 0 or it + 1 == cfg.iterations):
            ckpt_dir.mkdir(parents=True, exist_ok=True)
            save_training_state(last, mods, opt, {"iteration": it + 1, "cfg": cfg_to_dict(cfg), "log": log_rows})
            _write_log(ckpt_dir / "log.csv", log_rows)
    return mods, log_rows


def _write_log(path: Path, rows: list[dict]) -> None:
    if not rows:
        return
    keys = list(rows[0])
    lines = [",".join(keys)] + [",".join(str(r.get(k, "")) for k in keys) for r in rows]
    atomic_write_bytes(path, ("\n".join(lines) + "\n").encode())


def train_policy_on_reward(
    reward: RewardNet,
    arm: ArmModel,
    task: SortingTaskCfg,
    iterations: int,
    n_envs: int = 64,
    seed: int = 0,
    lr: float = 3e-4,
    progress: bool = False,
) -> tuple[GaussianPolicy, list[float]]:
    """A fresh PPO policy trained on the learned reward in AIRL's maximum-entropy sense: r = f(s, s') - log pi(a|s)
    (f = g plus its shaping, which keeps the optimum of g; the entropy term is the objective AIRL's reward is
    recovered under)."""
    torch.manual_seed(seed)
    policy = GaussianPolicy(task.max_step, reward.mean, reward.std, hidden=reward.hidden)
    opt = torch.optim.Adam(policy.parameters(), lr=lr)
    env = BatchedSortingEnv(task, arm, n_envs)
    curve = _ppo_on_reward(policy, opt, env, reward, iterations, seed, True, "ppo on learned reward", progress)
    return policy, curve


def finetune_policy_on_reward(
    reward: RewardNet,
    init: GaussianPolicy,
    arm: ArmModel,
    task: SortingTaskCfg,
    iterations: int,
    n_envs: int = 64,
    seed: int = 0,
    lr: float = 1e-4,
    value_warmup: int = 30,
    action_noise: float = 0.0,
    progress: bool = False,
) -> tuple[GaussianPolicy, list[float]]:
    """PPO on the learned reward f(s, s') starting from a behaviour-cloned policy (a copy of ``init``).

    Why: from scratch, PPO on this reward stays near the rest pose (``evaluate`` measures it): rest states are
    expert states with a fair reward, the reach to the onion first lowers it, and a wandering exploratory
    policy leaves the demonstrated states, where g is strongly negative. Started on the demonstrated states
    (BC), the policy is improved by the reward alone: the demonstrations enter only through the starting
    point. No entropy term: the BC std is the demonstrations' spread, and -log pi would widen it.
    Before the policy moves, the value head is fitted to the starting policy's returns (``value_warmup``
    rollouts), so the first updates follow real advantages rather than a random critic.
    """
    torch.manual_seed(seed)
    policy = copy.deepcopy(init).requires_grad_(True)
    env = BatchedSortingEnv(task, arm, n_envs, action_noise=action_noise)
    vopt = torch.optim.Adam(policy.value.parameters(), lr=1e-3)
    for it in range(value_warmup):
        ro = collect(env, policy, seed=seed * 7919 + 500_000 + it)
        with torch.no_grad():
            ret = discounted_returns(reward.f(ro.obs, ro.next_obs), policy.v(ro.next_obs[-1]), reward.gamma)
        for _ in range(10):
            loss = (policy.v(ro.obs) - ret).pow(2).mean()
            vopt.zero_grad(set_to_none=True)
            loss.backward()
            vopt.step()
    opt = torch.optim.Adam(policy.parameters(), lr=lr)
    curve = _ppo_on_reward(policy, opt, env, reward, iterations, seed, False, "ppo from BC on learned reward", progress)
    return policy.eval().requires_grad_(False), curve


def _ppo_on_reward(
    policy: GaussianPolicy,
    opt: torch.optim.Optimizer,
    env: BatchedSortingEnv,
    reward: RewardNet,
    iterations: int,
    seed: int,
    entropy: bool,
    desc: str,
    progress: bool,
) -> list[float]:
    """PPO iterations on the learned reward f(s, s') (minus log pi when ``entropy``); success rate per iteration."""
    curve = []
    for it in tqdm(range(iterations), desc=desc, disable=not progress):
        torch.manual_seed(seed + it)
        gen = torch.Generator().manual_seed(seed + it)
        ro = collect(env, policy, seed=seed * 7919 + it)
        with torch.no_grad():
            rew = reward.f(ro.obs, ro.next_obs)
            if entropy:
                rew = rew - policy.log_prob(ro.obs, ro.act)
        ppo_update(policy, opt, ro, rew, gamma=reward.gamma, gen=gen)
        curve.append(float(ro.success.mean()))
    return curve


def discounted_returns(rewards: torch.Tensor, v_last: torch.Tensor, gamma: float) -> torch.Tensor:
    """Returns [T, N] of rewards [T, N], bootstrapped with the value of the state after the horizon."""
    out, acc = torch.empty_like(rewards), v_last
    for t in reversed(range(len(rewards))):
        acc = rewards[t] + gamma * acc
        out[t] = acc
    return out


def card_summary(card: ModelCard) -> str:
    return json.dumps({"card": str(card.path), "final": card.data.get("training", {}).get("final", {})})
