"""Scripted random interactions with a deformable object, recorded as PGND episodes at 10 Hz.

Kinds of episode, drawn at random among those a dataset asks for:

- **grasp**: the gripper closes on a random particle, lifts and drags it
  (random displacement, height and yaw change) along two straight segments,
  releases it and retreats upward; the object falls and settles afterwards;
- **push**: the open gripper descends beside the object and sweeps through it
  along a random line (offset from the centre, so the object also turns),
  then lifts away;
- **drag** (only when asked for): the gripper closes on a random particle and
  slides it over the table, at most 3 cm high, along two straight segments
  within about a second, then releases and rises: the actions a planner that
  rearranges objects on a table sends (``pgnd.planner``), which the lifted
  grasps leave out.

Each episode starts from a random initial shape (a random bend of the rope,
a random yaw and offset of either object) that has settled on the table.
The gripper moves with constant velocity between keyframes, so over one
0.1 s model step its velocity is what the recorded 15 gripper values say.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from sim.deformable_cameras import RenderCfg, RgbdRenderer, default_rig
from sim.deformable_scene import FINGER_RADIUS, GRASP_RADIUS, TIMESTEP, DeformableScene, sample_params

DT = 0.1  # s per model step (anchor: 30 fps video, every 3rd frame)
SUBSTEPS = round(DT / TIMESTEP)
GRIPPER_DIM = 15  # centre 3, linear velocity 3, quaternion (w, x, y, z) 4, angular velocity 3, radius, openness
ACTIONS = ("grasp", "push", "drag")
DEFAULT_ACTIONS = ("grasp", "push")  # what the datasets were made with before drags existed
SETTLE_S = 0.4  # s of physics before recording, so the initial shape rests on the table
# Gripper centre height when pushing: the finger capsule reaches below the table, so its straight side
# (not its round bottom, which would ride over a 1 cm rope) meets the object.
PUSH_HEIGHT = 0.008


@dataclass(frozen=True)
class Keyframe:
    """Gripper pose at time ``t``; ``closed`` and ``contact`` hold from ``t`` to the next keyframe."""

    t: float
    pos: tuple[float, float, float]
    yaw: float
    closed: bool
    contact: bool = True
    """False while the open gripper retreats: the finger then passes through the object instead of
    dragging it along its side (a real gripper would lift clear; the model has no finger shape)."""


def initial_offsets(category: str, rest: np.ndarray, rng: np.random.Generator) -> np.ndarray:  # [N,3] -> [N,3]
    """Offsets from the rest shape to a random start shape: yaw, shift and (rope) a circular bend."""
    shape = rest.copy()
    if category == "rope":
        s = shape[:, 0] - shape[:, 0].mean()  # arc length along the straight chain
        kappa = rng.uniform(-6.0, 6.0)  # 1/m; |kappa| * length < 2.4 rad keeps the arc from closing on itself
        if abs(kappa) > 1e-3:
            shape[:, 0] = np.sin(kappa * s) / kappa
            shape[:, 1] = (1 - np.cos(kappa * s)) / kappa
    yaw = rng.uniform(-np.pi, np.pi)
    c, s_ = np.cos(yaw), np.sin(yaw)
    xy = shape[:, :2] - shape[:, :2].mean(axis=0)
    shape[:, 0], shape[:, 1] = c * xy[:, 0] - s_ * xy[:, 1], s_ * xy[:, 0] + c * xy[:, 1]
    shape[:, :2] += rng.uniform(-0.05, 0.05, size=2)
    return shape - rest


def grasp_keyframes(p: np.ndarray, rng: np.random.Generator, seconds: float) -> list[Keyframe]:
    """Close on particle position ``p``, lift-drag in two segments, release, retreat upward."""
    yaw0 = rng.uniform(-np.pi, np.pi)
    direction = rng.uniform(-np.pi, np.pi)
    dist = rng.uniform(0.05, 0.25)
    lift = rng.uniform(0.02, 0.15)
    end_h = rng.uniform(0.01, 0.08)
    u = np.array([np.cos(direction), np.sin(direction), 0.0])
    t1 = round(rng.uniform(0.6, 1.4), 1)
    t2 = round(t1 + rng.uniform(0.6, 1.4), 1)
    t3 = min(seconds, round(t2 + 0.8, 1))
    mid = p + 0.5 * dist * u + np.array([0, 0, lift])
    end = p + dist * u
    end[2] = max(end_h, p[2])
    dyaw = rng.uniform(-0.8, 0.8)
    return [
        Keyframe(0.0, tuple(p), yaw0, True),
        Keyframe(t1, tuple(mid), yaw0 + 0.5 * dyaw, True),
        Keyframe(t2, tuple(end), yaw0 + dyaw, False, contact=False),  # released at t2
        Keyframe(t3, tuple(end + np.array([0, 0, 0.12])), yaw0 + dyaw, False, contact=False),
        Keyframe(seconds, tuple(end + np.array([0, 0, 0.12])), yaw0 + dyaw, False, contact=False),
    ]


def drag_keyframes(p: np.ndarray, rng: np.random.Generator, seconds: float) -> list[Keyframe]:
    """Close on ``p``, slide it over the table in two segments (low, about a second), release, rise."""
    direction = rng.uniform(-np.pi, np.pi)
    bend = rng.uniform(-0.8, 0.8)  # the second segment turns by this much
    dist = rng.uniform(0.03, 0.25)
    t1 = round(rng.uniform(0.3, 0.7), 1)
    t2 = round(t1 + rng.uniform(0.3, 0.8), 1)
    t3 = min(seconds, round(t2 + 0.5, 1))
    u1 = np.array([np.cos(direction), np.sin(direction), 0.0])
    u2 = np.array([np.cos(direction + bend), np.sin(direction + bend), 0.0])
    share = rng.uniform(0.3, 0.7)
    mid = p + share * dist * u1 + np.array([0.0, 0.0, rng.uniform(0.0, 0.03)])
    end = mid + (1 - share) * dist * u2
    end[2] = max(p[2], rng.uniform(0.005, 0.02))
    yaw = rng.uniform(-np.pi, np.pi)
    return [
        Keyframe(0.0, tuple(p), yaw, True),
        Keyframe(t1, tuple(mid), yaw, True),
        Keyframe(t2, tuple(end), yaw, False, contact=False),  # released at t2
        Keyframe(t3, tuple(end + np.array([0, 0, 0.1])), yaw, False, contact=False),
        Keyframe(seconds, tuple(end + np.array([0, 0, 0.1])), yaw, False, contact=False),
    ]


def push_keyframes(x: np.ndarray, rng: np.random.Generator, seconds: float) -> list[Keyframe]:
    """Sweep the open gripper through the object along a random line, then lift away."""
    c = x.mean(axis=0)
    direction = rng.uniform(-np.pi, np.pi)
    u = np.array([np.cos(direction), np.sin(direction), 0.0])
    n = np.array([-u[1], u[0], 0.0])
    offset = rng.uniform(-0.04, 0.04)
    back = float(np.max(-(x - c) @ u)) + FINGER_RADIUS + 0.015  # start just outside the object
    z = PUSH_HEIGHT
    start = c - back * u + offset * n
    start[2] = z
    dist = back + rng.uniform(0.05, 0.2)
    speed = rng.uniform(0.1, 0.25)
    t1 = round(min(seconds - 1.0, dist / speed), 1)
    end = start + dist * u
    yaw = rng.uniform(-np.pi, np.pi)
    return [
        Keyframe(0.0, tuple(start), yaw, False),
        Keyframe(t1, tuple(end), yaw, False, contact=False),
        Keyframe(min(seconds, t1 + 0.5), tuple(end + np.array([0, 0, 0.1])), yaw, False, contact=False),
        Keyframe(seconds, tuple(end + np.array([0, 0, 0.1])), yaw, False, contact=False),
    ]


def segment_at(keys: list[Keyframe], t: float) -> Keyframe:
    """The keyframe whose segment contains ``t`` (the last one after the end)."""
    for a, b in itertools.pairwise(keys):
        if t <= b.t + 1e-9:
            return a
    return keys[-1]


def pose_at(keys: list[Keyframe], t: float) -> tuple[np.ndarray, float, bool]:
    """Gripper (position, yaw, closed) at time ``t``: linear between keyframes, held after the last."""
    for a, b in itertools.pairwise(keys):
        if t <= b.t + 1e-9:
            w = 0.0 if b.t <= a.t else min(1.0, max(0.0, (t - a.t) / (b.t - a.t)))
            pos = (1 - w) * np.asarray(a.pos) + w * np.asarray(b.pos)
            return pos, (1 - w) * a.yaw + w * b.yaw, a.closed
    last = keys[-1]
    return np.asarray(last.pos), last.yaw, last.closed


def gripper_state(keys: list[Keyframe], k: int, steps: int) -> np.ndarray:  # -> [15]
    """The anchor's 15 gripper values at frame ``k``; velocities are those of the step k -> k+1."""
    p0, y0, closed = pose_at(keys, k * DT + 1e-6)
    if k < steps:
        p1, y1, _ = pose_at(keys, (k + 1) * DT)
        vel, wz = (p1 - p0) / DT, (y1 - y0) / DT
    else:
        vel, wz = np.zeros(3), 0.0
    quat = np.array([np.cos(y0 / 2), 0.0, 0.0, np.sin(y0 / 2)])
    return np.concatenate((p0, vel, quat, [0.0, 0.0, wz], [GRASP_RADIUS], [0.0 if closed else 1.0]))


def simulate_episode(
    category: str,
    rng: np.random.Generator,
    seconds: float = 5.0,
    render: RenderCfg | None = None,
    actions: tuple[str, ...] = DEFAULT_ACTIONS,
) -> dict[str, np.ndarray]:
    """One random episode; arrays: x [T+1, N, 3], gripper [T+1, 15], params [4], action (int, index into
    ``ACTIONS``), finite (bool). The kind is drawn among ``actions``.

    With ``render``, also every frame of every camera of its rig, exact (the sensor noise of
    ``render`` is added where frames are read, ``sim.deformable_cameras.add_sensor_noise``): rgb uint8
    [T+1, C, H, W, 3], depth float32 [T+1, C, H, W] (m), labels uint8 [T+1, C, H, W]
    (``sim.deformable_cameras.LABEL_*``). The physics, and so ``x``, is the same with or without it.
    """
    params = sample_params(category, rng)
    cameras = default_rig(render.rig) if render is not None else []
    scene = DeformableScene(category, params, cameras)
    renderer = RgbdRenderer(scene.model, cameras, render.antialias) if render is not None else None
    frames: list[dict[str, np.ndarray]] = []
    scene.set_gripper(np.array([0.0, 0.0, 0.5]), 0.0)
    scene.displace(initial_offsets(category, scene.particles, rng))
    scene.step(round(SETTLE_S / TIMESTEP))
    steps = round(seconds / DT)
    action = ACTIONS.index(actions[int(rng.integers(len(actions)))])  # the default draws as before drags existed
    x0 = scene.particles
    if ACTIONS[action] == "grasp":
        keys = grasp_keyframes(x0[rng.integers(len(x0))], rng, seconds)
    elif ACTIONS[action] == "drag":
        keys = drag_keyframes(x0[rng.integers(len(x0))], rng, seconds)
    else:
        keys = push_keyframes(x0, rng, seconds)
    xs = np.zeros((steps + 1, scene.n, 3), np.float32)
    grip = np.zeros((steps + 1, GRIPPER_DIM), np.float32)
    for k in range(steps + 1):
        pos, yaw, closed = pose_at(keys, k * DT + 1e-6)
        scene.set_gripper(pos, yaw)
        if closed and not scene.closed:
            scene.close()
        elif not closed and scene.closed:
            scene.open()
        if not closed:
            scene.set_contact(segment_at(keys, k * DT + 1e-6).contact)
        xs[k] = scene.particles
        grip[k] = gripper_state(keys, k, steps)
        if renderer is not None:
            frames.append(renderer.render(scene.data))
        if k == steps:
            break
        for s in range(1, SUBSTEPS + 1):
            p, y, _ = pose_at(keys, k * DT + s * TIMESTEP)
            scene.set_gripper(p, y)
            scene.step()
    out = {
        "x": xs,
        "gripper": grip,
        "params": params.as_array(),
        "action": np.int64(action),
        "finite": np.bool_(scene.finite() and np.isfinite(xs).all()),
    }
    if renderer is not None:
        renderer.close()
        out.update({key: np.stack([f[key] for f in frames]) for key in ("rgb", "depth", "labels")})
    return out
