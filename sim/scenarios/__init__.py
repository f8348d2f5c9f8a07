"""Scenario files for the embedded simulators and the Isaac Sim runners."""
