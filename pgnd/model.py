"""The PGND model: particles + gripper -> per-particle features -> grid velocity field -> particles one step later.

One step (dt = 0.1 s, Zhang et al., RSS 2025; docs/references.md), shapes for B trajectories, N object
particles, H history frames, K gripper surface points:

1. world metres -> the unit cube of the workspace (``PgndCfg.workspace``):
   the table is the grid floor plus 3 cells, z up (the anchor uses y up);
2. per-particle input (16 values): positions of the last 3 frames centred on
   the particle mean, the last 2 displacements in cells, and a flag that
   marks the K gripper points, which join the cloud with their known
   displacement this step (the anchor's pushing model);
3. PointNet encoder (shared per-point MLP, a max-pooled global feature
   concatenated back) -> ``grid_channels`` features per point;
4. particle-to-grid: B-spline weighted mean of the features at each of the
   27 stencil nodes (``pgnd.grid``), then an MLP on [positional encoding of
   the node position relative to the object centre, node feature] gives the
   node velocity; boundary nodes lose their outward velocity; when the
   gripper is closed, nodes within its radius take its rigid velocity;
5. grid-to-particle with the same weights, x <- clamp(x + dt v) inside the
   workspace; particles within the radius of a closed gripper move rigidly.

``use_grid = False`` gives the particle-only baseline of the same size: the
features go straight to a per-particle velocity MLP (steps 4-5 without a grid,
same gripper and boundary handling). Decided once in the constructor.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from dynamics_stack.config import cfg_from_dict, cfg_to_dict
from dynamics_stack.runtime import BoundMethod, GraphSpec
from pgnd import grid as G

DENSE_COARSE_NODES = 8000  # coarse grids up to 20^3 nodes are scattered densely also in the compact path
GRIPPER_DIM = 15  # centre 3, linear velocity 3, quaternion wxyz 4, angular velocity 3, radius 1, openness 1


@dataclass(frozen=True, kw_only=True)
class PgndCfg:
    """Architecture and geometry of one PGND model."""

    num_particles: int = 1000
    """N object particles (the anchor farthest-point samples 1000)."""
    history: int = 2
    """Previous frames used besides the current one (anchor: 2)."""
    grid_size: int = 50
    """G nodes per axis of the dense grid over the unit cube (anchor: 50, dx = 0.02)."""
    workspace: float = 0.8
    """Edge (m) of the cubic workspace the unit cube maps to; x, y centred on the table origin."""
    dt: float = 0.1
    """Seconds per model step (anchor)."""
    encoder: tuple[int, ...] = (64, 64)
    """Per-point MLP widths of the PointNet encoder (anchor 64-128-64 with batch norm)."""
    global_dim: int = 64
    """Width of the max-pooled global feature."""
    grid_channels: int = 16
    """Feature channels scattered to the grid (kept small: the dense grid is B x G^3 x channels)."""
    velocity_mlp: tuple[int, ...] = (32, 32)
    """Hidden widths of the node (or particle, without grid) velocity MLP. Anchor 64-64-32; it runs on
    all 27 N stencil nodes, so it dominates the step time: 32-32 roughly halves it on the CPU."""
    pe_freqs: int = 4
    """Frequencies of the sinusoidal positional encoding of node positions."""
    gripper_points: int = 16
    """K points on the gripper sphere added as particles with known motion (pushing)."""
    gripper_point_radius: float = 0.012
    """Radius (m) of the gripper sphere the K points lie on (the simulator's finger)."""
    boundary_cells: int = 3
    """Nodes this close to a grid face lose their outward velocity (anchor: 3)."""
    gripper_features: bool = False
    """Add 7 per-particle inputs: offset to the gripper centre, gripper displacement this step, closed
    flag. Not in the anchor (there the gripper is seen only as extra particles); both PGND and the
    particle-only baseline get it when on, so their comparison stays fair."""
    gripper_context: bool = False
    """Add the gripper's state to the max-pooled global feature every particle sees: closed flag, its
    displacement this step (cells) and rotation (rad). Not in the anchor; a far particle of a dragged
    sheet otherwise learns that the gripper holds and pulls only from the motion of its neighbours.
    Both PGND and the particle-only baseline get it when on."""
    coarse_factor: int = 0
    """> 0: before the fine particle-to-grid step, average the features also on a grid this many
    times coarser and add them back to the particles (wider reach, as the anchor's 0.2-unit
    aggregation radius is ~10 fine cells; a B-spline stencil reaches 1.5). 0 = off. Grid model only."""
    use_grid: bool = True
    """False: the particle-only baseline (no particle-to-grid-to-particle)."""
    grasp_nodes: bool = True
    """Grid nodes within the radius of a closed gripper take its rigid velocity (anchor). False: only the
    particles inside it move rigidly (as in both models anyway); the nodes keep the network's velocity,
    so particles just outside the grasp (up to 1.5 cells further) are not dragged partly rigidly."""
    inertia: bool = False
    """True: each particle keeps its last displacement and the network predicts the change
    (v = v_last + G2P(node velocities), or + the particle MLP without grid), so the untrained model is
    constant-velocity extrapolation instead of rest. Not in the anchor (there the grid field is the
    whole velocity); it hands the grid model each particle's own velocity unsmoothed by the 3-cell
    B-spline stencil, which the particle-only baseline reads directly. Both models get it when on.
    Measured on the rope (validation split, 30 steps): worse for both (PGND MDE 4.20 cm vs 3.12 without,
    particle-only 3.79 vs 3.17), so the shipped recipes leave it off."""

    def __post_init__(self) -> None:
        if self.num_particles < 1 or self.history < 1:
            raise ValueError(f"num_particles and history must be >= 1, got {self.num_particles}, {self.history}")
        if not 8 <= self.grid_size <= 200:
            raise ValueError(f"grid_size must be in [8, 200], got {self.grid_size}")
        if self.workspace <= 0 or self.dt <= 0:
            raise ValueError(f"workspace and dt must be > 0, got {self.workspace}, {self.dt}")
        if not 0 <= self.boundary_cells < self.grid_size // 4:
            raise ValueError(f"boundary_cells must be in [0, grid_size/4), got {self.boundary_cells}")

    @property
    def dx(self) -> float:
        return 1.0 / self.grid_size


def mlp(widths: list[int], last_act: bool = False) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(widths)):
        layers.append(nn.Linear(a, b))
        if i < len(widths) - 2 or last_act:
            layers.append(nn.SiLU())
    return nn.Sequential(*layers)


def fibonacci_sphere(k: int) -> Tensor:  # -> [k, 3] unit vectors spread evenly
    i = torch.arange(k, dtype=torch.float64) + 0.5
    z = 1.0 - 2.0 * i / k
    r = torch.sqrt(1.0 - z * z)
    phi = i * math.pi * (3.0 - math.sqrt(5.0))
    return torch.stack((r * torch.cos(phi), r * torch.sin(phi), z), dim=-1).float()


def rotate(vec: Tensor, omega_dt: Tensor) -> Tensor:  # vec [B, M, 3], omega_dt [B, 3] -> [B, M, 3]
    """Rotate ``vec`` by the axis-angle ``omega_dt`` (Rodrigues; exact for the identity at zero)."""
    angle = omega_dt.norm(dim=-1, keepdim=True)  # [B, 1]
    axis = omega_dt / angle.clamp(min=1e-9)
    axis, angle = axis[:, None, :], angle[:, None, :]
    cross = torch.cross(axis.expand_as(vec), vec, dim=-1)
    dot = (axis * vec).sum(-1, keepdim=True)
    return vec * torch.cos(angle) + cross * torch.sin(angle) + axis * dot * (1.0 - torch.cos(angle))


class Pgnd(nn.Module):
    """Particle-grid neural dynamics (or the particle-only baseline with ``use_grid=False``)."""

    def __init__(self, cfg: PgndCfg):
        super().__init__()
        self.cfg = cfg
        # Touched-node table instead of the dense grid in torch (same numbers, see pgnd.grid.p2g_mean);
        # traced/exported graphs always use the dense, fixed-shape path.
        self.compact_grid = False
        in_dim = 3 * (cfg.history + 1) + 3 * cfg.history + 1 + (7 if cfg.gripper_features else 0)
        self.local = mlp([in_dim, *cfg.encoder], last_act=True)
        if cfg.use_grid and cfg.coarse_factor > 0:
            self.coarse_mix = nn.Linear(cfg.grid_channels, cfg.grid_channels)
        self.glob = mlp([cfg.encoder[-1], cfg.global_dim], last_act=False)
        ctx_dim = 7 if cfg.gripper_context else 0
        self.fuse = mlp([cfg.encoder[-1] + cfg.global_dim + ctx_dim, cfg.grid_channels], last_act=False)
        if cfg.use_grid:
            # First layer of the node MLP, split: the positional-encoding part is computed per axis and
            # per stencil offset (3 x 3 rows per particle, not 27) and summed by broadcasting, which is
            # the same linear map as on the 27 concatenated encodings at a ninth of the cost.
            hidden = cfg.velocity_mlp[0]
            self.pe_in = nn.Parameter(
                torch.randn(3, 1 + 2 * cfg.pe_freqs, hidden) / math.sqrt(3 * (1 + 2 * cfg.pe_freqs))
            )
            self.feat_in = nn.Linear(cfg.grid_channels, hidden)
            self.velocity = nn.Sequential(nn.SiLU(), *mlp([*cfg.velocity_mlp, 3]))
        else:
            self.velocity = mlp([cfg.grid_channels, *cfg.velocity_mlp, 3])
        nn.init.zeros_(self.velocity[-1].weight)  # start from "nothing moves", the safest untrained model
        nn.init.zeros_(self.velocity[-1].bias)
        L = cfg.workspace
        self.register_buffer("origin", torch.tensor([-L / 2, -L / 2, -cfg.boundary_cells * cfg.dx * L]))
        self.register_buffer("sphere", fibonacci_sphere(cfg.gripper_points) * cfg.gripper_point_radius)
        self.register_buffer("freqs", (2.0 ** torch.arange(cfg.pe_freqs)) * math.pi)

    # --- coordinates --------------------------------------------------------------------------------
    def to_unit(self, x: Tensor) -> Tensor:
        return (x - self.origin) / self.cfg.workspace

    def to_world(self, u: Tensor) -> Tensor:
        return u * self.cfg.workspace + self.origin

    # --- one step -----------------------------------------------------------------------------------
    def step(self, x_hist: Tensor, gripper: Tensor) -> Tensor:
        """x_hist [B, H+1, N, 3] (m, oldest first), gripper [B, 15] -> positions one step later [B, N, 3] (m)."""
        cfg = self.cfg
        B, _, N, _ = x_hist.shape
        u = self.to_unit(x_hist)  # [B, H+1, N, 3]
        cur = u[:, -1]  # [B, N, 3]
        c_g = self.to_unit(gripper[:, 0:3])  # [B, 3]
        v_g = gripper[:, 3:6] / cfg.workspace  # [B, 3] unit cube per s
        w_g = gripper[:, 10:13]  # [B, 3] rad/s
        radius = gripper[:, 13:14] / cfg.workspace  # [B, 1]
        closed = (gripper[:, 14:15] < 0.5).to(u.dtype)  # [B, 1]

        # gripper surface points: where they are now, one frame back (so their displacement is this step's)
        offs = self.sphere[None].expand(B, -1, -1) / cfg.workspace  # [B, K, 3]
        gp_next = c_g[:, None] + v_g[:, None] * cfg.dt + rotate(offs, w_g * cfg.dt)
        gp_now = c_g[:, None] + offs
        K = offs.shape[1]
        hist_g = torch.stack([gp_now] * cfg.history + [gp_next], dim=1)  # [B, H+1, K, 3]; newest = next
        pts = torch.cat((u, hist_g), dim=2)  # [B, H+1, N+K, 3]
        flag = torch.cat((u.new_zeros(B, N, 1), u.new_ones(B, K, 1)), dim=1)

        centre = cur.mean(dim=1, keepdim=True)  # [B, 1, 3]
        pos = (pts - centre[:, None]).permute(0, 2, 1, 3).reshape(B, N + K, -1)  # [B, N+K, 3(H+1)]
        disp = (pts[:, 1:] - pts[:, :-1]) * cfg.grid_size  # [B, H, N+K, 3] in cells per step
        disp = disp.permute(0, 2, 1, 3).reshape(B, N + K, -1)
        parts = [pos, disp, flag]
        if cfg.gripper_features:
            now = torch.cat((cur, gp_now), dim=1)  # [B, N+K, 3]
            rel_g = (now - c_g[:, None]) * 10.0  # 0.1 unit cube (8 cm) -> 1
            step_g = (v_g * cfg.dt * cfg.grid_size)[:, None].expand(-1, N + K, -1)  # cells this step
            parts += [rel_g, step_g, closed[:, None].expand(-1, N + K, -1)]
        h = self.local(torch.cat(parts, dim=-1))  # [B, N+K, E]
        g = self.glob(h).amax(dim=1, keepdim=True)  # [B, 1, Dg]
        if cfg.gripper_context:
            ctx = torch.cat((closed, v_g * cfg.dt * cfg.grid_size, w_g * cfg.dt), dim=-1)  # [B, 7]
            g = torch.cat((g, ctx[:, None]), dim=-1)
        feat = self.fuse(torch.cat((h, g.expand(-1, N + K, -1)), dim=-1))  # [B, N+K, C]
        compact = self.compact_grid and not (torch.jit.is_tracing() or torch.onnx.is_in_onnx_export())
        if cfg.use_grid and cfg.coarse_factor > 0:
            coarse = cfg.grid_size // cfg.coarse_factor
            pts_now = torch.cat((cur, gp_now), dim=1)
            cflat, cw, _, _ = G.stencil(pts_now, coarse)
            # dense even when compact: a 10^3 grid is small, and a dense scatter beats sorting the keys
            cnode, _ = G.p2g_mean(
                feat, cflat, cw, coarse, compact and coarse**3 > DENSE_COARSE_NODES
            )  # [B, N+K, 27, C]
            feat = feat + self.coarse_mix(torch.nn.functional.silu(G.g2p(cnode, cw)))

        if cfg.use_grid:
            pts_now = torch.cat((cur, gp_now), dim=1)  # [B, N+K, 3]
            flat, w, node, axes = G.stencil(pts_now, cfg.grid_size)
            gripper_state = (c_g, v_g, w_g, radius, closed)
            if compact:
                v_node = self._node_velocity_active(feat, flat, w, centre, gripper_state, N)
            else:
                v_node = self._node_velocity_dense(feat, flat, w, node, axes, centre, gripper_state, N)
            w = w[:, :N]
            v = G.g2p(v_node, w)  # [B, N, 3]
            if cfg.inertia:
                v = v + (cur - u[:, -2]) / cfg.dt  # inertia: the last displacement per dt
        else:
            v = self.velocity(feat[:, :N]) * (cfg.dx / cfg.dt)
            if cfg.inertia:
                v = v + (cur - u[:, -2]) / cfg.dt  # inertia: the last displacement per dt
            lo = cur < (cfg.boundary_cells + 0.5) * cfg.dx  # no grid nodes: the same rule at the particles
            hi = cur > 1.0 - (cfg.boundary_cells + 1.5) * cfg.dx
            v = torch.where(lo, v.clamp(min=0.0), v)
            v = torch.where(hi, v.clamp(max=0.0), v)
        nxt = cur + cfg.dt * v

        # particles inside a closed gripper move rigidly with it (the anchor's grasp)
        rel = cur - c_g[:, None]
        held = ((rel.norm(dim=-1, keepdim=True) < radius[:, None]).to(u.dtype)) * closed[:, None]  # [B, N, 1]
        carried = c_g[:, None] + v_g[:, None] * cfg.dt + rotate(rel, w_g * cfg.dt)
        nxt = held * carried + (1 - held) * nxt
        nxt = self.clamp_unit(nxt)
        return self.to_world(nxt)

    def _node_velocity_dense(
        self, feat: Tensor, flat: Tensor, w: Tensor, node: Tensor, axes: Tensor, centre: Tensor, grip: tuple, N: int
    ) -> Tensor:
        """Node velocities [B, N, 27, 3] at every stencil slot of the object particles (fixed shapes: the
        exported graph). feat [B, N+K, C]; flat, w [B, N+K, 27]; node [B, N+K, 27, 3]; axes [B, N+K, 3, 3]."""
        cfg = self.cfg
        B = feat.shape[0]
        node_feat, _ = G.p2g_mean(feat, flat, w, cfg.grid_size)  # [B, N+K, 27, C]
        # only the object particles' nodes are needed for the update
        node_feat, node, axes = node_feat[:, :N], node[:, :N], axes[:, :N]
        pe = self._encode(axes - centre[..., None])  # [B, N, 3 axes, 3 offsets, 1 + 2F]
        t = torch.einsum("bnaoe,aeh->bnaoh", pe, self.pe_in)  # [B, N, 3, 3, H]
        h0 = t[:, :, 0, :, None, None] + t[:, :, 1, None, :, None] + t[:, :, 2, None, None, :]  # [B, N, 3, 3, 3, H]
        h0 = h0.reshape(B, N, 27, -1) + self.feat_in(node_feat)  # [B, N, 27, H]
        return self._node_rules(self.velocity(h0) * (cfg.dx / cfg.dt), node, grip, (slice(None), None, None))

    def _node_velocity_active(
        self, feat: Tensor, flat: Tensor, w: Tensor, centre: Tensor, grip: tuple, N: int
    ) -> Tensor:
        """The same node velocities [B, N, 27, 3], evaluated once per active node: a particle's 27 stencil
        slots share most nodes with its neighbours' (a 400-particle cloth touches ~1.5k distinct nodes of
        its 10.8k slots), so the velocity MLP runs ~5x less (the anchor's kernels also visit active nodes
        only). Data-dependent shapes: torch only, never exported."""
        cfg = self.cfg
        B, NK, _ = flat.shape
        C = feat.shape[-1]
        G3 = cfg.grid_size**3
        keys = flat + (torch.arange(B, device=flat.device) * G3)[:, None, None]  # [B, N+K, 27]
        active, inverse = torch.unique(keys.reshape(-1), return_inverse=True)  # [U], [B (N+K) 27]
        U = active.shape[0]
        sums = feat.new_zeros(U, C).index_add(0, inverse, (feat[:, :, None, :] * w[..., None]).reshape(-1, C))
        mass = feat.new_zeros(U).index_add(0, inverse, w.reshape(-1))
        node_feat = sums / mass[:, None].clamp(min=1e-9)  # [U, C] weighted mean, as p2g_mean
        b = torch.div(active, G3, rounding_mode="floor")
        f = active - b * G3
        ijk = torch.stack((f // cfg.grid_size**2, (f // cfg.grid_size) % cfg.grid_size, f % cfg.grid_size), dim=-1)
        pos = ijk.to(feat.dtype) / cfg.grid_size  # [U, 3] unit cube
        pe = self._encode(pos - centre[b, 0])  # [U, 3 axes, 1 + 2F]
        h0 = torch.einsum("uae,aeh->uh", pe, self.pe_in) + self.feat_in(node_feat)  # [U, H]
        v = self._node_rules(self.velocity(h0) * (cfg.dx / cfg.dt), pos, grip, (b,))  # [U, 3]
        return v[inverse.reshape(B, NK, 27)[:, :N]]  # [B, N, 27, 3]

    def _node_rules(self, v: Tensor, node: Tensor, grip: tuple, at: tuple) -> Tensor:
        """Boundary and grasp rules on node velocities ``v`` at unit-cube positions ``node`` [..., 3];
        ``at`` indexes the per-batch gripper values [B, d] to broadcast against the nodes."""
        cfg = self.cfg
        v = G.boundary_mask_velocity(v, node, cfg.grid_size, cfg.boundary_cells)
        if not cfg.grasp_nodes:
            return v
        c_g, v_g, w_g, radius, closed = (t[at] for t in grip)
        rel = node - c_g
        inside = (rel.norm(dim=-1, keepdim=True) < radius).to(v.dtype)
        rigid_v = v_g + torch.cross(w_g.expand_as(rel), rel, dim=-1)
        grasp = inside * closed
        return grasp * rigid_v + (1 - grasp) * v

    def clamp_unit(self, u: Tensor) -> Tensor:
        """Keep particles inside the workspace: above the table, ``boundary_cells`` from the other faces."""
        lo = self.cfg.boundary_cells * self.cfg.dx
        return u.clamp(min=lo, max=1.0 - lo)

    def _encode(self, p: Tensor) -> Tensor:  # [...] -> [..., 1 + 2F] sinusoidal encoding of each coordinate
        ang = p[..., None] * self.freqs
        return torch.cat((p[..., None], torch.sin(ang), torch.cos(ang)), dim=-1)

    def rollout(self, x_hist: Tensor, grippers: Tensor) -> Tensor:
        """x_hist [B, H+1, N, 3], grippers [B, S, 15] -> predicted positions [B, S, N, 3] (autoregressive)."""
        hist = x_hist
        out = []
        for s in range(grippers.shape[1]):
            nxt = self.step(hist, grippers[:, s])
            out.append(nxt)
            hist = torch.cat((hist[:, 1:], nxt[:, None]), dim=1)
        return torch.stack(out, dim=1)

    def forward(self, x_hist: Tensor, gripper: Tensor) -> Tensor:
        return self.step(x_hist, gripper)

    def export_graphs(self) -> dict[str, GraphSpec]:
        """One model step, batch dynamic (1 for tracking, 32 samples for planning)."""
        cfg = self.cfg
        g = torch.Generator().manual_seed(0)
        x = (torch.rand(1, 1, cfg.num_particles, 3, generator=g) - 0.5) * torch.tensor([0.3, 0.3, 0.02])
        x[..., 2] += 0.01
        x_hist = x + torch.randn(1, cfg.history + 1, cfg.num_particles, 3, generator=g) * 0.003
        gripper = torch.zeros(1, GRIPPER_DIM)
        gripper[0, 0:3] = torch.tensor([0.0, 0.0, 0.02])
        gripper[0, 3:6] = torch.tensor([0.1, 0.0, 0.05])
        gripper[0, 6] = 1.0
        gripper[0, 12] = 0.3
        gripper[0, 13] = 0.02
        gripper[0, 14] = 0.0  # closed, so the graph is traced through the grasp branch's arithmetic
        return {
            "step": GraphSpec(
                BoundMethod(self, "step"),
                ("x_hist", "gripper"),
                ("x_next",),
                (x_hist, gripper),
                dynamic_axes={"x_hist": {0: "B"}, "gripper": {0: "B"}, "x_next": {0: "B"}},
            )
        }


def build_from_config(config: dict[str, Any]) -> Pgnd:
    """Runtime builder (model kind 'pgnd'): the card's config dict -> an untrained model."""
    return Pgnd(cfg_from_dict(PgndCfg, config, source="pgnd model card"))


def config_dict(cfg: PgndCfg) -> dict[str, Any]:
    return cfg_to_dict(cfg)
