"""The shipped reward model: files verified, ONNX Runtime holds to torch, and it ranks fresh demonstrations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.stats import spearmanr

from dynamics_stack.runtime import load_runtime
from visual_irl.demos import DemoGenCfg, generate_set
from visual_irl.features import demo_states

CARD = Path(__file__).resolve().parents[2] / "models" / "irl_reward.card.json"
pytestmark = pytest.mark.skipif(not CARD.is_file(), reason="models/irl_reward not shipped yet")


def test_shipped_reward_runs_the_same_under_onnx_runtime_and_torch():
    torch_rt, onnx_rt = load_runtime(CARD, "torch"), load_runtime(CARD, "onnx")
    demos = generate_set(DemoGenCfg(), {"good": 2, "failed": 2}, seed=40, people=2)
    states = np.concatenate([demo_states(d)[0] for d in demos])
    a = torch_rt.run("reward", {"state": states})
    b = onnx_rt.run("reward", {"state": states})
    # float32 MLP: ORT and torch differ by summation order only
    np.testing.assert_allclose(b["reward"], a["reward"], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(b["potential"], a["potential"], rtol=1e-4, atol=1e-4)


def test_shipped_reward_ranks_unseen_demonstrations_by_quality():
    """New people and seeds (not the test set of docs/reward_learning.md): good > suboptimal > failed on average, and a rank
    correlation with the true score well above chance (the held-out figure there is the target)."""
    rt = load_runtime(CARD, "torch")
    demos = generate_set(DemoGenCfg(), {"good": 8, "suboptimal": 8, "failed": 8}, seed=41, people=6)
    returns = np.array([rt.run("reward", {"state": demo_states(d)[0]})["reward"].sum() for d in demos])
    scores = np.array([d.meta["score"] for d in demos])
    quality = np.array([d.meta["quality"] for d in demos])
    means = {q: returns[quality == q].mean() for q in ("good", "suboptimal", "failed")}
    assert means["good"] > means["suboptimal"] > means["failed"], means
    assert spearmanr(returns, scores).statistic > 0.7
