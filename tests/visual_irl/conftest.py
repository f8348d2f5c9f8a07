"""Shared fixtures: a few generated demonstrations and a reward model from a short AIRL run on them."""

from __future__ import annotations

import pytest
import torch

from visual_irl.airl import IrlTrainCfg, train_airl
from visual_irl.demos import DemoGenCfg, generate_set

TINY = IrlTrainCfg(iterations=12, n_envs=16, disc_steps=8, disc_batch=256, checkpoint_every=4, seed=3)


@pytest.fixture(scope="session")
def tiny_demos():
    return generate_set(DemoGenCfg(), {"good": 8}, seed=7, people=4)


@pytest.fixture(scope="session")
def tiny_model(tiny_demos, tmp_path_factory):
    """(modules, expert data, card) of a 12-iteration AIRL run on 8 demonstrations (a few seconds)."""
    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("irl") / "tiny_reward"
    return train_airl(TINY, tiny_demos, out, progress=False)
