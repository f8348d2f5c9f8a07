"""dynamics_stack.ros.spin: a signal stops the spin loop without shutting rclpy down under the node.

The node runs in a child process (signal handlers belong to the main thread of a process, and the
test must not take pytest's Ctrl-C away). A 1 ms timer keeps the executor busy building wait sets,
where rclpy's own handler used to make nodes exit with status 1; each of SIGINT and SIGTERM is sent
to three fresh children at different times into the loop, and every run must end cleanly with the
context still valid for the node's last message.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

CHILD = r"""
import rclpy
from rclpy.executors import SingleThreadedExecutor
from std_msgs.msg import String
from dynamics_stack.ros.spin import init_with_stop_flag, spin_until_stopped

stop = init_with_stop_flag()
node = rclpy.create_node("spin_probe")
pub = node.create_publisher(String, "spin_probe", 10)
ticks = [0]
node.create_timer(0.001, lambda: ticks.__setitem__(0, ticks[0] + 1))
executor = SingleThreadedExecutor()
executor.add_node(node)
print("ready", flush=True)
spin_until_stopped(executor, stop)
ok = rclpy.ok()  # the signal must not have shut the context down
pub.publish(String(data="last"))  # raises if the context were invalid
print(f"stopped ok={ok} ticks={ticks[0]}", flush=True)
executor.shutdown()
node.destroy_node()
rclpy.try_shutdown()
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_ends_the_spin_cleanly_with_the_context_still_valid(sig):
    for delay in (0.05, 0.11, 0.23):  # different points of the busy loop
        proc = subprocess.Popen(
            [sys.executable, "-c", CHILD], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        try:
            assert proc.stdout.readline().strip() == "ready"
            time.sleep(delay)
            proc.send_signal(sig)
            out, _ = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == 0, out
        assert "stopped ok=True" in out, out
        ticks = int(out.split("ticks=")[1].split()[0])
        assert ticks > 0, out  # the loop really ran callbacks before the signal
