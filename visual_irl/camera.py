"""Pinhole RGB-D camera: world <-> optical frame, projection, deprojection, and a keypoint detector model.

``observe`` turns true 3D keypoints into what a 2D pose detector on the colour
image plus the aligned depth image gives: pixel noise on the 2D detection,
depth noise that grows with distance squared (stereo depth), detections that
go missing (confidence near zero, no 3D point), and deprojection of the noisy
pixel with the noisy depth back to 3D. The camera frame is the optical frame
(x right, y down, z forward), as ROS ``*_optical_frame``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, kw_only=True)
class CameraCfg:
    """Intrinsics and the noise model of the RGB-D camera."""

    width: int = 640
    """Image width (px)."""
    height: int = 480
    """Image height (px)."""
    fx: float = 615.0
    """Focal length x (px); RealSense D435 colour stream at 640x480 is about 615."""
    fy: float = 615.0
    """Focal length y (px)."""
    cx: float = 320.0
    """Principal point x (px)."""
    cy: float = 240.0
    """Principal point y (px)."""
    pixel_noise_px: float = 2.0
    """Std of the 2D detector's keypoint error (px)."""
    depth_noise_coeff: float = 0.002
    """Depth std = coeff * z^2 (m, z in m): stereo depth error grows with z^2; at 2 m about 8 mm after the
    median over a small window (D435 datasheet gives under 2 % at 2 m for the raw depth)."""
    dropout: float = 0.01
    """Probability that a keypoint is not detected in a frame."""
    depth_hole: float = 0.005
    """Probability that the depth under a detected keypoint is invalid (no 3D point)."""

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0 or self.fx <= 0 or self.fy <= 0:
            raise ValueError("camera width, height, fx, fy must be > 0")
        for name in ("pixel_noise_px", "depth_noise_coeff", "dropout", "depth_hole"):
            if getattr(self, name) < 0:
                raise ValueError(f"camera {name} must be >= 0")

    @property
    def K(self) -> np.ndarray:
        return np.array([[self.fx, 0, self.cx], [0, self.fy, self.cy], [0, 0, 1.0]])


def project(cfg: CameraCfg, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Camera-frame points [..., 3] -> pixels [..., 2] and depth z [...]."""
    z = points[..., 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        u = cfg.fx * points[..., 0] / z + cfg.cx
        v = cfg.fy * points[..., 1] / z + cfg.cy
    return np.stack([u, v], axis=-1), z


def deproject(cfg: CameraCfg, pixels: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """Pixels [..., 2] with depth [...] -> camera-frame points [..., 3] (inverse of ``project``)."""
    x = (pixels[..., 0] - cfg.cx) / cfg.fx * depth
    y = (pixels[..., 1] - cfg.cy) / cfg.fy * depth
    return np.stack([x, y, depth], axis=-1)


def look_at(eye: np.ndarray, target: np.ndarray) -> np.ndarray:
    """4x4 pose of an optical frame at ``eye`` looking at ``target`` (world z up)."""
    up = np.array([0.0, 0.0, 1.0])
    z = target - eye
    z = z / np.linalg.norm(z)
    x = np.cross(z, up)  # image right
    x = x / np.linalg.norm(x)
    y = np.cross(z, x)  # image down
    T = np.eye(4)
    T[:3, :3] = np.stack([x, y, z], axis=1)
    T[:3, 3] = eye
    return T


def world_to_camera(T_world_cam: np.ndarray, points: np.ndarray) -> np.ndarray:
    """World points [..., 3] -> camera frame."""
    R, p = T_world_cam[:3, :3], T_world_cam[:3, 3]
    return (points - p) @ R


def observe(
    cfg: CameraCfg, points_cam: np.ndarray, rng: np.random.Generator, visible: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """True camera-frame keypoints [T, J, 3] -> detected 3D keypoints [T, J, 3] (NaN if missing), confidence [T, J].

    ``visible`` [T, J] marks points that are not occluded (default all): occluded
    points are detected less often and with lower confidence.
    """
    shape = points_cam.shape[:-1]
    visible = np.ones(shape, dtype=bool) if visible is None else visible
    pix, z = project(cfg, points_cam)
    pix = pix + rng.normal(0.0, cfg.pixel_noise_px, pix.shape)
    z_obs = z + rng.normal(0.0, 1.0, z.shape) * cfg.depth_noise_coeff * z**2
    drop_p = np.where(visible, cfg.dropout, 0.5)
    detected = rng.random(shape) >= drop_p
    inside = (pix[..., 0] >= 0) & (pix[..., 0] < cfg.width) & (pix[..., 1] >= 0) & (pix[..., 1] < cfg.height)
    detected &= inside & (z > 0.1)
    has_depth = rng.random(shape) >= cfg.depth_hole
    conf = np.where(visible, rng.beta(12.0, 1.5, shape), rng.beta(3.0, 3.0, shape))
    conf = np.where(detected, conf, rng.uniform(0.0, 0.1, shape)).astype(np.float32)
    out = deproject(cfg, pix, z_obs)
    out[~(detected & has_depth)] = np.nan
    conf[~(detected & has_depth)] = np.minimum(conf[~(detected & has_depth)], 0.1)
    return out.astype(np.float32), conf
