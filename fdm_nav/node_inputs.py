"""The planner's inputs built from what a robot publishes: proprio history from odometry, height scan from a map.

No rclpy here: the node hands in plain numbers (see ``dynamics_stack.ros.nav_convert``).

Proprio (``fdm_nav.observation.PROPRIO_FIELDS``) from odometry: body-frame linear and
angular velocity from the twist (REP-105 puts it in ``child_frame_id``), the
gravity direction from the orientation, the command being tracked and the
one before it (what this node published), and the base height over the
ground below it (odometry z minus the elevation map there; the nominal height
when the map does not know that cell). The energy proxy is the simulator's
(|a.v| + g climb rate + 0.1 |alpha w|) from consecutive samples. Samples are
pushed at 20 Hz by stamp, as the dataset records them.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from fdm_nav.history import HistoryBuffer
from fdm_nav.observation import GRAVITY, HISTORY, PROPRIO_DIM, SAMPLE_PERIOD, fill_nan_nearest, height_scan
from sim.height_map import HeightMap


def gravity_in_body(q: np.ndarray) -> np.ndarray:
    """Unit gravity direction [3] in the body frame of the unit quaternion q = (x, y, z, w): R^T (0, 0, -1)."""
    x, y, z, w = q
    return -np.array([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)])


class OdomHistory:
    """20 Hz proprio/state history fed by odometry samples (any rate >= 20 Hz works; slower repeats nothing)."""

    def __init__(self, length: int = HISTORY):
        self.buffer = HistoryBuffer(length, PROPRIO_DIM)
        self.last_t: float | None = None
        self._prev: tuple[float, np.ndarray, float] | None = None  # (t, body velocity [3] vx vy wz, z)
        self.energy = 0.0

    def reset(self) -> None:
        self.__init__(self.buffer.length)

    @property
    def ready(self) -> bool:
        return self.buffer.ready

    def add(
        self,
        t: float,
        pose: np.ndarray,  # [3] x, y, yaw
        z: float,
        quaternion: np.ndarray,  # [4]
        linear: np.ndarray,  # [3] body
        angular: np.ndarray,  # [3] body
        command: np.ndarray,  # [3] being tracked
        prev_command: np.ndarray,  # [3]
        base_height: float,
    ) -> bool:
        """Offer one odometry sample; returns True when it was pushed (20 Hz by stamp)."""
        if self.last_t is not None and t < self.last_t:  # time went backwards (bag loop, sim reset): start over
            self.reset()
        vel = np.array([linear[0], linear[1], angular[2]])
        if self._prev is not None and t - self._prev[0] > 1e-6:
            dt = t - self._prev[0]
            acc = (vel - self._prev[1]) / dt
            climb = max(0.0, (z - self._prev[2]) / dt)
            self.energy = float(abs(acc[:2] @ vel[:2]) + GRAVITY * climb + 0.1 * abs(acc[2] * vel[2]))
        self._prev = (t, vel, z)
        if self.last_t is not None and t - self.last_t < SAMPLE_PERIOD - 1e-3:
            return False
        proprio = np.concatenate([linear, angular, gravity_in_body(quaternion), command, prev_command, [base_height]])
        self.buffer.push(torch.as_tensor(proprio, dtype=torch.float32), torch.as_tensor(pose), False, self.energy)
        self.last_t = t
        return True

    def inputs(self) -> tuple[Tensor, Tensor]:
        return self.buffer.inputs()


def grid_height_map(heights: np.ndarray, origin: tuple[float, float], resolution: float) -> HeightMap:
    """A ``sim.terrain.HeightMap`` view of an elevation grid (heights [H, W], NaN = unknown)."""
    h = torch.as_tensor(heights, dtype=torch.float32)
    none = torch.zeros(h.shape, dtype=torch.bool)
    return HeightMap(h, none, none.clone(), float(resolution), (float(origin[0]), float(origin[1])))


def scan_from_map(hm: HeightMap, pose: np.ndarray, z_base: float) -> Tensor:
    """The robot-centric height scan [60, 46] at ``pose`` (x, y, yaw), unknown cells filled from neighbours."""
    p = torch.as_tensor(np.asarray(pose, dtype=np.float32))[None]
    scan = height_scan(hm, p, torch.tensor([float(z_base)]))[0]
    return fill_nan_nearest(scan)
