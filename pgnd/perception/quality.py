"""How well perceived particles follow the object: scored against the simulator's vertices.

- Chamfer (the anchor's definition, ``pgnd.metrics.chamfer``) of the perceived
  particles to the vertices, per frame: is the cloud where the object is?
- Material tracks: each perceived particle is pinned at the first frame to the
  object's material around it and carried with it, by the same linear-blend
  skinning that carries splats on particles (``pgnd.splats.skinning``), with
  the simulator's vertices as bones: inverse-distance weights of its ``k``
  nearest vertices, each vertex rotating as its neighbours do. Where that
  material is later is the particle's true track. Track drift at time t is the mean distance of
  the perceived particles to their true tracks: does a particle stay on the
  piece of rope or cloth it started on?
"""

from __future__ import annotations

import numpy as np
import torch

from pgnd.metrics import chamfer
from pgnd.splats.skinning import bind, skin_points

MATERIAL_NEIGHBOURS = 3  # vertices a material point is pinned to (a triangle of the cloth, a segment of the rope)
ROTATION_NEIGHBOURS = 8  # vertices each vertex's rotation is fitted over


def material_tracks(particles0: np.ndarray, vertices: np.ndarray, k: int = MATERIAL_NEIGHBOURS) -> np.ndarray:
    """True tracks [T+1, N, 3] of the material points under ``particles0`` [N, 3], from vertices [T+1, M, 3]."""
    points = torch.from_numpy(np.asarray(particles0, dtype=np.float64))
    bones = torch.from_numpy(np.asarray(vertices, dtype=np.float64))
    skin = bind(points, bones[0], k=k, rotation_k=ROTATION_NEIGHBOURS)
    return torch.stack([skin_points(points, skin, b)[0] for b in bones]).numpy()


def perception_quality(perceived: np.ndarray, vertices: np.ndarray, dt: float = 0.1) -> dict[str, float]:
    """Chamfer to the vertices (mean over frames, and worst frame) and track drift at 1, 2, 3 s, in metres.

    ``perceived`` [T+1, N, 3], ``vertices`` [T+1, M, 3] of one episode.
    """
    ch = chamfer(torch.from_numpy(perceived).double(), torch.from_numpy(vertices).double()).numpy()  # [T+1]
    truth = material_tracks(perceived[0], vertices)
    drift = np.linalg.norm(perceived - truth, axis=-1).mean(axis=-1)  # [T+1]
    out = {"chamfer_mean": float(ch.mean()), "chamfer_max": float(ch.max())}
    for s in (1, 2, 3):
        t = round(s / dt)
        if t < len(drift):
            out[f"drift_{s}s"] = float(drift[t])
    return out
