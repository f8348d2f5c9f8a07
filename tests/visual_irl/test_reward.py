"""AIRL: the learned reward prefers expert steps, the model file contract (card, ONNX parity), resume."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from dynamics_stack.checkpoint import ModelFileError, load_card
from dynamics_stack.runtime import load_runtime
from visual_irl.airl import discriminator_step, input_gradient_sq, make_modules, train_airl
from visual_irl.env import BatchedSortingEnv, SortingEnv
from visual_irl.features import STATE_DIM, ArmModel
from visual_irl.task import SortingTaskCfg

from .conftest import TINY


def test_reward_of_an_expert_step_exceeds_a_random_step(tiny_model):
    mods, expert, _ = tiny_model
    rng = np.random.default_rng(0)
    idx = np.arange(len(expert.obs))
    s, s_expert = expert.obs[idx], expert.next_obs[idx]
    # a random step from the same states: the wrist moves at random, shoulder/elbow follow the arm model
    wrist = s[:, 6:9].numpy() + rng.uniform(-0.1, 0.1, (len(idx), 3))
    s_random = s.clone()
    s_random[:, 6:9] = torch.from_numpy(wrist).float()
    s_random[:, 0:6] = torch.from_numpy(expert.arm.predict(wrist)).float()
    # the reward of a step is g of the state it reaches (AIRL's state-only reward; f adds only h's shaping)
    with torch.no_grad():
        r_expert = mods.reward.reward(s_expert)
        r_random = mods.reward.reward(s_random)
    assert r_expert.mean() > r_random.mean()
    assert (r_expert > r_random).float().mean() > 0.6


def test_shipped_files_load_and_onnx_matches_torch(tiny_model):
    _, _, card = tiny_model
    assert card.kind == "irl_reward" and len(card.data["arm_model"]) == 10
    states = np.random.default_rng(1).normal(0, 0.3, (64, STATE_DIM)).astype(np.float32)
    torch_out = load_runtime(card.path, "torch").run("reward", {"state": states})
    onnx_out = load_runtime(card.path, "onnx").run("reward", {"state": states})
    for name in ("reward", "potential"):
        assert torch_out[name].shape == (64,)
        # float32 MLP of three layers: ORT and torch differ only by summation order (~1e-6 relative)
        np.testing.assert_allclose(onnx_out[name], torch_out[name], rtol=1e-4, atol=1e-5)


def test_corrupted_model_file_is_refused(tiny_model, tmp_path):
    _, _, card = tiny_model
    weights = card.file("weights")
    copy = tmp_path / "reward.card.json"
    copy.write_text(card.path.read_text())
    (tmp_path / weights.name).write_bytes(weights.read_bytes()[:-8] + b"\0" * 8)
    with pytest.raises(ModelFileError, match="SHA-256"):
        load_card(copy)


def test_resume_continues_from_the_checkpoint(tiny_demos, tmp_path):
    cfg = dataclasses.replace(TINY, iterations=4, checkpoint_every=2)
    out = tmp_path / "r"
    train_airl(dataclasses.replace(cfg, iterations=2), tiny_demos, out, progress=False, save=True)
    with pytest.raises(ValueError, match="another training config"):
        train_airl(cfg, tiny_demos, out, progress=False, resume=True)
    # the same recipe resumes: nothing left to do, the card reports the checkpoint's last iteration
    _, _, card = train_airl(dataclasses.replace(cfg, iterations=2), tiny_demos, out, progress=False, resume=True)
    assert card.data["training"]["final"]["iteration"] == 2
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        train_airl(cfg, tiny_demos, tmp_path / "none", progress=False, resume=True)


def test_gymnasium_env_follows_the_task_rules(tiny_model):
    _, expert, _ = tiny_model
    env = SortingEnv(arm=expert.arm)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (STATE_DIM,) and env.observation_space.contains(obs)
    task = env.core.task
    total = 0.0
    # drive the wrist to the onion, then to the box its label calls for
    for _ in range(task.horizon):
        c = env.core
        goal = c.onion[0] if c.placed[0] == 0 and not c.held[0] else None
        if goal is None:
            goal = np.asarray(task.bin_center if c.blemished[0] > 0.5 else task.conveyor_center)
            if c.placed[0]:
                goal = np.asarray(task.rest)
        obs, r, terminated, truncated, info = env.step(np.clip(goal - c.wrist[0], -0.1, 0.1))
        total += r
        if truncated:
            break
    assert info["success"] and total == 1.0 and truncated and not terminated


def test_arm_model_fits_a_known_quadratic():
    rng = np.random.default_rng(2)
    wrist = rng.uniform(-0.5, 0.5, (500, 3))
    coef = rng.normal(0, 1, (10, 6))
    states = np.zeros((500, STATE_DIM))
    states[:, 6:9] = wrist
    states[:, 0:6] = ArmModel.design(wrist) @ coef
    np.testing.assert_allclose(ArmModel.fit(states, ridge=1e-9).coef, coef, atol=1e-5)


def test_batched_env_clips_actions_and_rejects_non_finite(tiny_model):
    _, expert, _ = tiny_model
    env = BatchedSortingEnv(SortingTaskCfg(), expert.arm, 3)
    env.reset(seed=1)
    w0 = env.wrist.copy()
    env.step(np.array([[1.0, 0, 0], [np.nan, 0, 0], [0, -np.inf, 0]]))
    np.testing.assert_allclose(env.wrist - w0, [[0.1, 0, 0], [0, 0, 0], [0, -0.1, 0]])


def _expert_gradient(mods, states) -> float:
    s = states.clone().requires_grad_(True)
    s2 = states.clone().requires_grad_(True)
    return float(input_gradient_sq(mods.reward.f(s, s2).sum(), s, s2).mean().detach())


def test_gradient_penalty_flattens_the_reward_at_the_demonstrations(tiny_model):
    _, expert, _ = tiny_model
    task = SortingTaskCfg()
    # non-expert samples: the expert's states with the wrist moved a few cm, arm following
    rng = np.random.default_rng(5)
    p_obs = expert.obs.clone()
    wrist = p_obs[:, 6:9].numpy() + rng.normal(0, 0.04, (len(p_obs), 3))
    p_obs[:, 6:9] = torch.from_numpy(wrist).float()
    p_obs[:, 0:6] = torch.from_numpy(expert.arm.predict(wrist)).float()
    p_next, p_act = p_obs.roll(-1, 0), expert.act
    grads = {}
    for weight in (0.0, 1.0):
        cfg = dataclasses.replace(TINY, grad_penalty=weight)
        torch.manual_seed(0)
        mods, opt = make_modules(cfg, task, expert)
        gen = torch.Generator().manual_seed(0)
        for _ in range(60):
            loss, _ = discriminator_step(mods, opt, expert, p_obs, p_act, p_next, cfg, gen)
            assert np.isfinite(loss)
        grads[weight] = _expert_gradient(mods, expert.obs)
    assert grads[1.0] < 0.5 * grads[0.0]
