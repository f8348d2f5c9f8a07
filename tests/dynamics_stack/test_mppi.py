"""The generic MPPI engine: weights, bounds, determinism, warm start, critics, and a closed loop."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dynamics_stack.config import ConfigError, cfg_from_dict
from dynamics_stack.examples.unicycle import (
    UnicycleCfg,
    make_unicycle_mppi,
    run_unicycle_episode,
    straight_line_blocked,
    unicycle_rollout,
    unicycle_step,
)
from dynamics_stack.mppi import Mppi, MppiCfg, RolloutBatch, build_critics, mppi_weights


class FixedCost:
    """A critic returning given costs, to check the update by hand."""

    def __init__(self, costs, weight=1.0, enabled=True, name="fixed"):
        self.name, self.enabled, self.weight = name, enabled, weight
        self.costs = torch.as_tensor(costs, dtype=torch.float32)

    def score(self, batch: RolloutBatch) -> torch.Tensor:
        return self.costs


class TerminalX:
    """Cost = |x_T - target| of a 1-D double integrator state."""

    def __init__(self, target=1.0, weight=1.0, enabled=True):
        self.name, self.enabled, self.weight, self.target = "terminal_x", enabled, weight, target

    def score(self, batch: RolloutBatch) -> torch.Tensor:
        return (batch.states[:, -1, 0] - self.target).abs()


def double_integrator(actions: torch.Tensor, dt: float = 0.1) -> RolloutBatch:
    """x'' = u, from rest at 0, whole horizon by cumulative sums: states [K, T, 2] = (x, v)."""
    v = torch.cumsum(actions[..., 0] * dt, dim=1)
    x = torch.cumsum(v * dt, dim=1)
    return RolloutBatch(actions=actions, states=torch.stack([x, v], dim=-1))


def small_cfg(**overrides) -> MppiCfg:
    base = MppiCfg(num_samples=64, horizon=8, noise_sigma=(1.0,), temperature=0.5, seed=3)
    return dataclasses.replace(base, **overrides)


def test_hand_computed_weight_update():
    # Costs 0, 1, 2 at temperature 1: w = (1, e^-1, e^-2) / (1 + e^-1 + e^-2)
    # = (0.665241, 0.244728, 0.090031). Sample k acts with constant value k, so the
    # new plan is sum_k w_k * k = (e^-1 + 2 e^-2) / (1 + e^-1 + e^-2) = 0.424790.
    cfg = MppiCfg(num_samples=3, horizon=4, noise_sigma=(1.0,), temperature=1.0)
    mppi = Mppi(cfg, [FixedCost([0.0, 1.0, 2.0])])
    actions = torch.arange(3, dtype=torch.float32).view(3, 1, 1).expand(3, 4, 1)
    result = mppi.update(RolloutBatch(actions=actions, states=actions))
    assert torch.allclose(result.weights, torch.tensor([0.665241, 0.244728, 0.090031]), atol=1e-6)
    assert torch.allclose(result.plan, torch.full((4, 1), 0.424790), atol=1e-6)
    assert result.best_index == 0
    assert result.action.item() == pytest.approx(0.424790, abs=1e-6)


def test_weights_sum_to_one_and_favour_low_cost():
    mppi = Mppi(small_cfg(), [TerminalX()])
    result = mppi.plan(double_integrator)
    assert result.weights.sum().item() == pytest.approx(1.0, abs=1e-6)
    assert (result.weights >= 0).all()
    assert result.weights[result.best_index] == result.weights.max()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(min_value=-1e30, max_value=1e30, allow_nan=False), min_size=1, max_size=50))
def test_weights_are_a_distribution_for_any_finite_costs(costs):
    w = mppi_weights(torch.tensor(costs, dtype=torch.float64), temperature=0.1)
    assert torch.isfinite(w).all()
    assert w.sum().item() == pytest.approx(1.0, abs=1e-9)


def test_nan_cost_sample_gets_zero_weight():
    mppi = Mppi(MppiCfg(num_samples=3, horizon=2, noise_sigma=(1.0,)), [FixedCost([float("nan"), 5.0, 6.0])])
    actions = torch.ones(3, 2, 1)
    result = mppi.update(RolloutBatch(actions=actions, states=actions))
    assert result.weights[0].item() == 0.0
    assert torch.isfinite(result.plan).all()


def test_bounds_hold_for_samples_and_plan():
    cfg = small_cfg(noise_sigma=(5.0, 5.0), action_min=(-0.5, 0.0), action_max=(0.5, 2.0))
    mppi = Mppi(cfg, [])
    samples = mppi.sample()
    lo, hi = torch.tensor(cfg.action_min), torch.tensor(cfg.action_max)
    assert ((samples >= lo) & (samples <= hi)).all()
    result = mppi.plan(lambda a: RolloutBatch(actions=a, states=a))
    assert ((result.plan >= lo) & (result.plan <= hi)).all()


def test_same_seed_same_plan_other_seed_other_plan():
    plans = [Mppi(small_cfg(seed=s), [TerminalX()]).plan(double_integrator).plan for s in (7, 7, 8)]
    assert torch.equal(plans[0], plans[1])
    assert not torch.equal(plans[0], plans[2])


def test_iterations_improve_the_plan_on_a_double_integrator():
    def final_error(iterations: int) -> float:
        mppi = Mppi(small_cfg(iterations=iterations), [TerminalX(target=1.0)])
        plan = mppi.plan(double_integrator).plan
        return abs(double_integrator(plan[None]).states[0, -1, 0].item() - 1.0)

    assert final_error(30) < final_error(1)
    assert final_error(30) < 0.05


def test_special_samples_nominal_and_zero():
    cfg = small_cfg(include_nominal=True, include_zero=True, action_min=(0.2,), action_max=(3.0,))
    mppi = Mppi(cfg, [])
    mppi.reset(torch.full((8, 1), 1.5))
    samples = mppi.sample()
    assert torch.equal(samples[0], torch.full((8, 1), 1.5))
    assert torch.equal(samples[1], torch.full((8, 1), 0.2))  # zero action, clamped into the bounds
    assert not torch.equal(samples[2], samples[0])


def test_shift_whole_and_fractional_steps():
    cfg = MppiCfg(num_samples=4, horizon=4, noise_sigma=(1.0,), shift_fill="last")
    mppi = Mppi(cfg, [])
    mppi.reset(torch.tensor([[0.0], [1.0], [2.0], [3.0]]))
    mppi.shift(1.0)
    assert mppi.nominal.flatten().tolist() == [1.0, 2.0, 3.0, 3.0]
    mppi.reset(torch.tensor([[0.0], [1.0], [2.0], [3.0]]))
    mppi.shift(0.5)  # halfway between neighbours; the end holds the last action
    assert mppi.nominal.flatten().tolist() == [0.5, 1.5, 2.5, 3.0]
    zero_fill = Mppi(dataclasses.replace(cfg, shift_fill="zero"), [])
    zero_fill.reset(torch.tensor([[0.0], [1.0], [2.0], [3.0]]))
    zero_fill.shift(2.0)
    assert zero_fill.nominal.flatten().tolist() == [2.0, 3.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="shift steps"):
        zero_fill.shift(float("nan"))


def test_noise_smoothing_has_stationary_variance_and_lag_correlation():
    a = 0.8
    cfg = MppiCfg(num_samples=20000, horizon=6, noise_sigma=(2.0,), noise_smoothing=a, include_nominal=False, seed=1)
    noise = Mppi(cfg, []).sample()[..., 0]  # nominal is zero, so samples are the noise: [K, T]
    assert noise.std(dim=0).sub(2.0).abs().max().item() < 0.06  # sigma at every step
    lag1 = torch.corrcoef(torch.stack([noise[:, 2], noise[:, 3]]))[0, 1].item()
    assert lag1 == pytest.approx(a, abs=0.02)


def test_disabled_critics_are_skipped_and_shapes_are_checked():
    mppi = Mppi(small_cfg(), [FixedCost(torch.zeros(64), enabled=False), TerminalX()])
    assert [c.name for c in mppi.critics] == ["terminal_x"]
    bad = Mppi(small_cfg(), [FixedCost(torch.zeros(5))])
    with pytest.raises(ValueError, match="critic 'fixed' returned shape"):
        bad.plan(double_integrator)


def test_build_critics_by_name_with_params_and_clear_errors():
    registry = {"terminal_x": TerminalX, "fixed": lambda **kw: FixedCost(torch.zeros(3), **kw)}
    critics = build_critics(["terminal_x"], registry, {"terminal_x": {"weight": 2.5, "target": 3.0}})
    assert critics[0].weight == 2.5 and critics[0].target == 3.0
    with pytest.raises(ConfigError, match=r"unknown critic\(s\) \['goal'\].*available"):
        build_critics(["goal"], registry)
    with pytest.raises(ConfigError, match="not in the list"):
        build_critics(["fixed"], registry, {"terminal_x": {}})


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"num_samples": 0}, "num_samples"),
        ({"temperature": 0.0}, "temperature"),
        ({"noise_smoothing": 1.0}, "noise_smoothing"),
        ({"action_min": (0.0, 1.0)}, "action_min has 2 values"),
        ({"action_min": (1.0,), "action_max": (0.0,)}, "exceeds"),
        ({"shift_fill": "repeat"}, "shift_fill"),
        ({"noise_sigma": (float("inf"),)}, "noise_sigma"),
    ],
)
def test_invalid_config_is_refused(overrides, message):
    with pytest.raises(ValueError, match=message):
        small_cfg(**overrides)


def test_config_from_yaml_dict_names_the_bad_field():
    cfg = cfg_from_dict(MppiCfg, {"num_samples": 32, "noise_sigma": [0.1, 0.2]}, source="planner.yaml")
    assert cfg.noise_sigma == (0.1, 0.2) and cfg.nu == 2
    with pytest.raises(ConfigError, match=r"planner.yaml: unknown field\(s\) num_sample "):
        cfg_from_dict(MppiCfg, {"num_sample": 32}, source="planner.yaml")
    with pytest.raises(ConfigError, match="planner.yaml: field 'horizon'"):
        cfg_from_dict(MppiCfg, {"horizon": "ten"}, source="planner.yaml")


def test_unicycle_rollout_matches_the_per_step_form():
    state = torch.tensor([0.3, -0.2, 0.4])
    actions = torch.randn(5, 12, 2, generator=torch.Generator().manual_seed(0))
    batch = unicycle_rollout(state, actions, dt=0.1)
    s = state.expand(5, 3)
    for t in range(12):
        s = unicycle_step(s, actions[:, t], 0.1)
        assert torch.allclose(batch.states[:, t], s, atol=1e-5)


def test_closed_loop_reaches_goal_around_obstacle():
    problem = UnicycleCfg()
    assert straight_line_blocked(problem)  # the straight line would hit the obstacle
    result = run_unicycle_episode(problem, make_unicycle_mppi(problem))
    assert result.reached
    assert result.min_clearance > 0.0
    assert torch.isfinite(result.path).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_same_code_on_cuda():
    problem = UnicycleCfg()
    result = run_unicycle_episode(problem, make_unicycle_mppi(problem, device="cuda"))
    assert result.reached and result.path.device.type == "cuda"


def test_temperature_controls_greediness():
    costs = torch.tensor([0.0, 1.0, 2.0, 3.0])
    sharp, flat = mppi_weights(costs, 0.1), mppi_weights(costs, 10.0)
    assert sharp[0] > flat[0]
    assert sharp[0].item() == pytest.approx(1.0 / sum(math.exp(-c / 0.1) for c in range(4)), rel=1e-5)


def test_noise_hold_gives_piecewise_constant_samples():
    from dynamics_stack.mppi import Mppi, MppiCfg

    cfg = MppiCfg(num_samples=8, horizon=10, noise_sigma=(1.0, 2.0), noise_hold=4, include_nominal=False, seed=0)
    actions = Mppi(cfg, []).sample()  # [K, T, nu] around a zero plan
    assert torch.equal(actions[:, 0], actions[:, 3]) and torch.equal(actions[:, 4], actions[:, 7])
    assert torch.equal(actions[:, 8], actions[:, 9])
    assert not torch.equal(actions[:, 3], actions[:, 4])
    with pytest.raises(ValueError, match="noise_hold"):
        MppiCfg(horizon=5, noise_hold=6)
