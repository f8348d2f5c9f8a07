"""Policies on the learned reward: actuation noise, BC's fitted std, reward ensembles, BC-then-PPO, the comparison."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from dynamics_stack.runtime import load_runtime
from visual_irl.airl import finetune_policy_on_reward, train_airl
from visual_irl.env import BatchedSortingEnv
from visual_irl.evaluate import policy_comparison
from visual_irl.features import STATE_DIM
from visual_irl.policy import GaussianPolicy, behaviour_cloning
from visual_irl.reward import RewardNet
from visual_irl.task import SortingTaskCfg

from .conftest import TINY


def test_actuation_noise_has_its_std_and_does_not_depend_on_the_actions(tiny_model):
    _, expert, _ = tiny_model
    task = SortingTaskCfg()
    env = BatchedSortingEnv(task, expert.arm, 2000, action_noise=0.01)
    env.reset(seed=4)
    w0 = env.wrist.copy()
    env.step(np.zeros((2000, 3)))
    noise = env.wrist - w0
    assert abs(noise.std() - 0.01) < 0.0005 and abs(noise.mean()) < 0.001
    # same seed, other actions: the same noise on top of the (clipped) commanded displacement
    env.reset(seed=4)
    env.step(np.full((2000, 3), 0.5))
    np.testing.assert_allclose(env.wrist - w0, noise + task.max_step, atol=1e-12)
    quiet = BatchedSortingEnv(task, expert.arm, 5)
    quiet.reset(seed=4)
    w0 = quiet.wrist.copy()
    quiet.step(np.full((5, 3), 0.02))
    np.testing.assert_allclose(quiet.wrist - w0, 0.02)
    for bad in (-0.01, float("nan")):
        with pytest.raises(ValueError, match="action_noise"):
            BatchedSortingEnv(task, expert.arm, 1, action_noise=bad)


def test_behaviour_cloning_sets_the_maximum_likelihood_std(tiny_model):
    _, expert, _ = tiny_model
    torch.manual_seed(0)
    policy = GaussianPolicy(0.1, expert.obs.mean(0), expert.obs.std(0).clamp_min(1e-3))
    before = policy.log_std.detach().clone()
    behaviour_cloning(policy, expert.obs, expert.act, epochs=5)
    with torch.no_grad():
        rms = (policy.mean(expert.obs) - expert.act).pow(2).mean(0).sqrt()
    torch.testing.assert_close(policy.log_std.detach().exp(), rms)
    assert not torch.equal(policy.log_std.detach(), before)


def test_reward_ensemble_is_the_mean_of_its_members_and_exports(tiny_demos, tmp_path):
    cfg = dataclasses.replace(TINY, iterations=3, checkpoint_every=3, members=2)
    _, _, card = train_airl(cfg, tiny_demos, tmp_path / "ens", progress=False)
    assert card.data["config"]["members"] == 2 and len(card.data["training"]["final_per_member"]) == 2
    singles = [
        train_airl(
            dataclasses.replace(cfg, members=1, seed=cfg.seed + k), tiny_demos, tmp_path / f"m{k}", progress=False
        )[0]
        for k in range(2)
    ]
    states = torch.from_numpy(np.random.default_rng(3).normal(0, 0.3, (32, STATE_DIM)).astype(np.float32))
    rt = load_runtime(card.path, "torch")
    with torch.no_grad():
        want = torch.stack([m.reward_ema.reward(states) for m in singles]).mean(0)
        torch.testing.assert_close(rt.model.reward(states), want)
        torch.testing.assert_close(rt.model.member_rewards(states)[1], singles[1].reward_ema.reward(states))
    onnx = load_runtime(card.path, "onnx").run("reward", {"state": states.numpy()})
    np.testing.assert_allclose(onnx["reward"], want.numpy(), rtol=1e-4, atol=1e-5)
    # each member resumes from its own checkpoint (nothing left to do: the same card comes out)
    _, _, again = train_airl(cfg, tiny_demos, tmp_path / "ens", progress=False, resume=True)
    assert again.data["training"]["final_per_member"] == card.data["training"]["final_per_member"]
    with pytest.raises(ValueError, match="share"):
        RewardNet.ensemble([singles[0].reward_ema, RewardNet(hidden=8)])


def test_finetuning_moves_a_copy_of_the_bc_policy(tiny_model):
    mods, expert, _ = tiny_model
    torch.manual_seed(0)
    bc = GaussianPolicy(0.1, mods.reward.mean, mods.reward.std, hidden=mods.reward.hidden)
    behaviour_cloning(bc, expert.obs, expert.act, epochs=3)
    before = {k: v.clone() for k, v in bc.state_dict().items()}
    tuned, curve = finetune_policy_on_reward(
        mods.reward_ema, bc, expert.arm, SortingTaskCfg(), 2, n_envs=8, value_warmup=1
    )
    assert len(curve) == 2 and all(0.0 <= c <= 1.0 for c in curve)
    assert all(torch.equal(v, bc.state_dict()[k]) for k, v in before.items())  # the BC policy is untouched
    assert not torch.equal(tuned.mu[0].weight, bc.mu[0].weight)
    torch.testing.assert_close(tuned.log_std, bc.log_std, atol=0.01, rtol=0)  # starts from BC's std


def test_policy_comparison_runs_every_policy_in_every_condition(tiny_model, tiny_demos):
    mods, expert, _ = tiny_model
    report = policy_comparison(
        mods.reward_ema, expert, tiny_demos[:3], SortingTaskCfg(), 1, finetune_iterations=1, episodes=8,
        action_noise=(0.01,), airl_policy=mods.policy,
    )  # fmt: skip
    assert set(report["conditions"]) == {"noise_free", "actuation_noise_10mm"}
    for cond in report["conditions"].values():
        assert set(cond["success"]) == {
            "bc", "bc_then_ppo_on_learned_reward", "ppo_on_learned_reward_from_scratch", "airl_generator"
        }  # fmt: skip
        for name, rates in cond["success"].items():
            assert set(rates) == {"sampled", "mean_action"} and all(0.0 <= r <= 1.0 for r in rates.values())
            for sel, rate in rates.items():  # every failed episode falls in exactly one failure class
                b = cond["episodes_breakdown"][name][sel]
                assert b["not_grasped"] + b["wrong_box"] + b["grasped_not_placed"] == pytest.approx(1 - rate)
        for sel, t in cond["target"].items():
            best = cond["success"][t["best_learned_reward_policy"]][sel]
            assert t["above_bc"] == (best > cond["success"]["bc"][sel])
            assert t["met"] == (t["above_bc"] and t["vs_expert"] >= 0.8)
    assert report["expert_replay_success"] == 1.0  # the generated good demos sort their onion when replayed
