"""The perception node's decisions on plain numbers: images in, tracked object particles out.

No rclpy: ``pgnd.perception_node`` turns Image messages into arrays and calls
``add_image``; a completed multi-camera frame (``FrameAssembler``) starts or
steps the tracker (``ParticleTracker``), which returns the particles to
publish. The tracker restarts (farthest-point sampling a fresh cloud) on
``reset`` (the planner asks before each action, so the particles it plans
with have a short, clean history) and when fewer than ``min_seen`` of the
particles were seen by any camera in a frame (tracking lost). A frame whose
masks hold too little of the object is counted and skipped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dynamics_stack.camera import PinholeCamera
from pgnd.perception.config import PerceptionCfg
from pgnd.perception.frames import FrameAssembler
from pgnd.perception.fusion import EmptyObservation
from pgnd.perception.tracking import ParticleTracker


@dataclass
class Particles:
    """One output: stamp (s), particles [N, 3] (table frame), the share seen, whether tracking restarted."""

    stamp: float
    points: np.ndarray
    seen: float
    restarted: bool


class PerceptionCycle:
    """Assemble frames, track, restart when asked or lost."""

    def __init__(self, cameras: list[PinholeCamera], cfg: PerceptionCfg, slop: float, min_seen: float) -> None:
        self.cameras = cameras
        self.cfg = cfg
        self.min_seen = min_seen
        self.frames = FrameAssembler(tuple(c.name for c in cameras), slop=slop)
        self.tracker = ParticleTracker(cameras, cfg)
        self.started = False
        self.empty = 0
        self.restarts = 0
        self.last_stamp = -np.inf
        self.last_frame = None  # the last complete RgbdFrame (the splat fit of a new track reads it)

    def reset(self) -> None:
        """The next complete frame starts a fresh track."""
        self.started = False

    def check_image(self, camera: str, kind: str, image: np.ndarray) -> None:
        """Refuse an image whose size does not match the calibration, or non-finite depth: ValueError."""
        cam = next((c for c in self.cameras if c.name == camera), None)
        if cam is None:
            raise ValueError(f"image from unknown camera {camera!r}")
        if image.shape[:2] != (cam.height, cam.width):
            raise ValueError(f"{camera} {kind}: {image.shape[1]}x{image.shape[0]}, calibrated {cam.width}x{cam.height}")
        if kind == "depth" and not np.isfinite(image).all():
            raise ValueError(f"{camera} depth: non-finite values (send 0 for no measurement)")

    def add_image(self, camera: str, kind: str, stamp: float, image: np.ndarray) -> Particles | None:
        """One image; returns particles when it completes a frame that could be tracked."""
        self.check_image(camera, kind, image)
        frame = self.frames.add(camera, kind, stamp, image)
        if frame is None or frame.stamp <= self.last_stamp:
            return None
        self.last_stamp = frame.stamp
        self.last_frame = frame
        try:
            if not self.started:
                points = self.tracker.start(frame.rgb, frame.depth, frame.masks)
                self.started, restarted = True, True
                self.restarts += 1
            else:
                points = self.tracker.step(frame.rgb, frame.depth, frame.masks)
                restarted = False
        except EmptyObservation:
            self.empty += 1
            self.started = False
            return None
        seen = self.tracker.last_seen_fraction
        if seen < self.min_seen:
            self.started = False  # lost: the next frame starts over
        return Particles(frame.stamp, points, seen, restarted)
