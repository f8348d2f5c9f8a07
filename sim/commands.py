"""Velocity commands for data generation: time-correlated random commands and a goal-directed mode.

Commands change only every ``hold`` seconds (0.5 s, the FDM's command step,
Roth et al., RSS 2025; docs/references.md). The random mode draws each dimension from a Gaussian AR(1)
latent mapped through the normal CDF, so the marginal of every command is
uniform over its range while consecutive commands are correlated with time
constant ``corr_time``; a robot also stands still for a while now and then.
The goal-directed mode steers towards a random goal on the map (a
proportional heading controller plus noise), which drives robots into
obstacles as a planner-free navigator would. ``goal_fraction`` of the robots
use the goal mode. Given the openings of a terrain with passages (corridors,
doors), ``passage_fraction`` of the robots use the goal mode instead and pass
through the openings: from an opening's approach point to its exit point on the
other side and back, again and again (now and then on to another opening),
each pass at its own speed, following the line through the opening (pure
pursuit 1 m ahead on it) as a navigator that has found the opening would.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True, kw_only=True)
class CommandCfg:
    """Command generator settings; default ranges are the authors' training ranges (Roth et al., RSS 2025; docs/references.md)."""

    hold: float = 0.5
    """Seconds each command is held (the FDM's command step)."""
    vx_range: tuple[float, float] = (-0.1, 1.5)
    """Forward command range (m/s), Roth et al., RSS 2025; docs/references.md."""
    vy_range: tuple[float, float] = (-0.4, 0.4)
    """Lateral command range (m/s), Roth et al., RSS 2025; docs/references.md."""
    wz_range: tuple[float, float] = (-1.0, 1.0)
    """Yaw-rate command range (rad/s), Roth et al., RSS 2025; docs/references.md."""
    corr_time: float = 2.0
    """Correlation time (s) of the random commands."""
    p_stand: float = 0.03
    """Per-step probability of starting to stand still."""
    p_unstand: float = 0.3
    """Per-step probability of ending a stand-still."""
    goal_fraction: float = 0.3
    """Fraction of robots in goal-directed mode."""
    goal_speed: float = 1.0
    """Forward speed (m/s) of the goal mode far from the goal."""
    goal_gain: float = 1.5
    """Heading gain (1/s) of the goal mode."""
    goal_noise: float = 0.15
    """Std of noise added to goal-mode commands (m/s, rad/s)."""
    goal_tolerance: float = 0.5
    """Distance (m) at which a goal counts as reached and a new one is drawn."""
    passage_fraction: float = 0.6
    """Fraction of robots in goal mode on terrains with passages (their goals lead through the openings)."""
    passage_speed: tuple[float, float] = (0.3, 1.0)
    """Range of the goal-mode speed (m/s) of one pass through an opening, drawn per pass."""
    passage_switch: float = 0.2
    """Probability that a robot at the end of a pass heads for another opening instead of passing back."""

    def __post_init__(self) -> None:
        if not 0.0 < self.hold <= 10.0:
            raise ValueError(f"hold must be in (0, 10] s, got {self.hold}")
        for name in ("vx_range", "vy_range", "wz_range"):
            lo, hi = getattr(self, name)
            if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
                raise ValueError(f"{name} must be finite with lo <= hi, got {(lo, hi)}")
        if self.corr_time <= 0:
            raise ValueError(f"corr_time must be > 0, got {self.corr_time}")
        if not 0.0 < self.passage_speed[0] <= self.passage_speed[1]:
            raise ValueError(f"passage_speed must be 0 < lo <= hi, got {self.passage_speed}")
        for name in ("p_stand", "p_unstand", "goal_fraction", "passage_fraction", "passage_switch"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if self.goal_tolerance <= 0 or self.goal_speed < 0 or self.goal_gain <= 0 or self.goal_noise < 0:
            raise ValueError("goal_tolerance and goal_gain must be > 0, goal_speed and goal_noise >= 0")


class CommandGenerator:
    """Produces one command per robot per hold period; call ``next(poses)`` every ``hold`` seconds."""

    def __init__(
        self,
        cfg: CommandCfg,
        num_robots: int,
        extent: tuple[float, float, float, float],  # x_min, x_max, y_min, y_max of the goal area (m)
        device: torch.device | str = "cpu",
        seed: int = 0,
        openings: Tensor | None = None,  # [M, 4] approach x, y, exit x, y of a terrain's passages
    ) -> None:
        self.cfg = cfg
        self.n = num_robots
        self.device = torch.device(device)
        self.generator = torch.Generator(self.device).manual_seed(seed)
        self.extent = extent
        self._lo = torch.tensor([cfg.vx_range[0], cfg.vy_range[0], cfg.wz_range[0]], device=self.device)
        self._hi = torch.tensor([cfg.vx_range[1], cfg.vy_range[1], cfg.wz_range[1]], device=self.device)
        self._rho = math.exp(-cfg.hold / cfg.corr_time)
        self.latent = self._randn(num_robots, 3)  # [N, 3]
        self.standing = torch.zeros(num_robots, dtype=torch.bool, device=self.device)
        self.goal_mode = self._rand(num_robots) < cfg.goal_fraction  # [N]
        self.goals = self._sample_goals(num_robots)  # [N, 2]
        self.openings = None
        if openings is not None and len(openings):  # drawn after the above: without openings nothing changes
            self.openings = torch.as_tensor(openings, dtype=torch.float32, device=self.device).reshape(-1, 4)
            self.goal_mode = self._rand(num_robots) < cfg.passage_fraction
            self.pair = torch.zeros(num_robots, dtype=torch.long, device=self.device)
            self.speed = torch.full((num_robots,), cfg.goal_speed, device=self.device)
            self.leg_start = self.goals.clone()  # [N, 2] the line followed runs from here to the goal
            everyone = torch.ones(num_robots, dtype=torch.bool, device=self.device)
            self._next_pass(everyone, self.openings[:1, :2].expand(num_robots, 2))

    def _rand(self, *shape: int) -> Tensor:
        return torch.rand(shape, generator=self.generator, device=self.device)

    def _randn(self, *shape: int) -> Tensor:
        return torch.randn(shape, generator=self.generator, device=self.device)

    def _sample_goals(self, n: int) -> Tensor:  # [n, 2]
        x0, x1, y0, y1 = self.extent
        u = self._rand(n, 2)
        return torch.stack((x0 + (x1 - x0) * u[:, 0], y0 + (y1 - y0) * u[:, 1]), dim=-1)

    def _next_pass(self, which: Tensor, xy: Tensor) -> None:
        """Robots ``which`` [N] bool, now at ``xy`` [N, 2], head for a random opening's approach point."""
        pair = torch.randint(len(self.openings), (self.n,), generator=self.generator, device=self.device)
        self.pair = torch.where(which, pair, self.pair)
        self._leg(which, xy, self.openings[self.pair, :2])

    def _leg(self, which: Tensor, start: Tensor, end: Tensor) -> None:
        """Robots ``which`` follow the line from ``start`` to ``end`` [N, 2], at a newly drawn speed."""
        lo, hi = self.cfg.passage_speed
        speed = lo + (hi - lo) * self._rand(self.n)
        self.speed = torch.where(which, speed, self.speed)
        self.leg_start = torch.where(which[:, None], start, self.leg_start)
        self.goals = torch.where(which[:, None], end, self.goals)

    def spawn_at_openings(self, poses: Tensor, env_ids: Tensor) -> Tensor:
        """Start poses [n, 3] for robots ``env_ids`` given free poses ``poses`` [n, 3]: on a terrain with passages,
        goal-mode robots start near their opening's approach point (+-0.3 m), facing its exit (+-0.4 rad), and head
        through it; other robots keep their free pose."""
        if self.openings is None or len(env_ids) == 0:
            return poses
        n = len(env_ids)
        pair = self.openings[self.pair[env_ids]]  # [n, 4]
        noise = self._rand(n, 3) * 2 - 1
        xy = pair[:, :2] + 0.3 * noise[:, :2]
        yaw = torch.atan2(pair[:, 3] - xy[:, 1], pair[:, 2] - xy[:, 0]) + 0.4 * noise[:, 2]
        near = torch.cat([xy, yaw[:, None]], dim=1)
        mode = self.goal_mode[env_ids]
        self.goals[env_ids] = torch.where(mode[:, None], pair[:, 2:], self.goals[env_ids])
        self.leg_start[env_ids] = torch.where(mode[:, None], pair[:, :2], self.leg_start[env_ids])
        return torch.where(mode[:, None], near, poses)

    def reset(self, env_ids: Tensor) -> None:
        """Fresh latent state and goal for respawned robots."""
        n = int(env_ids.numel())
        if n == 0:
            return
        self.latent[env_ids] = self._randn(n, 3)
        self.standing[env_ids] = False
        self.goals[env_ids] = self._sample_goals(n)
        if self.openings is not None:
            which = torch.zeros(self.n, dtype=torch.bool, device=self.device)
            which[env_ids] = True
            self._next_pass(which, self.leg_start)  # spawn_at_openings then puts them at the approach point

    def next(self, poses: Tensor) -> Tensor:  # poses [N, 3] -> commands [N, 3]
        """Commands for the next hold period."""
        cfg = self.cfg
        # Random mode: AR(1) latent with unit variance -> uniform marginal via the normal CDF.
        self.latent = self._rho * self.latent + math.sqrt(1.0 - self._rho**2) * self._randn(self.n, 3)
        u = 0.5 * (1.0 + torch.erf(self.latent / math.sqrt(2.0)))
        random_cmd = self._lo + (self._hi - self._lo) * u
        start = self._rand(self.n) < cfg.p_stand
        stop = self._rand(self.n) < cfg.p_unstand
        self.standing = torch.where(self.standing, ~stop, start)
        random_cmd = random_cmd.masked_fill(self.standing[:, None], 0.0)

        # Goal mode: steer at the goal; draw a new goal when reached.
        to_goal = self.goals - poses[:, :2]
        dist = to_goal.norm(dim=-1)
        reached = dist < cfg.goal_tolerance
        if reached.any():
            if self.openings is None:
                self.goals = torch.where(reached[:, None], self._sample_goals(self.n), self.goals)
            else:  # an end of the opening reached: back through it to the other end, or on to another opening
                switch = reached & (self._rand(self.n) < cfg.passage_switch)
                pair = self.openings[self.pair]
                at_approach = (self.goals - pair[:, :2]).norm(dim=-1) < 1e-6
                other_end = torch.where(at_approach[:, None], pair[:, 2:], pair[:, :2])
                self._leg(reached & ~switch, self.goals.clone(), other_end)
                self._next_pass(switch, poses[:, :2])
            to_goal = self.goals - poses[:, :2]
            dist = to_goal.norm(dim=-1)
        if self.openings is not None:  # pure pursuit: a point 1 m ahead on the line from leg_start to the goal
            line = self.goals - self.leg_start
            length = line.norm(dim=-1).clamp(min=1e-6)
            along = ((poses[:, :2] - self.leg_start) * line).sum(-1) / length
            ahead = (along + 1.0).clamp(min=0.0)
            ahead = torch.minimum(ahead, length)
            to_goal = self.leg_start + line * (ahead / length)[:, None] - poses[:, :2]
        err = torch.atan2(to_goal[:, 1], to_goal[:, 0]) - poses[:, 2]
        err = torch.remainder(err + math.pi, 2 * math.pi) - math.pi
        speed = cfg.goal_speed if self.openings is None else self.speed
        vx = speed * torch.cos(err).clamp(min=0.0) * (dist / 2.0).clamp(max=1.0)
        goal_cmd = torch.stack((vx, torch.zeros_like(vx), cfg.goal_gain * err), dim=-1)
        goal_cmd = goal_cmd + cfg.goal_noise * self._randn(self.n, 3)
        goal_cmd = torch.minimum(torch.maximum(goal_cmd, self._lo), self._hi)
        return torch.where(self.goal_mode[:, None], goal_cmd, random_cmd)
