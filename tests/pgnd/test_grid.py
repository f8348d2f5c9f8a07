"""PGND grid operations: B-spline weights, particle-to-grid means, grid-to-particle, boundary rule."""

from __future__ import annotations

import torch

from pgnd import grid as G

GRID = 50


def _particles(n: int = 200, seed: int = 0) -> torch.Tensor:  # [1, n, 3] well inside the grid
    g = torch.Generator().manual_seed(seed)
    return 0.1 + 0.8 * torch.rand(1, n, 3, generator=g, dtype=torch.float64)


def test_bspline_weights_by_hand():
    # particle exactly on node base+1 (frac = 1.0): weights 1/8, 3/4, 1/8 per axis
    w = G.bspline_weights(torch.tensor([1.0, 0.5, 1.25], dtype=torch.float64))
    assert torch.allclose(w[0], torch.tensor([0.125, 0.75, 0.125], dtype=torch.float64))
    assert torch.allclose(w[1], torch.tensor([0.5, 0.5, 0.0], dtype=torch.float64))
    assert torch.allclose(w[2], torch.tensor([0.03125, 0.6875, 0.28125], dtype=torch.float64))


def test_weights_sum_to_one_and_reproduce_constant_and_linear_fields():
    x = _particles()
    flat, w, node, axes = G.stencil(x, GRID)
    assert flat.shape == (1, 200, 27) and w.shape == (1, 200, 27) and node.shape == (1, 200, 27, 3)
    assert torch.allclose(w.sum(-1), torch.ones(1, 200, dtype=torch.float64), atol=1e-12)
    assert (w >= 0).all()
    # a constant field is reproduced exactly
    const = torch.tensor([0.3, -1.2, 2.0], dtype=torch.float64).expand(1, 200, 27, 3)
    assert torch.allclose(G.g2p(const, w), torch.tensor([0.3, -1.2, 2.0], dtype=torch.float64).expand(1, 200, 3))
    # a linear field v(p) = A p + b is reproduced exactly (quadratic B-splines reproduce linear functions)
    A = torch.tensor([[0.5, -1.0, 0.2], [0.0, 2.0, 1.0], [-0.3, 0.4, 0.1]], dtype=torch.float64)
    b = torch.tensor([0.1, 0.2, -0.3], dtype=torch.float64)
    v_node = node @ A.T + b
    assert torch.allclose(G.g2p(v_node, w), x @ A.T + b, atol=1e-12)
    # per-axis node positions are the stencil's node positions
    assert torch.allclose(node[0, :, 13], axes[0, :, :, 1])


def test_flat_index_matches_node_position():
    x = _particles(50)
    flat, _, node, _ = G.stencil(x, GRID)
    ijk = torch.round(node * GRID).long()
    assert torch.equal(flat, (ijk[..., 0] * GRID + ijk[..., 1]) * GRID + ijk[..., 2])


def test_p2g_mean_by_hand_and_compact_equals_dense():
    # two particles: features 1 and 3; a node they share gets their weight-averaged feature
    x = torch.tensor([[[0.5, 0.5, 0.5], [0.5 + 0.5 / GRID, 0.5, 0.5]]], dtype=torch.float64)
    feat = torch.tensor([[[1.0], [3.0]]], dtype=torch.float64)
    flat, w, _, _ = G.stencil(x, GRID)
    dense, mass = G.p2g_mean(feat, flat, w, GRID)
    compact, mass_c = G.p2g_mean(feat, flat, w, GRID, compact=True)
    assert torch.allclose(dense, compact) and torch.allclose(mass, mass_c)
    # hand value at particle 0's centre node (index 13): weights of both particles at that node
    n13 = flat[0, 0, 13]
    w0 = w[0, 0, 13]
    w1 = w[0, 1][flat[0, 1] == n13].sum()
    assert torch.allclose(dense[0, 0, 13, 0], (1.0 * w0 + 3.0 * w1) / (w0 + w1), atol=1e-5)
    # a node only particle 0 reaches has exactly particle 0's feature
    only0 = ~torch.isin(flat[0, 0], flat[0, 1])
    assert torch.allclose(dense[0, 0, only0, 0], torch.ones(int(only0.sum()), dtype=torch.float64), atol=1e-5)
    # random batch: the two implementations agree
    xr = torch.cat((_particles(80, 1), _particles(80, 2)))
    fr = torch.randn(2, 80, 5, dtype=torch.float64)
    fl, wr, _, _ = G.stencil(xr, GRID)
    assert torch.allclose(G.p2g_mean(fr, fl, wr, GRID)[0], G.p2g_mean(fr, fl, wr, GRID, compact=True)[0])


def test_boundary_removes_outward_velocity_only_near_faces():
    pos = torch.tensor([[0.0, 0.5, 0.5], [2 / GRID, 0.5, 0.5], [3 / GRID, 0.5, 0.5], [0.5, 0.5, (GRID - 1) / GRID]])
    v = torch.tensor([[-1.0, 1.0, -1.0], [-1.0, 0.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    out = G.boundary_mask_velocity(v, pos, GRID, cells=3)
    assert torch.equal(out[0], torch.tensor([0.0, 1.0, -1.0]))  # x face: outward x removed, others kept
    assert torch.equal(out[1], torch.tensor([0.0, 0.0, 0.0]))  # node 2 is within 3 cells
    assert torch.equal(out[2], torch.tensor([-1.0, 0.0, 0.0]))  # node 3 is not
    assert torch.equal(out[3], torch.tensor([0.0, 0.0, 0.0]))  # top face: upward removed
