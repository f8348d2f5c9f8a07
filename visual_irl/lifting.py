"""2-D keypoints + an aligned depth image -> 3-D keypoints in the camera's optical frame.

Each keypoint's depth is the median of the valid depths in a ``window`` x ``window`` pixel square
around it (valid: finite and within ``[min_depth, max_depth]``), so a few holes or flying pixels at
an edge do not move it; with no valid depth in the square the keypoint has no 3-D point (NaN) and
confidence 0. The point is the pixel deprojected with that depth (``PinholeCamera.pixel_to_camera``:
depth along the optical axis, OpenCV pixel convention); its confidence is the detector's score times
depth validity (1 or 0); a keypoint the detector scores 0 is not detected (NaN). The depth image must be registered to the colour image (a RealSense's
``aligned_depth_to_color``): the same pixel sees the same point. No rclpy here.
"""

from __future__ import annotations

import numpy as np

from dynamics_stack.camera import PinholeCamera


def lift_keypoints(
    uv: np.ndarray,
    score: np.ndarray,
    depth: np.ndarray,
    camera: PinholeCamera,
    window: int = 5,
    min_depth: float = 0.1,
    max_depth: float = 10.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Keypoints ``uv`` [K, 2] (px) with ``score`` [K] on ``depth`` [H, W] (m) -> points [K, 3] (m), confidence [K].

    Both outputs are float32; a point is NaN exactly where its confidence is 0 (no depth under it, or
    a detector score of 0: not detected).
    """
    uv = np.asarray(uv, dtype=np.float64)
    score = np.asarray(score, dtype=np.float64)
    h, w = depth.shape
    half = window // 2
    z = np.full(len(uv), np.nan)
    finite = np.all(np.isfinite(uv), axis=1)
    px = np.rint(np.clip(np.where(finite[:, None], uv, -1.0), -1.0, max(h, w) + 1.0)).astype(np.int64)
    for k, (u, v) in enumerate(px):
        if not (finite[k] and 0 <= u < w and 0 <= v < h):
            continue  # outside the image (a detector may place an occluded point there): no depth
        patch = depth[max(v - half, 0) : v + half + 1, max(u - half, 0) : u + half + 1]
        with np.errstate(invalid="ignore"):
            good = patch[np.isfinite(patch) & (patch >= min_depth) & (patch <= max_depth)]
        if good.size:
            z[k] = float(np.median(good))
    conf = np.where(np.isfinite(z) & np.isfinite(score), np.clip(np.nan_to_num(score), 0.0, 1.0), 0.0)
    points = camera.pixel_to_camera(uv, z)
    points[conf <= 0] = np.nan
    return points.astype(np.float32), conf.astype(np.float32)
