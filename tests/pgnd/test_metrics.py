"""Anchor metrics, the baselines and farthest-point sampling on tiny clouds computed by hand."""

from __future__ import annotations

import math

import pytest
import torch

from pgnd.baselines import constant_velocity, rest
from pgnd.metrics import chamfer, emd, mde


def test_mde_by_hand():
    a = torch.tensor([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    b = torch.tensor([[0.0, 3.0, 4.0], [1.0, 0.0, 1.0]])
    assert mde(a, b).item() == pytest.approx((5.0 + 1.0) / 2)


def test_chamfer_is_sum_of_two_mean_nn_distances_not_squared():
    a = torch.tensor([[0.0, 0.0, 0.0], [2.0, 0.0, 0.0]])
    b = torch.tensor([[0.0, 1.0, 0.0]])
    # a -> b: distances 1 and sqrt(5), mean (1 + sqrt 5) / 2; b -> a: nearest is 1
    assert chamfer(a, b).item() == pytest.approx((1 + math.sqrt(5)) / 2 + 1.0)
    assert chamfer(a, a).item() == 0.0


def test_emd_uses_optimal_matching():
    a = torch.tensor([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    b = torch.tensor([[1.1, 0.0, 0.0], [0.1, 0.0, 0.0]])  # same points, listed in the other order
    assert emd(a, b).item() == pytest.approx(0.1)  # optimal matching pairs 0<->0.1, 1<->1.1
    assert mde(a, b).item() == pytest.approx((1.1 + 0.9) / 2)  # MDE uses the given correspondence
    batch = emd(torch.stack((a, a)), torch.stack((b, a)))
    assert batch.shape == (2,) and batch[1].item() == 0.0


def test_metrics_refuse_bad_shapes():
    with pytest.raises(ValueError, match="empty"):
        chamfer(torch.zeros(0, 3), torch.zeros(2, 3))
    with pytest.raises(ValueError, match="corresponding"):
        mde(torch.zeros(2, 3), torch.zeros(3, 3))


def test_constant_velocity_and_rest_baselines():
    x = torch.tensor([[[[0.0, 0.0, 0.0]], [[0.1, 0.0, 0.0]], [[0.3, 0.0, 0.0]]]])  # [1, 3, 1, 3]
    cv = constant_velocity(x, 3)
    assert torch.allclose(cv[0, :, 0, 0], torch.tensor([0.5, 0.7, 0.9]))
    assert torch.allclose(rest(x, 2)[0, :, 0, 0], torch.tensor([0.3, 0.3]))


def test_farthest_point_sampling_by_hand():
    from pgnd.sampling import farthest_point_indices

    pts = torch.tensor([[0.0, 0, 0], [1.0, 0, 0], [2.0, 0, 0], [10.0, 0, 0]])
    assert farthest_point_indices(pts, 3).tolist() == [0, 3, 2]  # then 2 is 2 from 0, 1 is only 1 away
