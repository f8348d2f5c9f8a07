"""Particles from RGB-D cameras: what a robot has instead of the simulator's vertices.

- ``config``: the settings of every stage (``PerceptionCfg``);
- ``fusion``: masked depth back-projection per camera, fusion in the table frame,
  outlier removal, voxel downsampling, farthest-point sampling;
- ``tracking``: particles followed over time with dense optical flow (OpenCV)
  lifted to 3-D with depth, so the model gets its history;
- ``quality``: perceived particles scored against the simulator (Chamfer per frame,
  track drift of material points);
- ``dataset``: ``dynstack manip perceive``: a rendered dataset -> a dataset of
  perceived particles in the same shard layout, which training and evaluation read
  unchanged.

The robot path (``config``, ``fusion``, ``tracking``) imports no simulator: a
robot's perception process needs its camera calibration
(``dynamics_stack.camera``) and images alone; ``dataset`` and ``quality`` turn
simulator datasets into perceived ones and score them.
"""
