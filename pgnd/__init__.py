"""Manipulation: particle-grid neural dynamics (PGND) of deformable objects, Gaussian splats, MPPI planning and ROS 2 node."""
