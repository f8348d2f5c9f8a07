"""Joint targets a real arm can follow: position, velocity and acceleration limits on a stream of joint positions.

The limits (``JointLimits``, per joint) are the robot's (``visual_irl.robots``):
positions and velocities from its URDF, accelerations from the maker's
documentation (the URDFs have none), velocity and acceleration times the scales
of ``JointLimitsCfg``.

``JointLimiter.step(stamp, q_des)`` turns the retargeted joints of one frame
into the target to publish. Read as a trajectory through the targets' stamps,
consecutive targets dt apart satisfy, per joint (``check_stream`` measures it):

    v_k = (q_k - q_{k-1}) / dt,   |v_k| <= v_max,   |v_k - v_{k-1}| / dt <= a_max,
    lower <= q_k <= upper, and the arm can still stop inside [lower, upper] braking at a_max.

Each step takes the velocity nearest the one that reaches q_des, inside that
window, and no faster than one from which the next targets could stop at q_des
(slowing by a dt per step: ``v_stop``), so they do not overshoot a person who
stops; below a dt per step that is q_des itself, reached in one step. Towards
the position limits the stop is bounded as a continuous one, which holds
whatever the next intervals are:

    v_brake(e) = -a dt + sqrt((a dt)^2 + 2 a e)     (solves v dt + v^2 / (2 a) = e: one step, then a stop)

so every target, and the stop after it, stays inside them. A pause longer than
``max_dt_s`` (dropped or late frames) counts as the arm having stopped at the
last target: the next step starts from rest and is credited one frame
interval of the source (``restart_dt``), so the targets ramp back onto the
retargeted joints instead of jumping. The first target starts so from rest at
``start``.

``stop_trajectory`` gives the target followed by that stop (what a
JointTrajectory carries, so a controller left without new targets stops
within the limits). No rclpy here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True, kw_only=True)
class JointLimitsCfg:
    """How much of the robot's joint limits the published joint targets may use."""

    velocity_scale: float = 0.9
    """Fraction (0, 1] of each joint's URDF velocity limit a target step may use; 0.9 stays under libfranka's own ceiling (2.13 of the Panda's 2.175 rad/s, a margin for lost packets) with room for the controller between targets."""
    acceleration_scale: float = 1.0
    """Fraction (0, 1] of each joint's documented acceleration limit (Panda: libfranka's; UR5: Universal Robots' MoveIt config, already conservative) between target steps."""
    max_dt_s: float = 0.2
    """Longest interval [s] between two targets still treated as one motion; after a longer pause the next target ramps from rest, one source frame interval at a time."""

    def __post_init__(self) -> None:
        for name in ("velocity_scale", "acceleration_scale"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0.0 < value <= 1.0):
                raise ValueError(f"{name} must be in (0, 1], got {value}")
        if not (math.isfinite(self.max_dt_s) and self.max_dt_s > 0):
            raise ValueError(f"max_dt_s must be finite and > 0, got {self.max_dt_s}")


@dataclass(frozen=True)
class JointLimits:
    """Per-joint limits [J] of one robot, scales applied."""

    names: tuple[str, ...]
    lower: np.ndarray  # rad
    upper: np.ndarray  # rad
    velocity: np.ndarray  # rad/s
    acceleration: np.ndarray  # rad/s^2

    @classmethod
    def of(cls, robot: Any, cfg: JointLimitsCfg) -> JointLimits:
        """From a ``visual_irl.robots.Robot``: URDF positions and velocities, documented accelerations, scaled."""
        return cls(
            names=tuple(robot.joint_names),
            lower=np.asarray(robot.lower, dtype=np.float64),
            upper=np.asarray(robot.upper, dtype=np.float64),
            velocity=cfg.velocity_scale * np.asarray(robot.velocity, dtype=np.float64),
            acceleration=cfg.acceleration_scale * np.asarray(robot.acceleration, dtype=np.float64),
        )


def v_brake(distance: np.ndarray, accel: np.ndarray, dt: float) -> np.ndarray:
    """Largest speed [J] for a step of ``dt`` after which a stop at ``accel`` ends within ``distance`` (>= 0)."""
    ad = accel * dt
    return -ad + np.sqrt(ad * ad + 2.0 * accel * np.maximum(distance, 0.0))


def v_stop(distance: np.ndarray, accel: np.ndarray, dt: float) -> np.ndarray:
    """Largest speed [J] for a step of ``dt`` after which steps slowing by ``accel * dt`` stop within ``distance``.

    With v = (n + f) a dt (n whole, 0 <= f < 1) the step and the stop cover a dt^2 (n + 1) (n / 2 + f).
    """
    u = accel * dt * dt
    x = np.maximum(distance, 0.0) / u
    n = np.floor((np.sqrt(1.0 + 8.0 * x) - 1.0) / 2.0)
    f = np.clip(x / (n + 1.0) - n / 2.0, 0.0, 1.0)
    return (n + f) * accel * dt


@dataclass(frozen=True)
class LimitedStep:
    """One published target: positions, the velocity of the step to them, its (credited) duration."""

    q: np.ndarray  # [J] rad
    v: np.ndarray  # [J] rad/s
    dt: float  # s: the stamp interval, or restart_dt for the first step and after a pause
    limited: bool  # the target differs from the retargeted joints


class JointLimiter:
    """The stream of targets for one robot; see the module docstring."""

    def __init__(self, limits: JointLimits, max_dt_s: float, restart_dt: float, start: np.ndarray):
        self.limits, self.max_dt = limits, max_dt_s
        self.restart_dt = min(restart_dt, max_dt_s)  # s: the step credited when starting from rest
        self.q = np.clip(np.asarray(start, dtype=np.float64), limits.lower, limits.upper)  # [J] last target
        self.v = np.zeros_like(self.q)  # [J] velocity of the last step (0: at rest)
        self.stamp: float | None = None  # of the last target; None: the next one starts from rest

    def restart(self) -> None:
        """The arm is taken to be at rest at the last target; the next step ramps from there."""
        self.v[:] = 0.0
        self.stamp = None

    def step(self, stamp: float, q_des: np.ndarray) -> LimitedStep:
        """The target for the frame stamped ``stamp`` (after the last one; the caller checks) towards ``q_des`` [J]."""
        lim = self.limits
        dt = np.inf if self.stamp is None else stamp - self.stamp
        if not dt > 0:
            raise ValueError(f"stamp {stamp} is not after the last target's {self.stamp}")
        if not np.all(np.isfinite(q_des)):
            raise ValueError("non-finite joint target")
        if dt > self.max_dt:  # the first target, or a pause: the arm is at rest at the last target
            self.v[:] = 0.0
            dt = self.restart_dt
        q_des = np.clip(np.asarray(q_des, dtype=np.float64), lim.lower, lim.upper)
        a, q = lim.acceleration, self.q
        e = q_des - q
        v_goal = np.sign(e) * v_stop(np.abs(e), a, dt)  # reach q_des, or as near as a stop there allows
        lo = np.maximum.reduce([self.v - a * dt, -lim.velocity, -v_brake(q - lim.lower, a, dt)])
        hi = np.minimum.reduce([self.v + a * dt, lim.velocity, v_brake(lim.upper - q, a, dt)])
        v = np.minimum(np.maximum(v_goal, lo), hi)
        q_new = np.clip(q + v * dt, lim.lower, lim.upper)
        v = (q_new - q) / dt
        self.q, self.v, self.stamp = q_new, v, stamp
        return LimitedStep(q=q_new.copy(), v=v.copy(), dt=dt, limited=bool(np.any(np.abs(q_new - q_des) > 1e-9)))


def limit_trajectory(
    t: np.ndarray, q: np.ndarray, limits: JointLimits, max_dt_s: float, restart_dt: float, start: np.ndarray
) -> np.ndarray:
    """Targets [T, J] stamped t [T] (increasing) through a ``JointLimiter`` that starts at rest at ``start``."""
    limiter = JointLimiter(limits, max_dt_s, restart_dt, start)
    return np.array([limiter.step(float(s), x).q for s, x in zip(t, q, strict=True)]).reshape(np.shape(q))


def stop_trajectory(q: np.ndarray, v: np.ndarray, dt: float, limits: JointLimits) -> np.ndarray:
    """The target q [J] reached at velocity v, then a stop: positions [P, J] of points ``dt`` apart.

    Point 0 is the target; after it each joint slows by a_max dt per step until it rests (P = 1 at rest),
    so linear interpolation between the points moves every joint within its velocity limit and changes
    its velocity by at most a_max dt per point. Inside the position limits for targets of ``JointLimiter``
    (its braking bound).
    """
    a_dt = limits.acceleration * dt
    steps = int(np.max(np.ceil(np.abs(v) / a_dt - 1e-9), initial=0))
    k = np.arange(1, max(steps, 1))[:, None]  # the k-th step after the target moves at |v| - k a dt
    seg = np.maximum(np.abs(v) - k * a_dt, 0.0) * np.sign(v)  # [P - 1, J]
    return np.clip(q + np.cumsum(np.concatenate([np.zeros((1, len(q))), seg]), axis=0) * dt, limits.lower, limits.upper)


def check_stream(
    t: np.ndarray,
    q: np.ndarray,
    limits: JointLimits,
    max_dt_s: float,
    restart_dt: float,
    start: np.ndarray | None = None,
) -> dict[str, Any]:
    """Joint speeds and accelerations of targets [T, J] stamped t [T], read as ``JointLimiter`` promises them.

    A pair further apart than ``max_dt_s`` counts as a step from rest taken in ``restart_dt``; with
    ``start`` the first target is such a step from there. Returns per joint the largest |v| and |a|
    with their limits, and how many pairs exceed a limit (1e-9 relative slack for rounding).
    """
    t, q = np.asarray(t, dtype=np.float64), np.asarray(q, dtype=np.float64)
    if start is not None:
        t, q = np.concatenate([[-np.inf], t]), np.concatenate([np.asarray(start)[None], q])
    dt = np.diff(t)
    pause = dt > max_dt_s
    dt_eff = np.where(pause, min(restart_dt, max_dt_s), dt)[:, None]
    v = np.diff(q, axis=0) / dt_eff  # [T-1, J]
    v_before = np.concatenate([np.zeros((1, q.shape[1])), v[:-1]])
    v_before[pause] = 0.0
    if start is None:
        v_before[0] = np.nan  # unknown: the motion before the first target
    acc = np.abs(v - v_before) / dt_eff
    speed = np.abs(v)
    slack = 1.0 + 1e-9
    over_v = np.any(speed > limits.velocity * slack, axis=1)
    over_a = np.any(np.nan_to_num(acc) > limits.acceleration * slack, axis=1)
    outside = np.any((q < limits.lower - 1e-9) | (q > limits.upper + 1e-9), axis=1)
    joints = {
        name: {
            "max_speed": round(float(np.max(speed[:, j], initial=0.0)), 4),
            "velocity_limit": round(float(limits.velocity[j]), 4),
            "max_acceleration": round(float(np.nanmax(acc[:, j], initial=0.0)), 4),
            "acceleration_limit": round(float(limits.acceleration[j]), 4),
        }
        for j, name in enumerate(limits.names)
    }
    return {
        "pairs": len(dt),
        "pairs_over_velocity": int(over_v.sum()),
        "pairs_over_acceleration": int(over_a.sum()),
        "targets_outside_position_limits": int(outside.sum()),
        "largest_step_rad": round(float(np.max(np.abs(np.diff(q, axis=0)), initial=0.0)), 4),
        "joints": joints,
    }
