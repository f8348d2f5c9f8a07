"""A folder of recorded RGB-D frames, what the ``rgbd_player`` node plays on the camera topics. No rclpy.

Layout (what a RealSense recording exported frame by frame gives, e.g. with ``rs-convert -p``)::

    camera.yaml           the colour camera: a dynamics_stack camera-rig file (``dynamics_stack.camera``)
                          with one camera; its intrinsics are published as CameraInfo (extrinsics unused)
    000000_color.png      8-bit RGB (PNG or JPEG: ``_color.jpg``)
    000000_depth.png      16-bit PNG, millimetres along the optical axis, 0 = no measurement, registered
    000001_color.png      to the colour image (same size, same pixels)
    ...

Frames play in name order. A missing camera file, a colour image without its depth, an unreadable
image or one whose size differs from the camera's is a ``RgbdFolderError`` naming the file.
``write_rgbd_folder`` writes this layout (the synthetic folders of the tests and benchmarks).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dynamics_stack.camera import PinholeCamera, load_rig, save_rig
from dynamics_stack.config import ConfigError

CAMERA_FILE = "camera.yaml"
MAX_DEPTH_MM = 65535  # uint16


class RgbdFolderError(ValueError):
    """An RGB-D folder is missing, incomplete or holds an unreadable image; the message names the file."""


@dataclass(frozen=True)
class RgbdFolder:
    """The camera and the (colour, depth) file pairs of a folder, in play order."""

    path: Path
    camera: PinholeCamera
    frames: tuple[tuple[Path, Path], ...]

    def __len__(self) -> int:
        return len(self.frames)

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Frame ``index``: RGB [H, W, 3] uint8 and depth [H, W] uint16 millimetres."""
        import cv2

        color_path, depth_path = self.frames[index]
        bgr = cv2.imread(str(color_path), cv2.IMREAD_COLOR)
        depth = cv2.imread(str(depth_path), cv2.IMREAD_UNCHANGED)
        if bgr is None or depth is None:
            raise RgbdFolderError(f"{color_path if bgr is None else depth_path}: not a readable image")
        if depth.dtype != np.uint16 or depth.ndim != 2:
            raise RgbdFolderError(f"{depth_path}: depth must be a 16-bit single-channel PNG (mm), got {depth.dtype}")
        want = (self.camera.height, self.camera.width)
        for path, arr in ((color_path, bgr), (depth_path, depth)):
            if arr.shape[:2] != want:
                raise RgbdFolderError(
                    f"{path}: {arr.shape[1]}x{arr.shape[0]}, the camera says {self.camera.width}x{self.camera.height}"
                )
        return np.ascontiguousarray(bgr[..., ::-1]), depth


def read_rgbd_folder(path: str | Path) -> RgbdFolder:
    """The folder's camera and frame list (images are read by ``RgbdFolder.load``)."""
    path = Path(path)
    if not path.is_dir():
        raise RgbdFolderError(f"{path}: RGB-D folder not found")
    try:
        cameras = load_rig(path / CAMERA_FILE)
    except ConfigError as exc:
        raise RgbdFolderError(f"{path}: {exc}") from exc
    if len(cameras) != 1:
        raise RgbdFolderError(f"{path / CAMERA_FILE}: expected one camera, found {len(cameras)}")
    colors = sorted(p for p in path.iterdir() if p.stem.endswith("_color") and p.suffix in (".png", ".jpg"))
    if not colors:
        raise RgbdFolderError(f"{path}: no NNNNNN_color.png frames")
    frames = []
    for color in colors:
        depth = color.with_name(color.stem.removesuffix("_color") + "_depth.png")
        if not depth.is_file():
            raise RgbdFolderError(f"{color}: no depth image {depth.name} beside it")
        frames.append((color, depth))
    return RgbdFolder(path, cameras[0], tuple(frames))


def depth_to_mm(depth: np.ndarray) -> np.ndarray:
    """Depth [H, W] in metres -> uint16 millimetres (REP-118's 16UC1); NaN, <= 0 or beyond 65.535 m -> 0."""
    depth = np.asarray(depth, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(depth) & (depth > 0) & (depth * 1000.0 <= MAX_DEPTH_MM)
    return np.where(ok, np.rint(np.where(ok, depth, 0.0) * 1000.0), 0).astype(np.uint16)


def write_rgbd_folder(
    path: str | Path, camera: PinholeCamera, frames: Iterable[tuple[np.ndarray, np.ndarray]], comment: str = ""
) -> Path:
    """Write ``camera`` and (rgb [H, W, 3] uint8, depth [H, W] metres) frames in the layout above."""
    import cv2

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    save_rig(path / CAMERA_FILE, [camera], frame="camera", comment=comment)
    for i, (rgb, depth) in enumerate(frames):
        if rgb.shape[:2] != (camera.height, camera.width) or depth.shape != rgb.shape[:2]:
            raise RgbdFolderError(f"frame {i}: rgb {rgb.shape} and depth {depth.shape} do not fit the camera")
        cv2.imwrite(str(path / f"{i:06d}_color.png"), np.ascontiguousarray(rgb[..., ::-1]))
        cv2.imwrite(str(path / f"{i:06d}_depth.png"), depth_to_mm(depth))
    return path
