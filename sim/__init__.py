"""Embedded simulators (a legged platform on height maps, deformable objects in MuJoCo), scenario files, the terrain_sim node.

Importable without rclpy, except the node (``sim.terrain_node``).
"""
