"""Calibrated pinhole cameras: projection, depth back-projection and the camera-rig file format.

Conventions (those of OpenCV and of ROS ``sensor_msgs/CameraInfo``):

- the camera's optical frame has x right, y down, z forward (along the optical axis);
- pixel ``(u, v)`` is column ``u``, row ``v``, and its centre is at the integer coordinate, so an
  ideal centred camera of width W has ``cx = (W - 1) / 2``;
- ``T_world_camera`` (4x4) maps points of the optical frame into the world (the table frame of a
  manipulation scene: z up, table top z = 0, metres);
- depth images hold metric depth along the optical axis (z, not the ray length), 0 or non-finite
  where nothing was measured.

A camera-rig file is YAML (or JSON) as a user's calibration would give it::

    format: dynstack-camera-rig/1
    frame: table                       # the world frame the extrinsics are expressed in
    cameras:
      - name: cam0
        width: 320
        height: 240
        K: [[fx, 0, cx], [0, fy, cy], [0, 0, 1]]
        T_world_camera: [[r00, r01, r02, tx], [r10, r11, r12, ty], [r20, r21, r22, tz], [0, 0, 0, 1]]

Every field is checked on load; an error names the file, the camera and the field.
No rclpy, no simulator: the perception side of a robot imports this module alone.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from dynamics_stack.config import ConfigError

RIG_FORMAT = "dynstack-camera-rig/1"
ORTHONORMAL_TOL = 1e-4  # |R^T R - I| allowed in a calibration file (rounded decimals of a real calibration)
MAX_PIXELS = 8192  # px per side: no RGB-D camera of a manipulation cell is wider


@dataclass(frozen=True, kw_only=True)
class PinholeCamera:
    """One calibrated camera: intrinsics (OpenCV convention) and its pose in the world frame."""

    name: str
    """Camera name (topic prefix on a robot, e.g. ``camera0``)."""
    width: int
    """Image width (px)."""
    height: int
    """Image height (px)."""
    fx: float
    """Focal length along x (px)."""
    fy: float
    """Focal length along y (px)."""
    cx: float
    """Principal point x (px, pixel centres at integers)."""
    cy: float
    """Principal point y (px, pixel centres at integers)."""
    T_world_camera: tuple[tuple[float, ...], ...]
    """4x4 pose of the optical frame (x right, y down, z forward) in the world frame."""

    def __post_init__(self) -> None:
        where = f"camera {self.name!r}"
        if not (1 <= self.width <= MAX_PIXELS and 1 <= self.height <= MAX_PIXELS):
            raise ConfigError(f"{where}: image size {self.width}x{self.height} outside 1..{MAX_PIXELS}")
        for field in ("fx", "fy", "cx", "cy"):
            if not math.isfinite(getattr(self, field)):
                raise ConfigError(f"{where}: {field} is not finite")
        if self.fx <= 0 or self.fy <= 0:
            raise ConfigError(f"{where}: focal lengths must be > 0, got fx {self.fx}, fy {self.fy}")
        T = np.asarray(self.T_world_camera, dtype=np.float64)
        if T.shape != (4, 4) or not np.isfinite(T).all():
            raise ConfigError(f"{where}: T_world_camera must be a finite 4x4 matrix, got shape {T.shape}")
        if not np.allclose(T[3], (0, 0, 0, 1)):
            raise ConfigError(f"{where}: T_world_camera's last row must be 0 0 0 1, got {T[3].tolist()}")
        R = T[:3, :3]
        err = float(np.abs(R.T @ R - np.eye(3)).max())
        if err > ORTHONORMAL_TOL or np.linalg.det(R) < 0:
            raise ConfigError(
                f"{where}: T_world_camera's rotation is not a proper rotation (|R^T R - I| = {err:.2g}, det {np.linalg.det(R):.3f})"
            )

    # --- matrices -----------------------------------------------------------------------------------
    @property
    def K(self) -> np.ndarray:  # [3, 3]
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    @property
    def pose(self) -> np.ndarray:  # [4, 4] world <- camera
        return np.asarray(self.T_world_camera, dtype=np.float64)

    @property
    def view(self) -> np.ndarray:  # [4, 4] camera <- world (a renderer's "viewmat")
        return np.linalg.inv(self.pose)

    @property
    def position(self) -> np.ndarray:  # [3] optical centre in the world
        return self.pose[:3, 3].copy()

    # --- geometry -----------------------------------------------------------------------------------
    def world_to_camera(self, points: np.ndarray) -> np.ndarray:  # [..., 3] -> [..., 3]
        V = self.view
        return points @ V[:3, :3].T + V[:3, 3]

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # [..., 3] -> uv [..., 2], z [...]
        """Pixel coordinates (u, v) and depth z of world points; z <= 0 means behind the camera."""
        pc = self.world_to_camera(np.asarray(points, dtype=np.float64))
        z = pc[..., 2]
        safe = np.where(np.abs(z) > 1e-12, z, 1e-12)
        uv = np.stack((self.fx * pc[..., 0] / safe + self.cx, self.fy * pc[..., 1] / safe + self.cy), axis=-1)
        return uv, z

    def rays(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:  # pixel coords [...] x2 -> [..., 3] world, |d| = 1
        """Unit viewing directions in the world through pixels (u, v)."""
        d = np.stack(((u - self.cx) / self.fx, (v - self.cy) / self.fy, np.ones_like(u, dtype=np.float64)), axis=-1)
        d = d @ self.pose[:3, :3].T
        return d / np.linalg.norm(d, axis=-1, keepdims=True)

    def backproject(
        self, depth: np.ndarray, mask: np.ndarray | None = None, offset: float = 0.0
    ) -> tuple[np.ndarray, np.ndarray]:
        """World points [M, 3] of the valid pixels of a depth image, and their flat pixel indices [M].

        ``depth`` [H, W] metres along the optical axis; pixels with depth <= 0 or non-finite, or outside
        ``mask`` [H, W] (bool), are skipped. ``offset`` (m) moves every point further along its viewing
        ray: a camera sees an object's surface, and a rope's centre line or a cloth's mid-surface lies
        about half its thickness behind it.
        """
        depth = np.asarray(depth)
        if depth.shape != (self.height, self.width):
            raise ValueError(
                f"camera {self.name!r}: depth image is {depth.shape[1]}x{depth.shape[0]}, the calibration says {self.width}x{self.height}"
            )
        valid = np.isfinite(depth) & (depth > 0)
        if mask is not None:
            mask = np.asarray(mask, dtype=bool)
            if mask.shape != depth.shape:
                raise ValueError(f"camera {self.name!r}: mask {mask.shape} does not match depth {depth.shape}")
            valid &= mask
        flat = np.flatnonzero(valid)
        v, u = np.divmod(flat, self.width)
        z = depth.reshape(-1)[flat].astype(np.float64)
        pc = np.stack(((u - self.cx) / self.fx * z, (v - self.cy) / self.fy * z, z), axis=-1)
        pts = pc @ self.pose[:3, :3].T + self.pose[:3, 3]
        if offset:
            pts = pts + offset * self.rays(u.astype(np.float64), v.astype(np.float64))
        return pts, flat

    # --- (de)serialisation --------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "width": self.width,
            "height": self.height,
            "K": self.K.tolist(),
            "T_world_camera": [list(map(float, row)) for row in self.T_world_camera],
        }

    @staticmethod
    def from_dict(data: Mapping[str, Any], source: str = "<camera>") -> PinholeCamera:
        """A camera from the rig-file layout above; errors name ``source`` and the field."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"{source}: a camera must be a mapping, got {type(data).__name__}")
        name = data.get("name")
        where = f"{source}: camera {name!r}" if name is not None else f"{source}: camera"
        missing = [k for k in ("name", "width", "height", "K", "T_world_camera") if k not in data]
        if missing:
            raise ConfigError(f"{where}: missing field(s) {', '.join(missing)}")
        unknown = sorted(set(data) - {"name", "width", "height", "K", "T_world_camera"})
        if unknown:
            raise ConfigError(f"{where}: unknown field(s) {', '.join(unknown)}")
        try:
            K = np.asarray(data["K"], dtype=np.float64)
            T = np.asarray(data["T_world_camera"], dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{where}: K and T_world_camera must be numeric matrices ({exc})") from exc
        if K.shape != (3, 3) or not np.allclose(K[[0, 1, 2, 2], [1, 0, 0, 1]], 0) or K[2, 2] != 1:
            raise ConfigError(f"{where}: K must be [[fx, 0, cx], [0, fy, cy], [0, 0, 1]], got {K.tolist()}")
        for key in ("width", "height"):
            if isinstance(data[key], bool) or not isinstance(data[key], int):
                raise ConfigError(f"{where}: {key} must be an integer, got {data[key]!r}")
        try:
            return PinholeCamera(
                name=str(name),
                width=data["width"],
                height=data["height"],
                fx=float(K[0, 0]),
                fy=float(K[1, 1]),
                cx=float(K[0, 2]),
                cy=float(K[1, 2]),
                T_world_camera=tuple(tuple(float(x) for x in row) for row in T),
            )
        except ConfigError as exc:
            raise ConfigError(f"{source}: {exc}") from exc


def look_at(position: Sequence[float], target: Sequence[float], up: Sequence[float] = (0.0, 0.0, 1.0)) -> np.ndarray:
    """4x4 ``T_world_camera`` of an optical frame at ``position`` whose z axis points at ``target``."""
    p, t = np.asarray(position, dtype=np.float64), np.asarray(target, dtype=np.float64)
    z = t - p
    z /= np.linalg.norm(z)
    x = np.cross(z, np.asarray(up, dtype=np.float64))
    if np.linalg.norm(x) < 1e-9:
        raise ValueError("look_at: viewing direction parallel to 'up'")
    x /= np.linalg.norm(x)
    y = np.cross(z, x)  # image y points down: away from 'up'
    T = np.eye(4)
    T[:3, 0], T[:3, 1], T[:3, 2], T[:3, 3] = x, y, z, p
    return T


def save_rig(path: str | Path, cameras: Sequence[PinholeCamera], frame: str = "table", comment: str = "") -> Path:
    """Write a camera-rig file (YAML, or JSON when the name ends in .json) atomically; ``comment`` heads a YAML."""
    from dynamics_stack.atomic import atomic_path

    path = Path(path)
    data = {"format": RIG_FORMAT, "frame": frame, "cameras": [c.to_dict() for c in cameras]}
    with atomic_path(path) as tmp:
        if path.suffix == ".json":
            tmp.write_text(json.dumps(data, indent=1))
        else:
            head = "".join(f"# {line}\n" for line in comment.splitlines())
            tmp.write_text(head + yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=120))
    return path


def rig_from_dict(data: Any, source: str = "<camera rig>") -> list[PinholeCamera]:
    """Cameras of a rig mapping (the file layout above); clear errors naming ``source``."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: a camera rig must be a mapping with 'format' and 'cameras'")
    if data.get("format") != RIG_FORMAT:
        raise ConfigError(f"{source}: format is {data.get('format')!r}, expected {RIG_FORMAT!r}")
    cams = data.get("cameras")
    if not isinstance(cams, list) or not cams:
        raise ConfigError(f"{source}: 'cameras' must be a non-empty list")
    out = [PinholeCamera.from_dict(c, source) for c in cams]
    names = [c.name for c in out]
    if len(set(names)) != len(names):
        raise ConfigError(f"{source}: camera names must be unique, got {names}")
    return out


def load_rig(path: str | Path) -> list[PinholeCamera]:
    """Read a camera-rig file; a missing, unreadable or invalid file gets an error naming it."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: camera rig file not found") from exc
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {exc}") from exc
    return rig_from_dict(data, str(path))
