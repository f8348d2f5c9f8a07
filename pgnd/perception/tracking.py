"""Object particles followed through RGB-D frames: dense optical flow lifted to 3-D with depth.

The anchor lifts 2-D point tracks (CoTracker) to 3-D with depth and fuses the
cameras. Here the 2-D motion comes from OpenCV's DIS dense optical flow
(Kroeger et al., ECCV 2016; no learned weights to download). One step, frame
t-1 -> t, for N particles P [N, 3] (table frame, on the object's centre line):

1. per camera: project P; a particle is *seen* when the mask covers its
   pixel and the surface point there (back-projected with the surface offset)
   lies within ``visibility_tolerance`` of it;
2. the flow at its pixel moves it to a pixel of frame t; if that pixel is
   still on the object, the surface point there minus the one at t-1 is the
   particle's displacement as this camera sees it;
3. the cameras' displacements are combined by their median; particles no
   camera sees (occluded by the gripper, by a fold, or out of view) take the
   inverse-distance mean of their nearest seen neighbours' displacements, and
   every displacement is blended with its neighbours' (the anchor smooths
   velocities over neighbours), which damps flow noise;
4. shape: ropes and cloths barely stretch, so the distances between each
   particle and its nearest neighbours at the first frame are restored by a
   few Jacobi iterations of position-based distance constraints (Mueller et
   al., "Position based dynamics", 2007); this stops particles from sliding
   along a rope into a bunch where it moves fast;
5. drift control: each particle closes ``snap`` of the gap to the nearest
   point of frame t's fused cloud, when one lies within ``snap_radius``, and
   the distances are restored once more.

A frame where the cameras see nothing of the object keeps the particles where
they were (and says so in ``last_seen_fraction``).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
from scipy.spatial import cKDTree

from dynamics_stack.camera import PinholeCamera
from pgnd.perception.config import PerceptionCfg
from pgnd.perception.fusion import EmptyObservation, check_frame, erode_masks, fuse, sample_particles

_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}


def to_gray(rgb: np.ndarray) -> np.ndarray:  # [H, W, 3] uint8 -> [H, W] uint8
    return cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)


def sample_bilinear(image: np.ndarray, uv: np.ndarray) -> np.ndarray:  # [H, W, D], [N, 2] -> [N, D]
    """``image`` at sub-pixel positions (u = column, v = row), clamped to the border."""
    H, W = image.shape[:2]
    u = np.clip(uv[:, 0], 0, W - 1.001)
    v = np.clip(uv[:, 1], 0, H - 1.001)
    u0, v0 = np.floor(u).astype(np.int64), np.floor(v).astype(np.int64)
    a, b = (u - u0)[:, None], (v - v0)[:, None]
    return (
        image[v0, u0] * (1 - a) * (1 - b)
        + image[v0, u0 + 1] * a * (1 - b)
        + image[v0 + 1, u0] * (1 - a) * b
        + image[v0 + 1, u0 + 1] * a * b
    )


class ParticleTracker:
    """Start on one multi-camera RGB-D frame, then ``step`` frame by frame; particles [N, 3] in the table frame."""

    def __init__(self, cameras: Sequence[PinholeCamera], cfg: PerceptionCfg) -> None:
        if not cameras:
            raise ValueError("ParticleTracker needs at least one calibrated camera")
        self.cameras = list(cameras)
        self.cfg = cfg
        self.flow = cv2.DISOpticalFlow_create(_PRESETS[cfg.flow_preset])
        self.particles: np.ndarray | None = None
        self.last_seen_fraction = 0.0
        self._edges, self._rest = np.zeros((0, 2), np.int64), np.zeros(0)
        self._prev: tuple[list[np.ndarray], np.ndarray, np.ndarray] | None = None

    def start(self, rgb: np.ndarray, depth: np.ndarray, masks: np.ndarray) -> np.ndarray:
        """rgb uint8 [C, H, W, 3], depth float [C, H, W] (m), masks bool [C, H, W] -> particles [N, 3].

        Raises ``EmptyObservation`` when the cameras do not see enough of the object to place N particles.
        """
        self._check(rgb, depth, masks)
        self.particles = sample_particles(fuse(depth, masks, self.cameras, self.cfg), self.cfg.particles)
        self._edges, self._rest = self._neighbour_edges(self.particles)
        self.last_seen_fraction = 1.0
        self._remember(rgb, depth, masks)
        return self.particles.copy()

    def step(self, rgb: np.ndarray, depth: np.ndarray, masks: np.ndarray) -> np.ndarray:
        """Follow the particles into the next frame (same layout as ``start``); returns them [N, 3]."""
        if self.particles is None or self._prev is None:
            raise RuntimeError("ParticleTracker.step before start")
        self._check(rgb, depth, masks)
        cfg = self.cfg
        gray_prev, depth_prev, masks_prev = self._prev
        masks_now = erode_masks(masks, cfg.erode)
        P = self.particles
        N = len(P)
        disp = np.full((len(self.cameras), N, 3), np.nan)
        for c, cam in enumerate(self.cameras):
            gray = to_gray(rgb[c])
            flow = self.flow.calc(gray_prev[c], gray, None)  # [H, W, 2] (du, dv)
            uv, z = cam.project(P)
            q, seen = self._surface(cam, uv, z, depth_prev[c], masks_prev[c])
            seen &= np.linalg.norm(q - P, axis=1) < cfg.visibility_tolerance
            uv2 = uv + sample_bilinear(flow, uv)
            q2, ok2 = self._surface(cam, uv2, np.ones(N), depth[c], masks_now[c])
            both = seen & ok2
            disp[c, both] = q2[both] - q[both]
        seen_any = np.isfinite(disp[..., 0]).any(axis=0)
        self.last_seen_fraction = float(seen_any.mean())
        d = np.zeros((N, 3))
        if seen_any.any():
            d[seen_any] = np.nanmedian(disp[:, seen_any], axis=0)
            d = self._fill_and_smooth(P, d, seen_any)
        new = self._keep_lengths(P + d)
        try:
            observed = fuse(depth, masks, self.cameras, cfg)
        except EmptyObservation:
            observed = None
        if observed is not None and cfg.snap > 0:
            dist, idx = cKDTree(observed).query(new)
            pull = dist < cfg.snap_radius
            new[pull] += cfg.snap * (observed[idx[pull]] - new[pull])
            new = self._keep_lengths(new)
        self.particles = new
        self._remember(rgb, depth, masks)
        return new.copy()

    # --- pieces -------------------------------------------------------------------------------------
    def _surface(
        self, cam: PinholeCamera, uv: np.ndarray, z: np.ndarray, depth: np.ndarray, mask: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Surface points [N, 3] (moved by the surface offset) under sub-pixel ``uv``, and which exist."""
        ui, vi = np.round(uv[:, 0]).astype(np.int64), np.round(uv[:, 1]).astype(np.int64)
        inside = (z > 0) & (ui >= 0) & (ui < cam.width) & (vi >= 0) & (vi < cam.height)
        ui, vi = np.clip(ui, 0, cam.width - 1), np.clip(vi, 0, cam.height - 1)
        dz = depth[vi, ui].astype(np.float64)
        ok = inside & mask[vi, ui] & (dz > 0)
        pc = np.stack(((uv[:, 0] - cam.cx) / cam.fx * dz, (uv[:, 1] - cam.cy) / cam.fy * dz, dz), axis=-1)
        pts = pc @ cam.pose[:3, :3].T + cam.pose[:3, 3]
        if self.cfg.surface_offset:
            pts = pts + self.cfg.surface_offset * cam.rays(uv[:, 0], uv[:, 1])
        return pts, ok

    def _fill_and_smooth(self, P: np.ndarray, d: np.ndarray, seen: np.ndarray) -> np.ndarray:
        cfg = self.cfg
        if not seen.all():
            seen_idx = np.flatnonzero(seen)
            k = min(cfg.neighbours, len(seen_idx))
            dist, j = cKDTree(P[seen_idx]).query(P[~seen], k=k)
            dist, j = dist.reshape(len(dist), k), j.reshape(len(j), k)
            w = 1.0 / (dist + 1e-3)
            d[~seen] = (w[..., None] * d[seen_idx][j]).sum(axis=1) / w.sum(axis=1, keepdims=True)
        if cfg.smoothing > 0 and len(P) > 1:
            k = min(cfg.neighbours, len(P) - 1)
            _, j = cKDTree(P).query(P, k=k + 1)
            d = (1 - cfg.smoothing) * d + cfg.smoothing * d[j[:, 1:]].mean(axis=1)
        return d

    def _neighbour_edges(self, P: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Edges [E, 2] between each particle and its ``shape_neighbours`` nearest, and their lengths [E]."""
        k = min(self.cfg.shape_neighbours, len(P) - 1)
        if k < 1:
            return np.zeros((0, 2), np.int64), np.zeros(0)
        _, j = cKDTree(P).query(P, k=k + 1)
        edges = np.stack((np.repeat(np.arange(len(P)), k), j[:, 1:].reshape(-1)), axis=1)
        edges = np.unique(np.sort(edges, axis=1), axis=0)
        return edges, np.linalg.norm(P[edges[:, 0]] - P[edges[:, 1]], axis=1)

    def _keep_lengths(self, P: np.ndarray) -> np.ndarray:
        """Jacobi iterations of distance constraints towards the first frame's neighbour distances."""
        if self.cfg.shape_iterations == 0 or len(self._edges) == 0:
            return P
        i, j = self._edges[:, 0], self._edges[:, 1]
        count = np.bincount(np.concatenate((i, j)), minlength=len(P))[:, None].clip(min=1)
        P = P.copy()
        for _ in range(self.cfg.shape_iterations):
            delta = P[i] - P[j]
            length = np.linalg.norm(delta, axis=1, keepdims=True).clip(min=1e-9)
            corr = 0.5 * self.cfg.shape_stiffness * (length - self._rest[:, None]) / length * delta
            move = np.zeros_like(P)
            np.add.at(move, i, -corr)
            np.add.at(move, j, corr)
            P += move / count
        return P

    def _remember(self, rgb: np.ndarray, depth: np.ndarray, masks: np.ndarray) -> None:
        gray = [to_gray(im) for im in rgb]
        self._prev = (gray, depth.copy(), erode_masks(masks, self.cfg.erode))

    def _check(self, rgb: np.ndarray, depth: np.ndarray, masks: np.ndarray) -> None:
        check_frame(depth, masks, self.cameras)
        if rgb.shape != (*depth.shape, 3) or rgb.dtype != np.uint8:
            raise ValueError(
                f"rgb must be uint8 [C, H, W, 3] matching depth {depth.shape}, got {rgb.dtype} {rgb.shape}"
            )
        if not np.isfinite(depth[masks]).all():
            raise ValueError("depth holds non-finite values inside the object masks")


def track_episode(
    cameras: Sequence[PinholeCamera], cfg: PerceptionCfg, rgb: np.ndarray, depth: np.ndarray, masks: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Particles [T+1, N, 3] of a whole episode (rgb [T+1, C, H, W, 3], ...) and the share seen per frame [T+1]."""
    tracker = ParticleTracker(cameras, cfg)
    out = [tracker.start(rgb[0], depth[0], masks[0])]
    seen = [1.0]
    for t in range(1, len(rgb)):
        out.append(tracker.step(rgb[t], depth[t], masks[t]))
        seen.append(tracker.last_seen_fraction)
    return np.stack(out), np.array(seen)
