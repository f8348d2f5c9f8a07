"""Manipulation: particle-grid neural dynamics (PGND) of deformable objects: model, grid ops, training, evaluation, baselines.

Planned, not here yet: perception from RGB-D, Gaussian splats, MPPI planning of gripper motions, ROS 2 nodes.
"""
