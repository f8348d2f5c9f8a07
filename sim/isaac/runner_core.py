"""Everything the Isaac runner decides that is not an Isaac Sim call: inputs of the policy, the bridge and the episode.

``RunnerCore`` takes the robot's measured state each policy step (50 Hz)
and returns the policy observation, the values the ROS graph publishes
(odometry, the elevation map when due, the clock), and keeps the episode
with the shared bookkeeping (``sim.episode``, ``sim.failure_rules``), so the
episode JSON has the embedded benchmark's fields. The ground under the
robot and the height-scan hits come from the scenario's height map through
``sim.terrain_mesh.surface_height``: the surface of the very mesh the stage
holds, so they equal a vertical ray cast against it (what Isaac Lab's
scanner returns) without a ray caster.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dynamics_stack.atomic import atomic_write_json
from fdm_nav.runner_contract import ELEVATION_MAP
from sim.episode import EPISODE_FORMAT, Episode, EpisodeTracker
from sim.failure_rules import FailureMonitor, PhysicsFailureRules
from sim.height_map import HeightMap
from sim.isaac import anymal_policy as policy
from sim.isaac.command_map import CommandMap
from sim.platform import load_platform
from sim.scenario import Scenario
from sim.terrain_mesh import surface_height


@dataclass(frozen=True)
class RobotState:
    """The base and joints as Isaac Sim reports them (world frame), joints already in the policy's order."""

    position: np.ndarray  # [3] m, base in the world (= the scenario's map frame)
    quat_wxyz: np.ndarray  # [4] base orientation
    lin_vel_world: np.ndarray  # [3] m/s
    ang_vel_world: np.ndarray  # [3] rad/s
    joint_pos: np.ndarray  # [12] rad, policy order
    joint_vel: np.ndarray  # [12] rad/s, policy order
    base_contact_force: float = 0.0  # N, net contact force on the base body (0 without a contact sensor)


class RunnerCore:
    """One scenario episode in Isaac Sim, minus Isaac Sim."""

    def __init__(self, scenario: Scenario, height_map: HeightMap, *, planner: str, with_scan: bool, map_size: float):
        self.scenario = scenario
        self.height_map = height_map
        self.heights = height_map.heights.detach().cpu().numpy().astype(np.float64)
        self.with_scan = with_scan
        self.map_size = map_size
        self.commands = CommandMap()
        self.monitor = FailureMonitor(PhysicsFailureRules.from_platform(load_platform(scenario.platform)))
        self.tracker = EpisodeTracker.for_scenario(scenario, planner, simulator="isaac_sim")
        self.next_map_t = 0.0

    @property
    def episode(self) -> Episode:
        return self.tracker.episode

    def ground(self, xy: np.ndarray) -> np.ndarray:
        """Height of the stage's terrain mesh under points xy [..., 2] (NaN off the map)."""
        return surface_height(self.heights, self.height_map.origin, self.height_map.resolution, xy)

    def observation(self, state: RobotState, last_action: np.ndarray, t: float) -> np.ndarray:
        """The policy's input at simulated time t: state, the command from cmd_vel, the height scan."""
        scan = None
        if self.with_scan:
            hits = self.ground(policy.scan_points_xy(state.position[:2], policy.yaw_of(state.quat_wxyz)))
            scan = policy.height_scan(float(state.position[2]), hits)
        return policy.policy_observation(
            quat_wxyz=state.quat_wxyz,
            lin_vel_world=state.lin_vel_world,
            ang_vel_world=state.ang_vel_world,
            command=self.commands.command(t),
            joint_pos=state.joint_pos,
            joint_vel=state.joint_vel,
            last_action=last_action,
            scan=scan,
        )

    @staticmethod
    def odometry_values(state: RobotState) -> dict[str, Any]:
        """ROS2PublishOdometry inputs: pose in the map frame, orientation (x, y, z, w), body-frame twist."""
        w, x, y, z = (float(c) for c in state.quat_wxyz)
        return {
            "odom_position": [float(v) for v in state.position],
            "odom_orientation": [x, y, z, w],  # the node takes IJKR order
            "odom_linear": policy.quat_rotate_inverse(state.quat_wxyz, state.lin_vel_world).tolist(),
            "odom_angular": policy.quat_rotate_inverse(state.quat_wxyz, state.ang_vel_world).tolist(),
        }

    def map_due(self, t: float) -> bool:
        """Whether the elevation map goes out at simulated time t (the contract's rate), and schedule the next."""
        if t + 1e-9 < self.next_map_t:
            return False
        self.next_map_t = t + 1.0 / ELEVATION_MAP.rate_hz
        return True

    def map_points(self, state: RobotState) -> np.ndarray:
        """The elevation cloud [N, 3] float32: one point per cell of the square around the robot (as terrain_sim)."""
        heights, origin = self.height_map.window(float(state.position[0]), float(state.position[1]), self.map_size)
        r = self.height_map.resolution
        i, j = np.meshgrid(np.arange(heights.shape[0]), np.arange(heights.shape[1]), indexing="ij")
        return np.stack([origin[0] + i.ravel() * r, origin[1] + j.ravel() * r, heights.ravel()], axis=-1).astype(
            np.float32
        )

    def judge(self, t: float, state: RobotState, dt: float) -> bool:
        """Failure, success or timeout after a step of dt seconds at simulated time t; returns whether it is over."""
        w, x, y, z = (float(c) for c in state.quat_wxyz)
        roll = math.atan2(2 * (w * x + y * z), 1 - 2 * (x * x + y * y))
        pitch = math.asin(max(-1.0, min(1.0, 2 * (w * y - z * x))))
        ground = float(self.ground(np.asarray(state.position[:2], dtype=np.float64)))
        pose = [float(state.position[0]), float(state.position[1]), policy.yaw_of(state.quat_wxyz)]
        cause = self.monitor.check(
            dt,
            base_contact_force=float(state.base_contact_force),
            vertical_speed=float(state.lin_vel_world[2]),
            base_height=float(state.position[2]) - ground if math.isfinite(ground) else -math.inf,
            roll=roll,
            pitch=pitch,
            commanded_speed=float(np.linalg.norm(self.commands.command(t)[:2])),
            planar_speed=float(np.linalg.norm(np.asarray(state.lin_vel_world)[:2])),
        )
        if cause is not None:
            self.tracker.fail(t, cause, pose)
            return True
        return self.tracker.observe(t, pose)

    def report(self, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """The episode JSON: the shared fields of ``sim.episode`` plus what ran."""
        return {
            "format": EPISODE_FORMAT,
            "episode": self.episode.summary(),
            "rejected_commands": self.commands.rejected,
            **(extra or {}),
        }

    def write(self, path: str | Path, extra: dict[str, Any] | None = None) -> None:
        atomic_write_json(Path(path), self.report(extra))


def read_episode(path: str | Path) -> dict[str, Any]:
    """An episode JSON written by the runner (checked format)."""
    data = json.loads(Path(path).read_text())
    if data.get("format") != EPISODE_FORMAT:
        raise ValueError(f"{path}: not a {EPISODE_FORMAT} file")
    return data
