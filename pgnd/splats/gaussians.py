"""A set of 3-D Gaussians and its PLY file in the layout of 3D Gaussian Splatting (Kerbl et al., SIGGRAPH 2023).

Parameters are kept in the unconstrained form the optimiser works on, as the
3DGS PLY stores them: log-scales, opacity logits, unnormalised quaternions
(w, x, y, z). Colours are plain RGB in [0, 1] (degree-0 spherical harmonics);
the PLY stores them as the DC coefficient ``f_dc = (rgb - 0.5) / C0`` and
writes the 45 higher-degree coefficients ``f_rest_*`` as zeros, so viewers
that expect the full layout open the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from dynamics_stack.atomic import atomic_path
from dynamics_stack.config import ConfigError

SH_C0 = 0.28209479177387814  # Y_0^0 of the real spherical harmonics: rgb = 0.5 + C0 * f_dc
REST_COEFFS = 45  # f_rest_0..44: degree 1-3 spherical harmonics x 3 colours in the standard layout
PLY_FIELDS = (
    ["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2"]
    + [f"f_rest_{i}" for i in range(REST_COEFFS)]
    + ["opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"]
)


@dataclass
class Gaussians:
    """G Gaussians: means [G, 3] (m), quats [G, 4] (w, x, y, z), log_scales [G, 3], colors [G, 3] in
    [0, 1], opacity_logits [G]."""

    means: Tensor
    quats: Tensor
    log_scales: Tensor
    colors: Tensor
    opacity_logits: Tensor

    def __post_init__(self) -> None:
        G = self.means.shape[0]
        shapes = {
            "means": (G, 3),
            "quats": (G, 4),
            "log_scales": (G, 3),
            "colors": (G, 3),
            "opacity_logits": (G,),
        }
        for name, shape in shapes.items():
            if tuple(getattr(self, name).shape) != shape:
                raise ValueError(f"Gaussians.{name} must be {list(shape)}, got {list(getattr(self, name).shape)}")

    def __len__(self) -> int:
        return int(self.means.shape[0])

    @property
    def scales(self) -> Tensor:
        return self.log_scales.exp()

    @property
    def opacities(self) -> Tensor:
        return torch.sigmoid(self.opacity_logits)

    @property
    def unit_quats(self) -> Tensor:
        return self.quats / self.quats.norm(dim=-1, keepdim=True).clamp(min=1e-12)

    def detach(self) -> Gaussians:
        return Gaussians(*(t.detach().clone() for t in self.tensors()))

    def to(self, device: str | torch.device) -> Gaussians:
        return Gaussians(*(t.to(device) for t in self.tensors()))

    def tensors(self) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        return self.means, self.quats, self.log_scales, self.colors, self.opacity_logits

    def with_pose(self, means: Tensor, quats: Tensor) -> Gaussians:
        """The same splats moved: new means and rotations, scales, colours and opacities kept."""
        return Gaussians(means, quats, self.log_scales, self.colors, self.opacity_logits)


CLOUD_FIELDS = (
    "x", "y", "z", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3", "red", "green", "blue", "opacity",
)  # fmt: skip
"""Columns of a splat set sent as a point cloud (sensor_msgs/PointCloud2): the PLY's, colours as RGB in [0, 1]."""


def gaussians_to_array(g: Gaussians) -> np.ndarray:  # -> [G, 14] float32, columns CLOUD_FIELDS
    return (
        torch.cat((g.means, g.log_scales, g.quats, g.colors, g.opacity_logits[:, None]), dim=1)
        .detach()
        .cpu()
        .float()
        .numpy()
    )


def gaussians_from_array(table: np.ndarray) -> Gaussians:  # [G, 14] columns CLOUD_FIELDS
    """A splat set from its table; a clear error for a wrong shape or non-finite values."""
    table = np.asarray(table, dtype=np.float32)
    if table.ndim != 2 or table.shape[1] != len(CLOUD_FIELDS) or len(table) == 0:
        raise ValueError(f"a splat table must be [G > 0, {len(CLOUD_FIELDS)}], got {table.shape}")
    if not np.isfinite(table).all():
        raise ValueError("a splat table holds non-finite values")
    t = torch.from_numpy(table.copy())
    return Gaussians(
        means=t[:, 0:3], log_scales=t[:, 3:6], quats=t[:, 6:10], colors=t[:, 10:13], opacity_logits=t[:, 13]
    )


def save_ply(path: str | Path, g: Gaussians) -> Path:
    """Write ``g`` as a binary little-endian PLY in the 3DGS layout (atomically)."""
    n = len(g)
    cols = {name: np.zeros(n, np.float32) for name in PLY_FIELDS}
    means = g.means.detach().cpu().numpy()
    dc = (g.colors.detach().cpu().numpy() - 0.5) / SH_C0
    log_s = g.log_scales.detach().cpu().numpy()
    q = g.quats.detach().cpu().numpy()
    for i, axis in enumerate("xyz"):
        cols[axis] = means[:, i]
        cols[f"f_dc_{i}"] = dc[:, i]
        cols[f"scale_{i}"] = log_s[:, i]
    for i in range(4):
        cols[f"rot_{i}"] = q[:, i]
    cols["opacity"] = g.opacity_logits.detach().cpu().numpy()
    table = np.empty(n, dtype=[(name, "<f4") for name in PLY_FIELDS])
    for name in PLY_FIELDS:
        table[name] = cols[name]
    header = f"ply\nformat binary_little_endian 1.0\nelement vertex {n}\n"
    header += "".join(f"property float {name}\n" for name in PLY_FIELDS) + "end_header\n"
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_bytes(header.encode("ascii") + table.tobytes())
    return path


def load_ply(path: str | Path) -> Gaussians:
    """Read a 3DGS PLY (binary little-endian, float properties; ``f_rest_*`` may be absent and are ignored)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: splat file not found") from exc
    end = raw.find(b"end_header\n")
    if not raw.startswith(b"ply\n") or end < 0:
        raise ConfigError(f"{path}: not a PLY file (no 'ply' magic or no end_header)")
    lines = raw[:end].decode("ascii", errors="replace").splitlines()
    if "format binary_little_endian 1.0" not in lines:
        raise ConfigError(f"{path}: only binary_little_endian PLY files are read")
    count, props = None, []
    for line in lines:
        parts = line.split()
        if parts[:2] == ["element", "vertex"]:
            count = int(parts[2])
        elif parts[:1] == ["element"] and count is not None:
            raise ConfigError(f"{path}: unexpected element after vertex: {line!r}")
        elif parts[:1] == ["property"]:
            if len(parts) != 3 or parts[1] != "float":
                raise ConfigError(f"{path}: only 'property float NAME' is supported, got {line!r}")
            props.append(parts[2])
    needed = [f for f in PLY_FIELDS if not f.startswith("f_rest_") and not f.startswith("n")]
    missing = [f for f in needed if f not in props]
    if count is None or missing:
        raise ConfigError(f"{path}: not a 3DGS splat file (vertex count {count}, missing {missing})")
    body = raw[end + len(b"end_header\n") :]
    if len(body) < count * 4 * len(props):
        raise ConfigError(f"{path}: truncated: {len(body)} bytes for {count} vertices of {len(props)} floats")
    table = np.frombuffer(body, dtype=[(p, "<f4") for p in props], count=count) if count else None

    def stack(names: list[str]) -> Tensor:
        if table is None:
            return torch.zeros(0, len(names))
        return torch.from_numpy(np.stack([table[n].astype(np.float32) for n in names], axis=-1).copy())

    g = Gaussians(
        means=stack(["x", "y", "z"]),
        quats=stack([f"rot_{i}" for i in range(4)]),
        log_scales=stack([f"scale_{i}" for i in range(3)]),
        colors=stack([f"f_dc_{i}" for i in range(3)]) * SH_C0 + 0.5,
        opacity_logits=stack(["opacity"])[:, 0],
    )
    if not all(torch.isfinite(t).all() for t in g.tensors()):
        raise ConfigError(f"{path}: splat file holds non-finite values")
    return g
