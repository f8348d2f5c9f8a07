"""sensor_msgs/Image and CameraInfo <-> numpy and calibrated cameras, without cv_bridge (no wheel here).

Encodings read: ``rgb8``, ``bgr8`` (as RGB), ``mono8``, ``32FC1`` (metres) and
``16UC1`` (millimetres, the RealSense / Azure Kinect depth convention, read as
metres). Rows may be padded (``step`` > width x pixel size); big-endian data is
swapped. A malformed message (size, step or encoding) raises ``ImageError``
naming what is wrong; the node drops and counts it.

``camera_info`` writes a calibrated camera's intrinsics (K, P, no distortion);
``check_camera_info`` refuses a CameraInfo that does not match the camera a
node was configured with, so an image stream from a re-calibrated or swapped
camera cannot be back-projected with the wrong intrinsics.
"""

from __future__ import annotations

import numpy as np
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

from dynamics_stack.camera import PinholeCamera

_LAYOUT = {  # encoding -> (dtype, channels)
    "rgb8": (np.uint8, 3),
    "bgr8": (np.uint8, 3),
    "mono8": (np.uint8, 1),
    "32FC1": (np.float32, 1),
    "16UC1": (np.uint16, 1),
}
MAX_SIDE = 8192  # px: larger is not a camera of a manipulation cell


class ImageError(ValueError):
    """An Image or CameraInfo message is malformed or does not fit; the message says what is wrong."""


def image_to_array(msg: Image) -> np.ndarray:
    """[H, W, 3] uint8 RGB, [H, W] uint8, or [H, W] float32 depth in metres (16UC1 millimetres converted)."""
    if msg.encoding not in _LAYOUT:
        raise ImageError(f"unsupported image encoding {msg.encoding!r}; expected one of {sorted(_LAYOUT)}")
    dtype, channels = _LAYOUT[msg.encoding]
    h, w = int(msg.height), int(msg.width)
    if not (0 < h <= MAX_SIDE and 0 < w <= MAX_SIDE):
        raise ImageError(f"image size {w}x{h} outside 1..{MAX_SIDE}")
    pixel = np.dtype(dtype).itemsize * channels
    if msg.step < w * pixel or len(msg.data) < msg.step * h:
        raise ImageError(f"image {w}x{h} {msg.encoding}: step {msg.step} and {len(msg.data)} bytes are too small")
    raw = np.frombuffer(bytes(msg.data), dtype=np.uint8, count=msg.step * h).reshape(h, msg.step)[:, : w * pixel]
    dt = np.dtype(dtype).newbyteorder(">" if msg.is_bigendian else "<")
    arr = raw.copy().view(dt).reshape(h, w, channels) if channels > 1 else raw.copy().view(dt).reshape(h, w)
    arr = arr.astype(dtype, copy=False)
    if msg.encoding == "bgr8":
        arr = arr[..., ::-1]
    if msg.encoding == "16UC1":
        return arr.astype(np.float32) / 1000.0
    return np.ascontiguousarray(arr)


def array_to_image(array: np.ndarray, encoding: str, header: Header | None = None) -> Image:
    """The message of an array in ``encoding`` (rgb8 [H, W, 3] uint8, mono8 [H, W] uint8, 32FC1 [H, W] m)."""
    if encoding not in ("rgb8", "mono8", "32FC1"):
        raise ImageError(f"writing encoding {encoding!r} is not supported (rgb8, mono8, 32FC1)")
    dtype, channels = _LAYOUT[encoding]
    arr = np.ascontiguousarray(array, dtype=dtype)
    if arr.ndim != (3 if channels > 1 else 2) or (channels > 1 and arr.shape[-1] != channels):
        raise ImageError(f"array of shape {arr.shape} does not fit encoding {encoding}")
    msg = Image(header=header or Header(), height=arr.shape[0], width=arr.shape[1], encoding=encoding)
    msg.is_bigendian = 0
    msg.step = arr.shape[1] * arr.dtype.itemsize * channels
    msg.data = arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
    return msg


def camera_info(camera: PinholeCamera, header: Header | None = None) -> CameraInfo:
    """CameraInfo of a calibrated, undistorted pinhole camera (ROS conventions: K, R = I, P = [K | 0])."""
    msg = CameraInfo(header=header or Header(), width=camera.width, height=camera.height)
    msg.distortion_model = "plumb_bob"
    msg.d = [0.0] * 5
    msg.k = [float(v) for v in camera.K.reshape(-1)]
    msg.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    msg.p = [camera.fx, 0.0, camera.cx, 0.0, 0.0, camera.fy, camera.cy, 0.0, 0.0, 0.0, 1.0, 0.0]
    return msg


def check_camera_info(msg: CameraInfo, camera: PinholeCamera, tolerance: float = 0.5) -> None:
    """Refuse a CameraInfo whose size or intrinsics differ from ``camera`` (``tolerance`` px on f and c)."""
    if (msg.width, msg.height) != (camera.width, camera.height):
        raise ImageError(
            f"{camera.name}: camera_info is {msg.width}x{msg.height}, the calibration says {camera.width}x{camera.height}"
        )
    k = np.asarray(msg.k, dtype=np.float64)
    if k.shape != (9,) or not np.isfinite(k).all():
        raise ImageError(f"{camera.name}: camera_info K is not 9 finite values")
    got = np.array([k[0], k[4], k[2], k[5]])
    want = np.array([camera.fx, camera.fy, camera.cx, camera.cy])
    if np.abs(got - want).max() > tolerance:
        raise ImageError(
            f"{camera.name}: camera_info intrinsics (fx fy cx cy) {np.round(got, 2).tolist()} differ from the "
            f"calibration {np.round(want, 2).tolist()} by more than {tolerance} px"
        )
    if any(abs(v) > 1e-6 for v in msg.d):
        raise ImageError(f"{camera.name}: camera_info has distortion {list(msg.d)}; send rectified images")
