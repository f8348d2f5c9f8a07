"""Embedded simulators (legged platform on height maps, deformable objects), scenario files and Isaac Sim runners.

Importable without rclpy or Isaac Sim; the Isaac runners import it lazily.
"""
