"""Linear-blend skinning of Gaussian splats on moving particles (the anchor's splat deformation).

The particles are the bones. Bound once, at the frame the splats were fitted:

- each Gaussian's ``k`` nearest particles and weights ``1 / (d + 1e-6)``,
  normalised to sum to one;
- each particle's ``k`` nearest particles, over which its rotation is fitted.

Then, for particles moved from ``b0`` [N, 3] to ``b1`` [N, 3]:

- each particle's rotation R_i is the Procrustes fit (Kabsch: SVD with the
  determinant fixed to +1) of its neighbours' offsets at ``b0`` onto those at
  ``b1``. ``REGULARISE`` x trace x identity is added to the cross-covariance
  so that directions the neighbours do not span (all of a rope's neighbours
  lie on one line) keep the identity instead of an arbitrary spin;
- a Gaussian at x moves to ``sum_k w_k (R_k (x - b0_k) + b1_k)``, and its
  rotation becomes ``normalise(sum_k w_k q_k) * q``, with each q_k flipped
  into the hemisphere of the first (q and -q are one rotation; the anchor's
  code sums them unaligned);
- scales, colours and opacities stay as fitted.

Identity motion leaves every Gaussian unchanged; a rigid motion moves them
rigidly (the tests hold both).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from pgnd.splats.gaussians import Gaussians

SKIN_NEIGHBOURS = 16  # anchor: 16 nearest particles per Gaussian and per particle rotation
REGULARISE = 1e-6  # relative to the neighbours' spread: biases a well-posed fit by ~1e-6 rad


@dataclass
class Skin:
    """Bindings of G Gaussians to N particles: gauss_idx/gauss_w [G, k], bone_idx [N, k]."""

    bones0: Tensor
    gauss_idx: Tensor
    gauss_w: Tensor
    bone_idx: Tensor


def knn(query: Tensor, points: Tensor, k: int) -> tuple[Tensor, Tensor]:  # [Q, 3], [P, 3] -> dist, idx [Q, k]
    k = min(k, points.shape[0])
    d = torch.cdist(query, points)
    dist, idx = d.topk(k, dim=-1, largest=False)
    return dist, idx


def bind(
    points: Gaussians | Tensor, bones0: Tensor, k: int = SKIN_NEIGHBOURS, rotation_k: int = SKIN_NEIGHBOURS
) -> Skin:
    """Bind Gaussians (or plain points [G, 3]) to particles ``bones0`` [N, 3] (their positions when the
    splats were fitted): ``k`` bones per point, ``rotation_k`` neighbours per bone rotation."""
    if bones0.ndim != 2 or bones0.shape[-1] != 3 or bones0.shape[0] < 1:
        raise ValueError(f"bones must be [N, 3] with N >= 1, got {list(bones0.shape)}")
    means = points.means if isinstance(points, Gaussians) else points
    dist, gidx = knn(means.detach(), bones0, k)
    w = 1.0 / (dist + 1e-6)
    w = w / w.sum(dim=-1, keepdim=True)
    _, bidx = knn(bones0, bones0, rotation_k + 1)
    return Skin(bones0=bones0, gauss_idx=gidx, gauss_w=w, bone_idx=bidx[:, 1:] if bidx.shape[1] > 1 else bidx)


def bone_rotations(b0: Tensor, b1: Tensor, nbr: Tensor) -> Tensor:  # [N, 3] x2, [N, k] -> [N, 3, 3]
    """Per particle, the rotation that best maps its neighbours' offsets at b0 onto those at b1."""
    A = b0[nbr] - b0[:, None]  # [N, k, 3]
    B = b1[nbr] - b1[:, None]
    spread = (A * A).sum(dim=(1, 2))[:, None, None]  # [N, 1, 1]
    H = A.transpose(1, 2) @ B + REGULARISE * spread * torch.eye(3, dtype=b0.dtype, device=b0.device)  # [N, 3, 3]
    U, _, Vt = torch.linalg.svd(H)
    V = Vt.transpose(1, 2)
    det = torch.linalg.det(V @ U.transpose(1, 2))
    D = torch.diag_embed(torch.stack((torch.ones_like(det), torch.ones_like(det), det), dim=-1))
    return V @ D @ U.transpose(1, 2)


def rotmat_to_quat(R: Tensor) -> Tensor:  # [..., 3, 3] -> [..., 4] (w, x, y, z), w >= 0
    m = R
    t = m[..., 0, 0] + m[..., 1, 1] + m[..., 2, 2]
    cands = torch.stack(
        (
            torch.stack(
                (1 + t, m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1]), -1
            ),
            torch.stack(
                (
                    m[..., 2, 1] - m[..., 1, 2],
                    1 + 2 * m[..., 0, 0] - t,
                    m[..., 0, 1] + m[..., 1, 0],
                    m[..., 0, 2] + m[..., 2, 0],
                ),
                -1,
            ),
            torch.stack(
                (
                    m[..., 0, 2] - m[..., 2, 0],
                    m[..., 0, 1] + m[..., 1, 0],
                    1 + 2 * m[..., 1, 1] - t,
                    m[..., 1, 2] + m[..., 2, 1],
                ),
                -1,
            ),
            torch.stack(
                (
                    m[..., 1, 0] - m[..., 0, 1],
                    m[..., 0, 2] + m[..., 2, 0],
                    m[..., 1, 2] + m[..., 2, 1],
                    1 + 2 * m[..., 2, 2] - t,
                ),
                -1,
            ),
        ),
        dim=-2,
    )  # [..., 4 candidates, 4]: each is q * 4 * (its largest component); pick the best-conditioned
    which = torch.stack((t, m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]), -1).argmax(-1)
    q = torch.gather(cands, -2, which[..., None, None].expand(*which.shape, 1, 4)).squeeze(-2)
    q = q / q.norm(dim=-1, keepdim=True)
    return torch.where(q[..., :1] < 0, -q, q)


def quat_multiply(a: Tensor, b: Tensor) -> Tensor:  # [..., 4] x2 (w, x, y, z) -> a * b
    aw, ax, ay, az = a.unbind(-1)
    bw, bx, by, bz = b.unbind(-1)
    return torch.stack(
        (
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ),
        dim=-1,
    )


def skin_points(points: Tensor, skin: Skin, bones1: Tensor) -> tuple[Tensor, Tensor]:
    """Points [G, 3] carried by particles that moved from ``skin.bones0`` to ``bones1`` [N, 3], and the
    bones' rotations [N, 3, 3]."""
    if bones1.shape != skin.bones0.shape:
        raise ValueError(f"moved particles {list(bones1.shape)} do not match the bound ones {list(skin.bones0.shape)}")
    b0 = skin.bones0
    R = bone_rotations(b0, bones1, skin.bone_idx)  # [N, 3, 3]
    idx, w = skin.gauss_idx, skin.gauss_w  # [G, k]
    local = points[:, None, :] - b0[idx]  # [G, k, 3]
    moved = torch.einsum("gkij,gkj->gki", R[idx], local) + bones1[idx]
    return (w[..., None] * moved).sum(dim=1), R


def deform(gaussians: Gaussians, skin: Skin, bones1: Tensor) -> Gaussians:
    """The splats carried by particles that moved from ``skin.bones0`` to ``bones1`` [N, 3]."""
    means, R = skin_points(gaussians.means, skin, bones1)
    idx, w = skin.gauss_idx, skin.gauss_w
    q = rotmat_to_quat(R)[idx]  # [G, k, 4]
    sign = torch.where((q * q[:, :1]).sum(-1, keepdim=True) < 0, -1.0, 1.0)
    blend = (w[..., None] * sign * q).sum(dim=1)
    blend = blend / blend.norm(dim=-1, keepdim=True).clamp(min=1e-12)
    return gaussians.with_pose(means, quat_multiply(blend, gaussians.unit_quats))
