"""Scenario files for the embedded simulators (navigation scenarios in ``nav/``)."""
