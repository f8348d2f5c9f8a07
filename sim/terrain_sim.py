"""``TerrainSim``: N robots of one platform on one height map, stepped as a single batch of tensors.

The model of each robot is the surrogate described in ``sim.platform`` (read
that docstring for what it does and does not model). Per physics step (0.02 s):

1. clamp the command to the platform limits (failed robots get zero);
2. target velocity = command x slowdown(tilt, roughness); first-order tracking
   with acceleration limits and Ornstein-Uhlenbeck noise;
3. integrate the candidate pose in SE(2);
4. look up the terrain (nearest cell) under the contacts and the body samples
   of the candidate pose; fit the contact plane;
5. body collision (terrain above the body underside), fall (a contact drops
   more than ``max_step_down``), blocked (a contact rises more than
   ``max_step_up``: the move is refused), then tilt update and tipping, and
   the stuck timer;
6. robots that fail stay frozen until ``reset``.

Everything is whole-batch tensor ops with no per-robot Python and no
data-dependent branches, so it runs the same on CPU and CUDA.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from fdm_nav.observation import CONTROL_RATE, GRAVITY, PROPRIO_DIM, HeightScanCfg, height_scan
from sim.episode import FAILURE_KINDS
from sim.height_map import HeightMap
from sim.platform import PlatformCfg

PHYSICS_DT = 0.02  # s, the physics step
_TINY = 1e-9  # magnitudes below this are set to 0 (keeps floats out of the slow subnormal range)

# Failure causes (dataset field ``failure_cause``).
CAUSE_NONE, CAUSE_COLLISION, CAUSE_FALL, CAUSE_STUCK, CAUSE_TIPPING = 0, 1, 2, 3, 4
FAILURE_CAUSES: tuple[str, ...] = ("none", *FAILURE_KINDS)  # the episode's names (sim.episode), shared with Isaac


@dataclass(frozen=True)
class StepInfo:
    """What one physics step reports (all [N])."""

    failed: Tensor  # [N] bool: failed (now or earlier, until reset)
    new_failure: Tensor  # [N] bool: failed during this step
    failure_cause: Tensor  # [N] long: FAILURE_CAUSES index (0 while not failed)
    blocked: Tensor  # [N] bool: the move was refused (step too high)
    out_of_map: Tensor  # [N] bool: the body centre left the map
    speed_factor: Tensor  # [N] slowdown factor applied this step


def _contact_points(p: PlatformCfg) -> Tensor:  # [4, 2] order: FL, FR, HL, HR
    return torch.tensor(
        [
            [p.contact_x, p.contact_y],
            [p.contact_x, -p.contact_y],
            [-p.contact_x, p.contact_y],
            [-p.contact_x, -p.contact_y],
        ]
    )


def _body_points(p: PlatformCfg) -> Tensor:  # [B, 2] perimeter of the body box + its centre (centre first)
    nx, ny = p.body_samples
    xs = torch.linspace(-p.length / 2, p.length / 2, nx)
    ys = torch.linspace(-p.width / 2, p.width / 2, ny)
    gx, gy = torch.meshgrid(xs, ys, indexing="ij")
    edge = (gx.abs() >= p.length / 2 - 1e-6) | (gy.abs() >= p.width / 2 - 1e-6)
    perim = torch.stack((gx[edge], gy[edge]), dim=-1)
    return torch.cat((torch.zeros(1, 2), perim), dim=0)


class TerrainSim:
    """Batched surrogate of N robots; see the module docstring."""

    def __init__(
        self,
        platform: PlatformCfg,
        height_map: HeightMap,
        num_robots: int,
        device: torch.device | str = "cpu",
        *,
        dt: float = PHYSICS_DT,
        scan_cfg: HeightScanCfg | None = None,
        seed: int = 0,
    ) -> None:
        if num_robots < 1:
            raise ValueError(f"num_robots must be >= 1, got {num_robots}")
        if not 0.0 < dt <= 0.1:
            raise ValueError(f"dt must be in (0, 0.1] s, got {dt}")
        self.platform = platform
        self.device = torch.device(device)
        self.height_map = height_map.to(self.device)
        self.num_robots = num_robots
        self.dt = dt
        self.scan_cfg = scan_cfg or HeightScanCfg()
        self.generator = torch.Generator(self.device).manual_seed(seed)
        p, dev, N = platform, self.device, num_robots
        # Decided once: limits, gains and sample points as tensors.
        self._lo = torch.tensor([p.vx_min, -p.vy_max, -p.wz_max], device=dev)
        self._hi = torch.tensor([p.vx_max, p.vy_max, p.wz_max], device=dev)
        self._dv_max = torch.tensor([p.accel_lin, p.accel_lin, p.accel_ang], device=dev) * dt
        self._alpha = 1.0 - math.exp(-dt / p.tau)
        self._noise = p.vel_noise_std * math.sqrt(1.0 - (1.0 - self._alpha) ** 2)  # OU std -> vel_noise_std
        self._noise_mask = torch.tensor([1.0, 1.0 if p.vy_max > 0 else 0.0, 1.0], device=dev)
        self._yaw_only = torch.tensor([0.0, 0.0, 1.0], device=dev)  # a blocked robot keeps only its yaw rate
        self._tilt_alpha = 1.0 - math.exp(-dt / p.tilt_tau)
        self._max_tilt = math.radians(p.max_tilt_deg)
        self._local = torch.cat((_contact_points(p), _body_points(p)), dim=0).to(dev)  # [C+B, 2]
        self._nc = 4
        # Height of the body underside above the contact plane, per body sample: plane + clearance.
        # State, all [N] or [N, k].
        self.poses = torch.zeros(N, 3, device=dev)  # x, y, yaw (map frame)
        self.vel = torch.zeros(N, 3, device=dev)  # vx, vy (yaw-aligned frame), wz
        self.cmd = torch.zeros(N, 3, device=dev)  # command being tracked (clamped)
        self.prev_cmd = torch.zeros(N, 3, device=dev)  # the command before it
        self.contact_h = torch.zeros(N, self._nc, device=dev)  # terrain height under each contact
        self.ground_h = torch.zeros(N, device=dev)  # terrain height under the base centre
        self.support = torch.zeros(N, device=dev)  # mean contact height (m)
        self.vz = torch.zeros(N, device=dev)  # vertical base velocity (m/s)
        self.tilt = torch.zeros(N, 2, device=dev)  # roll, pitch (rad), ZYX convention
        self.tilt_rate = torch.zeros(N, 2, device=dev)
        self.rough = torch.zeros(N, device=dev)  # mean |terrain - contact plane| (m)
        self.energy = torch.zeros(N, device=dev)  # specific power proxy (W/kg), see proprio docs
        self.failed = torch.zeros(N, dtype=torch.bool, device=dev)
        self.failure_cause = torch.zeros(N, dtype=torch.long, device=dev)
        self.stuck_timer = torch.zeros(N, device=dev)
        self.time = 0.0
        self.reset(self.poses)

    # ------------------------------------------------------------------ queries

    @property
    def z_base(self) -> Tensor:  # [N]
        """Base height in the map frame (m)."""
        return self.support + self.platform.base_height

    def _terrain(self, poses: Tensor) -> Tensor:  # poses [N, 3] -> [N, C+B]
        c, s = torch.cos(poses[:, 2:3]), torch.sin(poses[:, 2:3])
        lx, ly = self._local[:, 0], self._local[:, 1]
        xy = torch.stack((poses[:, 0:1] + c * lx - s * ly, poses[:, 1:2] + s * lx + c * ly), dim=-1)
        return self.height_map.sample_nearest(xy)

    def _plane(self, h: Tensor) -> tuple[Tensor, Tensor, Tensor]:  # h [N, C+B] -> support, slope_x, slope_y
        p = self.platform
        f = h[:, : self._nc]
        support = f.mean(-1)
        slope_x = (f[:, 0] + f[:, 1] - f[:, 2] - f[:, 3]) / (4 * p.contact_x)
        slope_y = (f[:, 0] + f[:, 2] - f[:, 1] - f[:, 3]) / (4 * p.contact_y)
        return support, slope_x, slope_y

    def height_scan(self) -> Tensor:  # [N, 60, 46]
        """Current height scans (see ``fdm_nav.observation`` for layout and value convention)."""
        return height_scan(self.height_map, self.poses, self.z_base, self.scan_cfg, self.generator)

    def proprio(self) -> Tensor:  # [N, P] with P = len(PROPRIO_FIELDS)
        """Current proprio vector, fields as ``fdm_nav.observation.PROPRIO_FIELDS``."""
        roll, pitch = self.tilt[:, 0], self.tilt[:, 1]
        cr, sr, cp, sp = torch.cos(roll), torch.sin(roll), torch.cos(pitch), torch.sin(pitch)
        vx, vy, vz = self.vel[:, 0], self.vel[:, 1], self.vz
        # v_body = Rx(roll)^T Ry(pitch)^T [vx, vy, vz] (yaw already removed).
        a = cp * vx - sp * vz
        c3 = sp * vx + cp * vz
        lin = torch.stack((a, cr * vy + sr * c3, -sr * vy + cr * c3), dim=-1)
        ang = torch.stack((self.tilt_rate[:, 0], self.tilt_rate[:, 1], self.vel[:, 2]), dim=-1)
        grav = torch.stack((sp, -sr * cp, -cr * cp), dim=-1)
        height = (self.z_base - self.ground_h)[:, None]
        out = torch.cat((lin, ang, grav, self.cmd, self.prev_cmd, height), dim=-1)
        assert out.shape[-1] == PROPRIO_DIM
        return out

    def pose_is_safe(self, poses: Tensor) -> Tensor:  # poses [n, 3] -> [n] bool
        """Whether a robot could stand at each pose: no obstacle/pit/off-map cell under it, body clear, not too tilted."""
        p = self.platform
        poses = poses.to(self.device, torch.float32)
        c, s = torch.cos(poses[:, 2:3]), torch.sin(poses[:, 2:3])
        lx, ly = self._local[:, 0], self._local[:, 1]
        xy = torch.stack((poses[:, 0:1] + c * lx - s * ly, poses[:, 1:2] + s * lx + c * ly), dim=-1)  # [n, C+B, 2]
        h = self.height_map.sample_nearest(xy)
        support, sx, sy = self._plane(h)
        lb = self._local[self._nc :]
        plane = support[:, None] + sx[:, None] * lb[:, 0] + sy[:, None] * lb[:, 1]
        f = h[:, : self._nc]
        tilt = torch.maximum(torch.atan(sx).abs(), torch.atan(sy).abs())
        return (
            ~self.height_map.unsafe(xy).any(-1)
            & ((h[:, self._nc :] - plane).amax(-1) <= p.body_clearance)
            & ((f.amax(-1) - f.amin(-1)) <= 2 * p.max_step_up)
            & (tilt <= 0.75 * self._max_tilt)
        )

    def sample_free_poses(self, n: int, margin: float = 1.0, tries: int = 32) -> Tensor:  # -> [n, 3]
        """Random safe poses at least ``margin`` from the map border (rejection sampling, batched).

        Robots for which no try was safe get their last candidate (rare on the shipped terrains).
        """
        x0, x1, y0, y1 = self.height_map.extent
        u = torch.rand(n, tries, 3, generator=self.generator, device=self.device)
        cand = torch.stack(
            (
                x0 + margin + (x1 - x0 - 2 * margin) * u[..., 0],
                y0 + margin + (y1 - y0 - 2 * margin) * u[..., 1],
                (2 * u[..., 2] - 1) * math.pi,
            ),
            dim=-1,
        )  # [n, tries, 3]
        ok = self.pose_is_safe(cand.reshape(-1, 3)).reshape(n, tries)
        ok[:, -1] = True
        first = ok.float().argmax(dim=1)  # first safe try
        return cand[torch.arange(n, device=self.device), first]

    # ------------------------------------------------------------------ control

    def reset(self, poses: Tensor, env_ids: Tensor | None = None) -> None:
        """Place robots (all, or ``env_ids``) at ``poses`` [n, 3], standing still, not failed."""
        ids = torch.arange(self.num_robots, device=self.device) if env_ids is None else env_ids.to(self.device)
        poses = poses.to(self.device, torch.float32).reshape(-1, 3).clone()
        if ids.numel() == 0:
            return
        h = self._terrain(poses)
        support, sx, sy = self._plane(h)
        self.poses[ids] = poses
        for t in (self.vel, self.cmd, self.prev_cmd, self.tilt_rate):
            t[ids] = 0.0
        self.contact_h[ids] = h[:, : self._nc]
        self.ground_h[ids] = h[:, self._nc]
        self.support[ids] = support
        self.tilt[ids] = torch.stack((torch.atan(sy), -torch.atan(sx)), dim=-1)
        self.vz[ids] = 0.0
        self.rough[ids] = 0.0
        self.energy[ids] = 0.0
        self.failed[ids] = False
        self.failure_cause[ids] = CAUSE_NONE
        self.stuck_timer[ids] = 0.0

    def step(self, commands: Tensor) -> StepInfo:  # commands [N, 3] (vx, vy, wz)
        """Advance every robot by one physics step under ``commands``."""
        p, dt = self.platform, self.dt
        cmd = torch.nan_to_num(commands.to(self.device, torch.float32), nan=0.0, posinf=0.0, neginf=0.0)
        cmd = torch.minimum(torch.maximum(cmd, self._lo), self._hi)
        cmd = cmd.masked_fill(self.failed[:, None], 0.0)
        changed = (cmd != self.cmd).any(-1, keepdim=True)
        self.prev_cmd = torch.where(changed, self.cmd, self.prev_cmd)
        self.cmd = cmd

        # 2. tracking with slowdown, lag, acceleration limits and OU noise.
        tilt_mag = self.tilt.abs().amax(-1)
        factor = (
            1.0
            - p.slope_slowdown * (tilt_mag / self._max_tilt).clamp(max=1.0)
            - p.rough_slowdown * (self.rough / p.rough_ref).clamp(max=1.0)
        ).clamp(min=p.min_speed_factor)
        target = cmd * factor[:, None]
        dv = ((target - self.vel) * self._alpha).clamp(-self._dv_max, self._dv_max)
        noise = torch.randn(self.vel.shape, generator=self.generator, device=self.device) * self._noise
        vel = self.vel + dv + noise * self._noise_mask * (cmd != 0).any(-1, keepdim=True).float()
        vel = vel.masked_fill(self.failed[:, None], 0.0)

        # 3. candidate pose (midpoint yaw).
        yaw_mid = self.poses[:, 2] + 0.5 * vel[:, 2] * dt
        c, s = torch.cos(yaw_mid), torch.sin(yaw_mid)
        delta = torch.stack(
            ((vel[:, 0] * c - vel[:, 1] * s) * dt, (vel[:, 0] * s + vel[:, 1] * c) * dt, vel[:, 2] * dt), dim=-1
        )
        cand = self.poses + delta
        cand[:, 2] = torch.remainder(cand[:, 2] + math.pi, 2 * math.pi) - math.pi

        # 4. terrain under the candidate.
        h = self._terrain(cand)  # [N, C+B]
        support, sx, sy = self._plane(h)
        body = h[:, self._nc :]  # [N, B]
        lb = self._local[self._nc :]  # [B, 2]
        plane = support[:, None] + sx[:, None] * lb[:, 0] + sy[:, None] * lb[:, 1]  # [N, B]
        dev_body = body - plane
        contacts = h[:, : self._nc]
        rise = (contacts - self.contact_h).amax(-1)
        drop = (self.contact_h - contacts).amax(-1)

        # 5. events; priority fall > collision > blocked (a contact in a pit tilts the plane into the body).
        alive = ~self.failed
        fall = alive & (drop > p.max_step_down)
        collide = alive & ~fall & (dev_body.amax(-1) > p.body_clearance)
        blocked = alive & ~collide & ~fall & (rise > p.max_step_up)
        move = alive & ~collide & ~blocked  # a fall moves the robot into the hole, then freezes it

        m1 = move[:, None]
        old_xy = self.poses[:, :2]
        self.poses = torch.where(m1, cand, self.poses)
        # A blocked robot may still turn in place (its contacts are re-checked on the next step).
        self.poses[:, 2] = torch.where(blocked, cand[:, 2], self.poses[:, 2])
        vel = torch.where(blocked[:, None], vel * self._yaw_only, vel)
        vel = vel.masked_fill(collide[:, None], 0.0)
        self.contact_h = torch.where(m1, contacts, self.contact_h)
        self.ground_h = torch.where(move, h[:, self._nc], self.ground_h)
        new_support = torch.where(move, support, self.support)
        self.vz = (new_support - self.support) / dt
        self.support = new_support
        self.rough = torch.where(move, dev_body.clamp(-0.3, 0.3).abs().mean(-1), self.rough)

        tilt_target = torch.stack((torch.atan(sy), -torch.atan(sx)), dim=-1)
        new_tilt = torch.where(m1, self.tilt + (tilt_target - self.tilt) * self._tilt_alpha, self.tilt)
        self.tilt_rate = (new_tilt - self.tilt) / dt
        self.tilt = new_tilt
        tipping = alive & ~collide & ~fall & (self.tilt.abs().amax(-1) > self._max_tilt)

        speed = (self.poses[:, :2] - old_xy).norm(dim=-1) / dt
        cmd_speed = cmd[:, :2].norm(dim=-1)
        not_moving = alive & (cmd_speed > 0.1) & (speed < 0.25 * cmd_speed * p.min_speed_factor + 0.02)
        self.stuck_timer = torch.where(not_moving, self.stuck_timer + dt, torch.zeros_like(self.stuck_timer))
        stuck = alive & ~collide & ~fall & ~tipping & (self.stuck_timer >= p.stuck_time)

        # Specific power proxy (W/kg): |a . v| + g * climb rate + rotational term; see sim/README.md.
        acc = (vel - self.vel) / dt
        self.energy = (
            (acc[:, :2] * vel[:, :2]).sum(-1).abs()
            + GRAVITY * self.vz.clamp(min=0.0)
            + 0.1 * (acc[:, 2] * vel[:, 2]).abs()
        )
        self.vel = vel

        cause = torch.zeros_like(self.failure_cause)
        cause = torch.where(stuck, CAUSE_STUCK, cause)
        cause = torch.where(tipping, CAUSE_TIPPING, cause)
        cause = torch.where(collide, CAUSE_COLLISION, cause)
        cause = torch.where(fall, CAUSE_FALL, cause)
        new_failure = cause > 0
        self.failure_cause = torch.where(new_failure, cause, self.failure_cause)
        self.failed = self.failed | new_failure
        # Frozen robots have no motion. Values that decay towards 0 (tilt on flat ground did) are snapped to 0
        # so they never become subnormal floats, whose arithmetic is slow on some CPUs (no slowdown measured here).
        self.vel = torch.where(self.failed[:, None] | (self.vel.abs() < _TINY), 0.0, self.vel)
        self.vz = self.vz.masked_fill(self.failed, 0.0)
        self.tilt_rate = torch.where(self.failed[:, None] | (self.tilt_rate.abs() < _TINY), 0.0, self.tilt_rate)
        self.tilt = torch.where(self.tilt.abs() < _TINY, 0.0, self.tilt)
        self.energy = torch.where(self.energy < _TINY, 0.0, self.energy)
        self.time += dt
        return StepInfo(
            failed=self.failed,
            new_failure=new_failure,
            failure_cause=self.failure_cause,
            blocked=blocked,
            out_of_map=~self.height_map.inside(self.poses[:, :2]),
            speed_factor=factor,
        )

    def advance_tick(self, commands: Tensor, tick: float = 1.0 / CONTROL_RATE) -> StepInfo:  # commands [N, 3]
        """Hold ``commands`` for one planning tick (default 0.1 s = 5 physics steps); failures are accumulated."""
        steps = max(1, round(tick / self.dt))
        new_failure = torch.zeros_like(self.failed)
        blocked = torch.zeros_like(self.failed)
        info = None
        for _ in range(steps):
            info = self.step(commands)
            new_failure |= info.new_failure
            blocked |= info.blocked
        assert info is not None
        return StepInfo(info.failed, new_failure, info.failure_cause, blocked, info.out_of_map, info.speed_factor)
