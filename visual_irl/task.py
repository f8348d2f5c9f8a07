"""The produce-sorting task: geometry in the torso frame, its rules, and the true task score.

A person stands at a sorting table: an onion lies in front of their right
hand; they pick it, lift it in front of the face to inspect it, and put it on
the conveyor (left, if good) or in the bin (right, if blemished), then bring
the arm back to rest. Positions are in the torso frame (origin between the
shoulders, x forward, y left, z up), so they hold for any camera.

The same rules decide what happened in a generated demonstration (from its
true trajectory) and in the RL environment: the onion is grasped when the
wrist comes within ``grasp_radius`` of it, follows the wrist while held, and is
released when the held onion enters a destination box.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, kw_only=True)
class SortingTaskCfg:
    """Geometry (torso frame, m) and timing of the sorting task."""

    onion_low: tuple[float, float, float] = (0.24, -0.30, -0.34)
    """Lower corner of the box where onions lie (m)."""
    onion_high: tuple[float, float, float] = (0.34, -0.14, -0.30)
    """Upper corner of the onion box (m)."""
    inspect: tuple[float, float, float] = (0.22, -0.08, 0.0)
    """Where the onion is held for inspection, in front of the face (m)."""
    inspect_radius: float = 0.08
    """The onion counts as inspected within this distance of ``inspect`` (m)."""
    conveyor_center: tuple[float, float, float] = (0.25, 0.03, -0.28)
    """Centre of the conveyor box, destination of good onions (m)."""
    conveyor_half: tuple[float, float, float] = (0.08, 0.08, 0.07)
    """Half extents of the conveyor box (m)."""
    bin_center: tuple[float, float, float] = (0.10, -0.42, -0.30)
    """Centre of the bin box, destination of blemished onions (m)."""
    bin_half: tuple[float, float, float] = (0.08, 0.08, 0.08)
    """Half extents of the bin box (m)."""
    rest: tuple[float, float, float] = (0.12, -0.24, -0.45)
    """Wrist at rest: upper arm hanging, forearm pointing forward and down (m)."""
    grasp_radius: float = 0.05
    """The wrist grasps the onion within this distance (m)."""
    dt: float = 0.1
    """Step of the learning state (s): the 30 Hz camera frames are taken every third."""
    horizon: int = 80
    """Steps per episode (8 s at 10 Hz)."""
    max_step: float = 0.1
    """Largest wrist displacement per step (m); 1 m/s, above a person's peak reaching speed here."""

    def __post_init__(self) -> None:
        if self.horizon < 2 or self.dt <= 0 or self.max_step <= 0 or self.grasp_radius <= 0:
            raise ValueError("task horizon >= 2, dt > 0, max_step > 0 and grasp_radius > 0 required")


def in_box(p: np.ndarray, center: tuple, half: tuple) -> np.ndarray:
    return np.all(np.abs(p - np.asarray(center)) <= np.asarray(half), axis=-1)


@dataclass(frozen=True)
class Outcome:
    """What happened in one episode (from the true trajectory)."""

    picked: bool
    inspected: bool
    placed: str  # "conveyor" | "bin" | "" (not placed)
    correct: bool
    t_place: int  # step of the release (horizon if never)
    score: float


def simulate_onion(
    cfg: SortingTaskCfg, wrist: np.ndarray, onion0: np.ndarray, grip: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Onion positions [T, 3] and held flags [T] for a wrist path [T, 3] under the task rules.

    ``grip`` [T] (optional) is the hand's intent to hold: False opens the hand
    (a dropped onion falls back to the table height where it is).
    """
    T = len(wrist)
    onion = np.empty((T, 3))
    held = np.zeros(T, dtype=bool)
    pos, holding, done = onion0.astype(np.float64).copy(), False, False
    table_z = onion0[2]
    for t in range(T):
        if not done and not holding and np.linalg.norm(wrist[t] - pos) <= cfg.grasp_radius:
            holding = grip is None or bool(grip[t])
        if holding and grip is not None and not grip[t]:
            holding = False
            pos = np.array([wrist[t, 0], wrist[t, 1], table_z])  # dropped on the table
            done = True
        if holding:
            pos = wrist[t].copy()
            if in_box(pos, cfg.conveyor_center, cfg.conveyor_half) or in_box(pos, cfg.bin_center, cfg.bin_half):
                holding, done = False, True
        onion[t], held[t] = pos, holding
    return onion, held


def outcome(cfg: SortingTaskCfg, onion: np.ndarray, held: np.ndarray, blemished: bool) -> Outcome:
    """Score an onion path [T, 3] with held flags [T].

    score = 0.2 picked + 0.1 inspected + 0.4 placed correctly + 0.3 correct * (1 - t_place / T):
    progress through the task, then how early it was finished (time on the
    conveyor is what a sorting line pays for).
    """
    T = len(onion)
    picked = bool(held.any())
    inspected = bool(np.any(held & (np.linalg.norm(onion - np.asarray(cfg.inspect), axis=-1) <= cfg.inspect_radius)))
    placed, t_place = "", T
    released = np.flatnonzero(held[:-1] & ~held[1:]) + 1
    if picked and len(released):
        t_place = int(released[0])
        p = onion[t_place]
        if in_box(p, cfg.conveyor_center, cfg.conveyor_half):
            placed = "conveyor"
        elif in_box(p, cfg.bin_center, cfg.bin_half):
            placed = "bin"
        else:
            t_place = T
    correct = placed == ("bin" if blemished else "conveyor")
    score = 0.2 * picked + 0.1 * inspected + 0.4 * correct + 0.3 * correct * (1.0 - t_place / T)
    return Outcome(picked, inspected, placed, correct, t_place, float(score))
