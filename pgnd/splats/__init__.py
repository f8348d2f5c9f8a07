"""Gaussian splats that ride on PGND's particles, so every prediction can be rendered as an image.

- ``gaussians``: the splat set (means, rotations, scales, colours, opacities) and its
  PLY file in the standard 3D Gaussian Splatting layout that common viewers open;
- ``render_torch``: a depth-sorted alpha compositor in plain torch (CPU, differentiable),
  following gsplat's projection and compositing rules;
- ``render_gsplat``: the same through ``gsplat.rasterization`` on CUDA (import-guarded);
- ``render``: picks one of the two for a tensor's device;
- ``fit``: one splat set fitted to the first frame of an episode from multi-view RGB + masks;
- ``skinning``: linear-blend skinning of the splats on moving particles (Procrustes
  rotations per particle), as the anchor deforms its splats.
"""
