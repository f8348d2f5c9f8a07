"""One generic, batched MPPI engine (model predictive path integral control).

The engine knows nothing of robots. Each iteration it samples K action
sequences of horizon T around a nominal plan, calls one batched
``rollout(actions[K, T, nu]) -> RolloutBatch``, sums the weighted costs of the
enabled critics (``score(batch) -> [K]``), and moves the plan to the
softmax-weighted average of the samples (Williams et al., "Information
theoretic MPC", 2017). Navigation and manipulation bring their own rollout and
critics; critics are chosen by name from configuration, like Nav2's MPPI
critics.

Everything in the hot loop is a whole-tensor op on the device of the nominal
plan, so the same code runs on CPU and CUDA. Decisions (smoothing filter,
bounds, special samples) are made once in the constructor.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor

from dynamics_stack.config import ConfigError, cfg_from_dict


@dataclass(frozen=True, kw_only=True)
class MppiCfg:
    """Settings of the MPPI engine; ``nu`` is the length of ``noise_sigma``."""

    num_samples: int = 1024
    """K: action sequences sampled per iteration."""
    horizon: int = 10
    """T: steps per action sequence."""
    noise_sigma: tuple[float, ...] = (0.5, 0.3, 0.5)
    """Standard deviation of the sampling noise, one per action dimension (sets nu)."""
    temperature: float = 1.0
    """lambda: softmax temperature on costs; lower trusts the best samples more."""
    iterations: int = 1
    """I: sample-and-update iterations per planning call."""
    noise_smoothing: float = 0.0
    """AR(1) coefficient a in [0, 1) correlating noise across time (0 = white noise)."""
    noise_decay: float = 1.0
    """Noise scale multiplier applied after each iteration (annealing), in (0, 1]."""
    noise_hold: int = 1
    """Steps each noise draw is held (piecewise-constant noise, as PGND's planner samples); 1 = a new draw
    every step. Applied before ``noise_smoothing``."""
    action_min: tuple[float, ...] = ()
    """Lower action bound per dimension (empty = unbounded)."""
    action_max: tuple[float, ...] = ()
    """Upper action bound per dimension (empty = unbounded)."""
    include_nominal: bool = True
    """Keep sample 0 equal to the nominal plan so the update never loses the current plan."""
    include_zero: bool = False
    """Keep sample 1 equal to all-zero actions (for example 'stand still')."""
    shift_fill: str = "last"
    """How warm start fills the end of a shifted plan: 'last' repeats the last action, 'zero' zeros it."""
    seed: int | None = None
    """Seed of the engine's own random generator; None draws from torch's global state."""
    critics: tuple[str, ...] = ()
    """Names of the critics to use, looked up in the caller's registry."""

    def __post_init__(self) -> None:
        nu = len(self.noise_sigma)
        if self.num_samples < 1:
            raise ValueError(f"num_samples must be >= 1, got {self.num_samples}")
        if self.horizon < 1:
            raise ValueError(f"horizon must be >= 1, got {self.horizon}")
        if nu < 1 or not all(math.isfinite(s) and s >= 0 for s in self.noise_sigma):
            raise ValueError(f"noise_sigma must be non-empty, finite and >= 0, got {self.noise_sigma}")
        if not (math.isfinite(self.temperature) and self.temperature > 0):
            raise ValueError(f"temperature must be > 0, got {self.temperature}")
        if self.iterations < 1:
            raise ValueError(f"iterations must be >= 1, got {self.iterations}")
        if not 0.0 <= self.noise_smoothing < 1.0:
            raise ValueError(f"noise_smoothing must be in [0, 1), got {self.noise_smoothing}")
        if not 0.0 < self.noise_decay <= 1.0:
            raise ValueError(f"noise_decay must be in (0, 1], got {self.noise_decay}")
        if not 1 <= self.noise_hold <= self.horizon:
            raise ValueError(f"noise_hold must be in [1, horizon], got {self.noise_hold}")
        for name in ("action_min", "action_max"):
            bound = getattr(self, name)
            if bound and len(bound) != nu:
                raise ValueError(f"{name} has {len(bound)} values but noise_sigma has {nu}")
            if any(math.isnan(b) for b in bound):
                raise ValueError(f"{name} contains NaN")
        if (
            self.action_min
            and self.action_max
            and any(lo > hi for lo, hi in zip(self.action_min, self.action_max, strict=False))
        ):
            raise ValueError(f"action_min {self.action_min} exceeds action_max {self.action_max}")
        if self.shift_fill not in ("last", "zero"):
            raise ValueError(f"shift_fill must be 'last' or 'zero', got {self.shift_fill!r}")
        special = int(self.include_nominal) + int(self.include_zero)
        if self.num_samples <= special:
            raise ValueError(f"num_samples must exceed the {special} fixed samples")

    @property
    def nu(self) -> int:
        """Action dimension."""
        return len(self.noise_sigma)


@dataclass(frozen=True)
class RolloutBatch:
    """What one batched rollout returns; domains subclass it with their own fields.

    Immutable and shared by every critic of the iteration (like Nav2's CriticData).
    """

    actions: Tensor  # [K, T, nu] the (bounded) actions that were rolled out
    states: Tensor  # [K, T, nx] predicted states after each action


@dataclass(frozen=True, kw_only=True)
class CriticCfg:
    """Fields every critic has; a domain's critic configs subclass it (its ``enabled`` and ``weight``)."""

    enabled: bool = True
    """Whether the critic contributes."""
    weight: float = 1.0
    """Multiplier of the critic's cost."""

    def __post_init__(self) -> None:
        if not (math.isfinite(self.weight) and self.weight >= 0):
            raise ValueError(f"weight must be finite and >= 0, got {self.weight}")


@runtime_checkable
class Critic(Protocol):
    """A cost term: ``score`` returns one cost per sample, lower is better."""

    name: str
    enabled: bool
    weight: float

    def score(self, batch: RolloutBatch) -> Tensor:  # [K]
        """Cost of each of the K samples in ``batch``."""
        ...


@dataclass(frozen=True)
class MppiResult:
    """Outcome of one planning call."""

    plan: Tensor  # [T, nu] updated nominal plan (softmax-weighted samples)
    action: Tensor  # [nu] first action of the plan: what to send now
    costs: Tensor  # [K] total cost of each sample of the last iteration
    weights: Tensor  # [K] softmax weights of the last iteration (sum to 1)
    best_index: int  # index of the lowest-cost sample of the last iteration
    batch: RolloutBatch  # rollout of the last iteration (for visualisation)
    critic_costs: dict[str, Tensor] = field(default_factory=dict)  # name -> [K] weighted cost


RolloutFn = Callable[[Tensor], RolloutBatch]


class Mppi:
    """Batched MPPI over a caller-supplied rollout and critics.

    Typical cycle: ``result = mppi.plan(rollout)``, send ``result.action``, then
    ``mppi.shift(steps)`` once the robot has executed ``steps`` action steps
    (fractional steps interpolate, for replanning faster than the action step).
    """

    def __init__(
        self,
        cfg: MppiCfg,
        critics: Sequence[Critic],
        *,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        self.cfg = cfg
        self.critics = [c for c in critics if c.enabled]
        self.device = torch.device(device)
        self.dtype = dtype
        _K, T, nu = cfg.num_samples, cfg.horizon, cfg.nu
        self.sigma = torch.tensor(cfg.noise_sigma, device=self.device, dtype=dtype)  # [nu]
        inf = float("inf")
        self.lo = torch.tensor(cfg.action_min or (-inf,) * nu, device=self.device, dtype=dtype)  # [nu]
        self.hi = torch.tensor(cfg.action_max or (inf,) * nu, device=self.device, dtype=dtype)  # [nu]
        # Time correlation as one [T, T] matrix: eps = L @ w realises the stationary AR(1)
        # process eps_t = a eps_{t-1} + sqrt(1 - a^2) w_t with unit variance per step,
        # so smoothing costs one batched matmul instead of a Python loop over T.
        # Piecewise-constant noise is one more linear map: step t takes the draw of its segment's first step.
        hold = _hold_matrix(T, cfg.noise_hold)  # [T, T]
        self.smoother = (_ar1_matrix(T, cfg.noise_smoothing) @ hold).to(self.device, dtype)  # [T, T]
        self.smooth = cfg.noise_smoothing > 0.0 or cfg.noise_hold > 1  # white noise needs no matmul
        self.bounded = bool(cfg.action_min or cfg.action_max)
        # Samples whose actions are forced: 0 -> the nominal plan, then (optionally) all zeros.
        self.nominal_index = 0 if cfg.include_nominal else None
        self.zero_index = int(cfg.include_nominal) if cfg.include_zero else None
        self.generator: torch.Generator | None = None
        if cfg.seed is not None:
            self.generator = torch.Generator(device=self.device)
            self.generator.manual_seed(cfg.seed)
        self.nominal = torch.zeros(T, nu, device=self.device, dtype=dtype)  # [T, nu]

    def reset(self, nominal: Tensor | None = None) -> None:
        """Start from ``nominal`` ([T, nu], clamped to the bounds) or from zeros."""
        if nominal is None:
            self.nominal = torch.zeros_like(self.nominal)
            return
        expected = (self.cfg.horizon, self.cfg.nu)
        if tuple(nominal.shape) != expected:
            raise ValueError(f"nominal plan must have shape {expected}, got {tuple(nominal.shape)}")
        self.nominal = _clamp(nominal.to(self.device, self.dtype), self.lo, self.hi)

    def sample(self, scale: float = 1.0) -> Tensor:
        """Bounded action samples around the nominal plan: [K, T, nu]."""
        K, T, nu = self.cfg.num_samples, self.cfg.horizon, self.cfg.nu
        noise = torch.randn(K, T, nu, device=self.device, dtype=self.dtype, generator=self.generator)
        if self.smooth:
            noise = torch.einsum("ts,ksn->ktn", self.smoother, noise)
        actions = torch.addcmul(self.nominal, noise, self.sigma * scale)  # [K, T, nu]
        if self.nominal_index is not None:
            actions[self.nominal_index] = self.nominal
        if self.zero_index is not None:
            actions[self.zero_index] = 0.0
        return _clamp(actions, self.lo, self.hi) if self.bounded else actions

    def update(self, batch: RolloutBatch) -> MppiResult:
        """Score ``batch`` with every enabled critic and move the plan to the weighted average."""
        K = self.cfg.num_samples
        total = torch.zeros(K, device=self.device, dtype=self.dtype)  # [K]
        per_critic: dict[str, Tensor] = {}
        for critic in self.critics:
            cost = critic.weight * critic.score(batch)
            if cost.shape != (K,):
                raise ValueError(f"critic '{critic.name}' returned shape {tuple(cost.shape)}, expected ({K},)")
            per_critic[critic.name] = cost
            total = total + cost
        # A sample whose cost is NaN (a diverged model output) must never win: give it +inf.
        total = torch.nan_to_num(total, nan=float("inf"))
        weights = mppi_weights(total, self.cfg.temperature)  # [K]
        self.nominal = torch.einsum("k,ktn->tn", weights, batch.actions)  # convex combination: in bounds
        return MppiResult(
            plan=self.nominal.clone(),
            action=self.nominal[0].clone(),
            costs=total,
            weights=weights,
            best_index=int(torch.argmin(total)),
            batch=batch,
            critic_costs=per_critic,
        )

    def plan(self, rollout: RolloutFn) -> MppiResult:
        """Run ``cfg.iterations`` sample/rollout/score/update iterations and return the last result."""
        result = None
        scale = 1.0
        for _ in range(self.cfg.iterations):
            batch = rollout(self.sample(scale))
            result = self.update(batch)
            scale *= self.cfg.noise_decay
        assert result is not None  # iterations >= 1 is validated in MppiCfg
        return result

    def shift(self, steps: float = 1.0) -> None:
        """Warm start: advance the plan by ``steps`` action steps (fractions interpolate linearly)."""
        if steps < 0 or not math.isfinite(steps):
            raise ValueError(f"shift steps must be finite and >= 0, got {steps}")
        T = self.cfg.horizon
        fill = self.nominal[-1] if self.cfg.shift_fill == "last" else torch.zeros_like(self.nominal[-1])
        padded = torch.cat([self.nominal, fill.expand(T + 1, -1)], dim=0)  # [2T+1, nu]
        t = torch.arange(T, device=self.device, dtype=self.dtype) + steps  # sample times in the old plan
        i0 = t.floor().long().clamp(max=2 * T)
        i1 = (i0 + 1).clamp(max=2 * T)
        frac = (t - i0.to(self.dtype)).unsqueeze(-1)
        self.nominal = padded[i0] * (1 - frac) + padded[i1] * frac


def mppi_weights(costs: Tensor, temperature: float) -> Tensor:
    """Softmax weights exp(-(c - min c) / lambda), normalised to sum to one: [K]."""
    return torch.softmax(-(costs - costs.min()) / temperature, dim=0)


CriticFactory = Callable[..., Critic]


def build_critics(
    names: Sequence[str],
    registry: Mapping[str, CriticFactory],
    params: Mapping[str, Mapping[str, Any]] | None = None,
    source: str = "critics",
) -> list[Critic]:
    """Instantiate critics by name from ``registry``; ``params[name]`` are keyword arguments.

    A registry value is either a factory taking keyword arguments or a ``*Cfg``
    dataclass class paired with a critic class via ``critic_cls.Cfg``.
    """
    params = params or {}
    unknown = [n for n in names if n not in registry]
    if unknown:
        raise ConfigError(f"{source}: unknown critic(s) {unknown}; available: {sorted(registry)}")
    stray = sorted(set(params) - set(names))
    if stray:
        raise ConfigError(f"{source}: parameters given for critic(s) not in the list: {stray}")
    critics = []
    for name in names:
        factory = registry[name]
        cfg_cls = getattr(factory, "Cfg", None)
        if cfg_cls is not None and dataclasses.is_dataclass(cfg_cls):
            critics.append(factory(cfg_from_dict(cfg_cls, params.get(name, {}), f"{source}.{name}")))
        else:
            critics.append(factory(**params.get(name, {})))
    return critics


def _ar1_matrix(T: int, a: float) -> Tensor:
    """Lower-triangular L with (L w)_t = a (L w)_{t-1} + sqrt(1 - a^2) w_t, (L w)_0 = w_0: [T, T]."""
    t = torch.arange(T, dtype=torch.float64)
    lag = t[:, None] - t[None, :]
    gain = torch.where(lag >= 0, a ** lag.clamp(min=0), torch.zeros(()))
    scale = torch.full((T,), math.sqrt(1.0 - a * a), dtype=torch.float64)
    scale[0] = 1.0  # the first step is drawn from the stationary distribution directly
    return (gain * scale[None, :]).tril()


def _hold_matrix(T: int, hold: int) -> Tensor:
    """H with (H w)_t = w_{hold * floor(t / hold)}: each draw held for ``hold`` steps: [T, T]."""
    t = torch.arange(T)
    return (t[None, :] == (t // hold * hold)[:, None]).to(torch.float64)


def _clamp(x: Tensor, lo: Tensor, hi: Tensor) -> Tensor:
    return torch.clamp(x, min=lo, max=hi)
