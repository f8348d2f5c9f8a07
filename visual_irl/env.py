"""The sorting task as an RL environment: batched numpy core plus a gymnasium wrapper.

Action: the wrist displacement (dx, dy, dz) in the torso frame (m), clipped to
``max_step``. The shoulder and elbow follow from the ``ArmModel`` regression
fitted to the demonstrations. The onion obeys ``visual_irl.task`` (grasped
within ``grasp_radius``, follows the held wrist, released in a destination
box). Episodes have the fixed horizon of the demonstrations; success = the
onion is in the box its label calls for.

``action_noise`` (m, default 0) adds Gaussian actuation noise to each commanded
displacement after clipping: a cobot tracking a wrist target does not land
exactly on it. The noise comes from the environment's own generator, so
episodes of one seed see the same noise whatever the policy does.

``BatchedSortingEnv`` steps N episodes at once (what PPO and AIRL use);
``SortingEnv`` is the single-episode ``gymnasium.Env`` for other tools.
"""

from __future__ import annotations

from typing import ClassVar

import gymnasium as gym
import numpy as np

from visual_irl.features import STATE_DIM, ArmModel
from visual_irl.task import SortingTaskCfg, in_box


class BatchedSortingEnv:
    """N sorting episodes stepped together; observations are states [N, 13]."""

    def __init__(self, task: SortingTaskCfg, arm: ArmModel, n: int, seed: int = 0, action_noise: float = 0.0):
        if not (np.isfinite(action_noise) and action_noise >= 0):
            raise ValueError(f"action_noise must be a finite std >= 0 (m), got {action_noise}")
        self.task, self.arm, self.n, self.action_noise = task, arm, n, float(action_noise)
        self.rng = np.random.default_rng(seed)
        self.lo, self.hi = np.asarray(task.onion_low), np.asarray(task.onion_high)

    def reset(self, seed: int | None = None) -> np.ndarray:
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        n, rng = self.n, self.rng
        self.t = 0
        self.wrist = np.asarray(self.task.rest) + rng.normal(0, 0.015, (n, 3))
        self.onion = rng.uniform(self.lo, self.hi, (n, 3))
        self.blemished = (rng.random(n) < 0.5).astype(np.float64)
        self.held = np.zeros(n, dtype=bool)
        self.placed = np.zeros(n, dtype=np.int8)  # 0 not yet, 1 conveyor, 2 bin
        # its own stream, drawn in full per step: the noise does not depend on the actions taken
        self.noise_rng = np.random.default_rng(self.rng.integers(2**63))
        return self.obs()

    def obs(self) -> np.ndarray:
        arm = self.arm.predict(self.wrist)
        return np.concatenate([arm, self.wrist, self.onion, self.blemished[:, None]], axis=1).astype(np.float32)

    def step(self, action: np.ndarray) -> tuple[np.ndarray, bool]:
        """Apply wrist displacements [N, 3]; returns (next states [N, 13], horizon reached)."""
        task = self.task
        a = np.clip(np.nan_to_num(np.asarray(action, dtype=np.float64)), -task.max_step, task.max_step)
        if self.action_noise > 0:
            a = a + self.noise_rng.normal(0.0, self.action_noise, a.shape)
        self.wrist = self.wrist + a
        free = (self.placed == 0) & ~self.held
        grasp = free & (np.linalg.norm(self.wrist - self.onion, axis=1) <= task.grasp_radius)
        self.held |= grasp
        self.onion[self.held] = self.wrist[self.held]
        conv = self.held & in_box(self.onion, task.conveyor_center, task.conveyor_half)
        binn = self.held & in_box(self.onion, task.bin_center, task.bin_half)
        self.placed[conv], self.placed[binn] = 1, 2
        self.held &= ~(conv | binn)
        self.t += 1
        return self.obs(), self.t >= task.horizon

    def success(self) -> np.ndarray:
        """[N] bool: the onion is where its label calls for."""
        return self.placed == np.where(self.blemished > 0.5, 2, 1)


class SortingEnv(gym.Env):
    """One sorting episode with the gymnasium API (reward: 1 on the step the onion lands correctly)."""

    metadata: ClassVar[dict] = {"render_modes": []}

    def __init__(self, task: SortingTaskCfg | None = None, arm: ArmModel | None = None):
        if arm is None:
            raise ValueError("SortingEnv needs the ArmModel fitted to the demonstrations (see ArmModel.fit)")
        self.core = BatchedSortingEnv(task or SortingTaskCfg(), arm, 1)
        ms = self.core.task.max_step
        self.action_space = gym.spaces.Box(-ms, ms, (3,), np.float32)
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (STATE_DIM,), np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        obs = self.core.reset(seed=seed if seed is not None else int(self.np_random.integers(2**31)))
        return obs[0], {}

    def step(self, action):
        before = bool(self.core.success()[0])
        obs, truncated = self.core.step(np.asarray(action)[None])
        ok = bool(self.core.success()[0])
        return obs[0], float(ok and not before), False, truncated, {"success": ok}
