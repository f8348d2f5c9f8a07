"""One manipulation task in MuJoCo, stepped by grasp-drag-release actions: the robot's stand-in for the closed loop.

``reset`` builds the scene of a task file (``sim.manip_scenario``), lays the
object in its start shape and lets it settle. ``execute`` carries out one
action the way the data generator's grasps move (``sim.deformable_script``):
the open gripper comes down onto the grasp point with its finger passing
through the object (a real gripper approaches from above), closes, follows
the waypoints at 10 Hz, opens, rises clear and parks, and the object settles
for ``settle_s``. Every 0.1 s frame is recorded: the vertices and, with a
``RenderCfg``, the cameras' frames (sensor noise included), so a perception
front end can observe what a robot would.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sim.deformable_cameras import RenderCfg, RgbdRenderer, add_sensor_noise, default_rig
from sim.deformable_scene import TIMESTEP, DeformableScene
from sim.deformable_script import DT, SETTLE_S, SUBSTEPS
from sim.manip_scenario import ManipScenario, start_vertices, target_cloud

PARK = np.array([0.0, 0.0, 0.4])  # m: where the gripper waits between actions, out of every camera's way
RISE = 0.1  # m the gripper rises after opening, before it parks


@dataclass
class Frame:
    """One recorded 0.1 s frame: vertices [N, 3], gripper centre [3], closed flag, camera frames (if rendered)."""

    t: float
    vertices: np.ndarray
    gripper: np.ndarray
    closed: bool
    rgb: np.ndarray | None = None  # [C, H, W, 3] uint8
    depth: np.ndarray | None = None  # [C, H, W] m
    labels: np.ndarray | None = None  # [C, H, W] uint8


@dataclass
class ManipEnv:
    """A task's scene; ``frames`` holds every frame since ``reset``."""

    scenario: ManipScenario
    render: RenderCfg | None = None
    noise_seed: int = 0
    settle_s: float = 0.6
    frames: list[Frame] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.cameras = default_rig(self.render.rig) if self.render is not None else []
        self.scene: DeformableScene | None = None
        self.renderer: RgbdRenderer | None = None
        self.target = np.zeros((0, 3))

    # --- episode ------------------------------------------------------------------------------------
    def reset(self) -> Frame:
        """Build the scene, place the object in its start shape, settle; returns the first frame."""
        self.close()
        s = self.scenario
        self.scene = DeformableScene(s.object.category, s.object.object_params(), self.cameras)
        if self.render is not None:
            self.renderer = RgbdRenderer(self.scene.model, self.cameras, self.render.antialias)
        self.rng = np.random.default_rng(self.noise_seed)
        start = start_vertices(s)
        self.target = target_cloud(s, start)
        self.scene.set_gripper(PARK, 0.0)
        self.scene.set_contact(False)
        self.scene.displace(start - self.scene.particles)
        self.scene.step(round(SETTLE_S / TIMESTEP))
        self.frames = []
        self.t = 0.0
        return self._record()

    @property
    def vertices(self) -> np.ndarray:
        assert self.scene is not None, "reset first"
        return self.scene.particles

    def execute(self, grasp: np.ndarray, path: np.ndarray) -> list[Frame]:
        """Close on ``grasp`` [3], move through ``path`` [T, 3] (one waypoint per 0.1 s), open, rise, park,
        settle. Returns the frames recorded during the action."""
        assert self.scene is not None, "reset first"
        scene = self.scene
        first = len(self.frames)
        grasp = np.asarray(grasp, dtype=np.float64)
        scene.set_contact(False)  # the finger passes through the object on its way down
        scene.set_gripper(grasp, 0.0)
        scene.close()
        prev = grasp
        for waypoint in np.asarray(path, dtype=np.float64):
            self._move(prev, waypoint)
            prev = waypoint
        scene.open()
        scene.set_contact(False)  # rising clear, not dragging the object along the finger's side
        self._move(prev, prev + np.array([0.0, 0.0, RISE]))
        scene.set_gripper(PARK, 0.0)
        for _ in range(round(self.settle_s / DT)):
            scene.step(SUBSTEPS)
            self.t += DT
            self._record()
        return self.frames[first:]

    def tick(self, target: np.ndarray | None, closed: bool, max_move: float) -> Frame:
        """0.1 s under a live controller (the ROS node's stepping): the gripper moves at most ``max_move`` m
        towards ``target`` (None: it holds), and closes or opens when ``closed`` changes. The finger never
        pushes: a closed gripper carries what it holds, an open one passes through the object."""
        assert self.scene is not None, "reset first"
        scene = self.scene
        here = scene.data.mocap_pos[0].copy()
        goal = here if target is None else np.asarray(target, dtype=np.float64)
        step = goal - here
        dist = float(np.linalg.norm(step))
        if dist > max_move:
            goal = here + step * (max_move / dist)
        if closed and not scene.closed:
            scene.close()
        elif not closed and scene.closed:
            scene.open()
        scene.set_contact(False)
        self._move(here, goal)
        return self.frames[-1]

    def _move(self, a: np.ndarray, b: np.ndarray) -> None:
        """0.1 s of straight-line gripper motion from a to b, then one recorded frame."""
        for k in range(1, SUBSTEPS + 1):
            self.scene.set_gripper(a + (b - a) * k / SUBSTEPS, 0.0)
            self.scene.step()
        self.t += DT
        self._record()

    def _record(self) -> Frame:
        scene = self.scene
        frame = Frame(self.t, scene.particles, scene.data.mocap_pos[0].copy(), scene.closed)
        if self.renderer is not None:
            images = add_sensor_noise(self.renderer.render(scene.data), self.render, self.rng)
            frame.rgb, frame.depth, frame.labels = images["rgb"], images["depth"], images["labels"]
        self.frames.append(frame)
        return frame

    def stable(self) -> bool:
        """False once the physics went unstable."""
        return self.scene is not None and self.scene.finite()

    def close(self) -> None:
        if self.renderer is not None:
            self.renderer.close()
            self.renderer = None
