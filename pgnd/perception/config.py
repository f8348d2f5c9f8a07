"""Settings of the RGB-D perception front end (one frozen dataclass, the source of the YAML and ROS parameters)."""

from __future__ import annotations

from dataclasses import dataclass

# Half the thickness of the simulated objects (sim.deformable_scene.SHAPES radius, and the rope's beads
# are drawn 10 % fatter): the camera sees the surface, the particles live on the centre line / mid-surface.
SURFACE_OFFSETS = {"rope": 0.0055, "cloth": 0.004}


@dataclass(frozen=True, kw_only=True)
class PerceptionCfg:
    """Fusion and tracking of object particles from calibrated RGB-D cameras."""

    particles: int = 400
    """N particles tracked (farthest-point samples of the first fused cloud). A model's card fixes the
    count it was trained with."""
    surface_offset: float = 0.0
    """Each back-projected point is moved this far (m) along its viewing ray: about half the object's
    thickness, so particles lie on a rope's centre line or a cloth's mid-surface. 0 = on the surface."""
    erode: int = 1
    """Object masks shrink by this many pixels first: depth at a mask's edge mixes object and table."""
    voxel: float = 0.004
    """Voxel edge (m) of the fused cloud's downsampling."""
    outlier_neighbours: int = 8
    """k of the statistical outlier removal (mean distance to k nearest neighbours)."""
    outlier_std: float = 2.5
    """A point whose mean neighbour distance exceeds the cloud's mean by this many standard
    deviations is dropped."""
    min_points: int = 20
    """Fewer fused points than this is an empty observation (an error at start, a hold while tracking)."""
    workspace: tuple[float, float, float, float, float, float] = (-0.4, 0.4, -0.4, 0.4, -0.02, 0.6)
    """Box (x min, x max, y min, y max, z min, z max; m, table frame) outside which points are dropped."""
    visibility_tolerance: float = 0.012
    """A particle is seen by a camera when the surface point under its projection is this close (m)."""
    neighbours: int = 8
    """k nearest particles used to fill in unseen particles' motion and to smooth it."""
    smoothing: float = 0.3
    """Share of each particle's displacement replaced by its neighbours' mean (0 = none)."""
    shape_neighbours: int = 4
    """Each particle keeps its distances to this many nearest particles of the first frame."""
    shape_iterations: int = 10
    """Jacobi iterations of the distance constraints per frame (0 = no shape term)."""
    shape_stiffness: float = 1.0
    """Share of each distance error corrected per iteration."""
    snap: float = 0.5
    """Share of the gap to the nearest observed surface point closed each frame (drift control)."""
    snap_radius: float = 0.03
    """Only observed points closer than this (m) pull a particle; farther away the surface is occluded."""
    flow_preset: str = "medium"
    """OpenCV DIS optical flow preset: 'ultrafast', 'fast' or 'medium'."""

    def __post_init__(self) -> None:
        if not 1 <= self.particles <= 100_000:
            raise ValueError(f"particles must be in 1..100000, got {self.particles}")
        if not 0.0 <= self.surface_offset <= 0.05:
            raise ValueError(f"surface_offset must be in [0, 0.05] m, got {self.surface_offset}")
        if not 0 <= self.erode <= 10 or self.voxel <= 0 or self.outlier_neighbours < 1 or self.outlier_std <= 0:
            raise ValueError("erode in 0..10 px, voxel > 0, outlier_neighbours >= 1 and outlier_std > 0 required")
        lo, hi = self.workspace[0::2], self.workspace[1::2]
        if any(a >= b for a, b in zip(lo, hi, strict=True)):
            raise ValueError(f"workspace box must have min < max on every axis, got {self.workspace}")
        if self.visibility_tolerance <= 0 or self.snap_radius <= 0 or self.neighbours < 1 or self.min_points < 1:
            raise ValueError("visibility_tolerance, snap_radius > 0 and neighbours, min_points >= 1 required")
        if self.shape_neighbours < 1 or self.shape_iterations < 0 or not 0.0 <= self.shape_stiffness <= 1.0:
            raise ValueError("shape_neighbours >= 1, shape_iterations >= 0 and shape_stiffness in [0, 1] required")
        if not (0.0 <= self.smoothing <= 1.0 and 0.0 <= self.snap <= 1.0):
            raise ValueError(f"smoothing and snap must be in [0, 1], got {self.smoothing}, {self.snap}")
        if self.flow_preset not in ("ultrafast", "fast", "medium"):
            raise ValueError(f"flow_preset must be 'ultrafast', 'fast' or 'medium', got {self.flow_preset!r}")
