"""One fused object cloud from several calibrated RGB-D cameras, in the table frame.

Per camera: the object mask (eroded, since depth at a mask's edge mixes the
object and what is behind it) selects depth pixels, which are back-projected
(``PinholeCamera.backproject``, moved ``surface_offset`` along the ray onto
the object's centre line). The cameras' points are joined, cropped to the
workspace box, averaged per voxel, and points far from their neighbours
(statistical outlier removal, as the anchor does with Open3D) are dropped.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import torch
from scipy.spatial import cKDTree

from dynamics_stack.camera import PinholeCamera
from pgnd.perception.config import PerceptionCfg
from pgnd.sampling import farthest_point_indices


class EmptyObservation(ValueError):
    """The cameras see too little of the object (empty masks, or everything outside the workspace)."""


def check_frame(depth: np.ndarray, masks: np.ndarray, cameras: Sequence[PinholeCamera]) -> None:
    """Refuse frames whose shapes do not match the calibration, with a message naming the camera."""
    if depth.ndim != 3 or masks.shape != depth.shape or depth.shape[0] != len(cameras):
        raise ValueError(
            f"expected depth and masks [C, H, W] for {len(cameras)} cameras, got {depth.shape} and {masks.shape}"
        )
    for cam, d in zip(cameras, depth, strict=True):
        if d.shape != (cam.height, cam.width):
            raise ValueError(
                f"camera {cam.name!r}: image {d.shape[1]}x{d.shape[0]}, calibrated {cam.width}x{cam.height}"
            )


def erode_masks(masks: np.ndarray, pixels: int) -> np.ndarray:  # [C, H, W] bool -> same
    if pixels <= 0:
        return masks.astype(bool)
    kernel = np.ones((2 * pixels + 1, 2 * pixels + 1), np.uint8)
    return np.stack([cv2.erode(m.astype(np.uint8), kernel) > 0 for m in masks])


def voxel_mean(points: np.ndarray, voxel: float, values: np.ndarray | None = None) -> np.ndarray:
    """Mean of the points [M, 3] in each occupied voxel of edge ``voxel`` -> [V, 3]; with ``values``
    [M, D] (e.g. colours), the per-voxel means of [points, values] -> [V, 3 + D]."""
    data = points if values is None else np.concatenate((points, values), axis=1)
    if len(points) == 0:
        return data
    keys = np.floor(points / voxel).astype(np.int64)
    _, inverse, counts = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    sums = np.zeros((len(counts), data.shape[1]))
    np.add.at(sums, inverse.reshape(-1), data)
    return sums / counts[:, None]


def remove_outliers(points: np.ndarray, k: int, std_ratio: float) -> np.ndarray:
    """Statistical outlier removal: drop points whose mean distance to their k neighbours is unusual."""
    if len(points) <= k + 1:
        return points
    dist, _ = cKDTree(points).query(points, k=k + 1)
    mean = dist[:, 1:].mean(axis=1)
    return points[mean <= mean.mean() + std_ratio * mean.std()]


def backproject_all(
    depth: np.ndarray, masks: np.ndarray, cameras: Sequence[PinholeCamera], cfg: PerceptionCfg
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per camera: object points [M, 3] (table frame, on the centre line) and their flat pixel indices [M]."""
    check_frame(depth, masks, cameras)
    eroded = erode_masks(masks, cfg.erode)
    return [cam.backproject(d, m, cfg.surface_offset) for cam, d, m in zip(cameras, depth, eroded, strict=True)]


def crop(points: np.ndarray, box: Sequence[float]) -> np.ndarray:
    lo, hi = np.asarray(box[0::2]), np.asarray(box[1::2])
    return points[((points >= lo) & (points <= hi)).all(axis=1)]


def fuse(depth: np.ndarray, masks: np.ndarray, cameras: Sequence[PinholeCamera], cfg: PerceptionCfg) -> np.ndarray:
    """The object's fused, cleaned cloud [M, 3] (table frame) of one multi-camera frame.

    ``depth`` float [C, H, W] (m along the optical axis), ``masks`` bool [C, H, W] (object pixels).
    Raises ``EmptyObservation`` when fewer than ``cfg.min_points`` points remain.
    """
    per_camera = backproject_all(depth, masks, cameras, cfg)
    points = np.concatenate([p for p, _ in per_camera]) if per_camera else np.zeros((0, 3))
    points = crop(points, cfg.workspace)
    points = remove_outliers(voxel_mean(points, cfg.voxel), cfg.outlier_neighbours, cfg.outlier_std)
    if len(points) < cfg.min_points:
        seen = [int(m.sum()) for m in masks]
        raise EmptyObservation(
            f"the cameras see {len(points)} object points (< min_points {cfg.min_points}); mask pixels per camera: {seen}"
        )
    return points


def sample_particles(points: np.ndarray, n: int) -> np.ndarray:  # [M, 3] -> [n, 3]
    """``n`` farthest-point samples of a fused cloud, starting from the point nearest its centroid."""
    if len(points) < n:
        raise EmptyObservation(f"the fused cloud has {len(points)} points, fewer than the {n} particles asked for")
    start = int(np.argmin(np.linalg.norm(points - points.mean(axis=0), axis=1)))
    order = np.roll(np.arange(len(points)), -start)  # the sampler starts at index 0
    idx = farthest_point_indices(torch.from_numpy(points[order]), n).numpy()
    return points[order][idx]
