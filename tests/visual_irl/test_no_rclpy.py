"""visual_irl's core (everything but the node's class) imports and runs with rclpy made unimportable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODULES = (
    "keypoints", "camera", "human_arm", "task", "demos", "features", "env", "policy", "reward", "airl",
    "evaluate", "robots", "retarget", "rosbag", "cli", "node_cfg", "reward_cycle", "joint_limits", "input_rate",
)  # fmt: skip
BLOCKED = (
    "rclpy", "rclpy.node", "rclpy.lifecycle", "sensor_msgs", "geometry_msgs", "std_msgs", "visualization_msgs",
    "trajectory_msgs",
)  # fmt: skip


def test_core_imports_and_runs_without_rclpy():
    code = "import sys\n" + "".join(f"sys.modules[{m!r}] = None\n" for m in BLOCKED)
    code += "".join(f"import visual_irl.{m}\n" for m in MODULES)
    code += (
        "from visual_irl.demos import DemoGenCfg, generate_demo\n"
        "from visual_irl.features import demo_states\n"
        "from visual_irl.retarget import retarget_trajectory\n"
        "from visual_irl.robots import load_robot\n"
        "s, _ = demo_states(generate_demo(DemoGenCfg(), 'good', seed=0))\n"
        "r = retarget_trajectory(load_robot('ur5'), s[:10, :9].astype(float))\n"
        "assert r['error'].max() < 0.005\n"
        "import visual_irl.node_cfg as n\n"
        "assert n.IrlRewardNodeCfg().robot == 'panda'\n"
        "print('ok')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-2000:]
