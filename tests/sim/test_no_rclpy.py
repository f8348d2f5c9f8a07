"""The simulator package imports with rclpy blocked (core vs node seam)."""

from __future__ import annotations

import subprocess
import sys

MODULES = ("sim.terrain", "sim.terrain_gen", "sim.platform", "sim.terrain_sim", "sim.height_map", "sim.route", "sim.commands",
           "sim.scenario", "sim.render", "sim.datagen", "sim.dataset")  # fmt: skip


def test_sim_imports_without_rclpy():
    code = "import sys; sys.modules['rclpy'] = None\n" + "".join(f"import {m}\n" for m in MODULES)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
