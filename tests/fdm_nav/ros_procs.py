"""Start the navigation nodes as separate processes (the way ``ros2 run`` would) for end-to-end tests.

The child processes inherit the loopback DDS environment that tests/conftest.py
set in ``os.environ`` (same domain id), so they only talk to this test run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def start_node(
    module: str, params: dict[str, object], name: str, params_files: tuple[str, ...] = ()
) -> tuple[subprocess.Popen, Path]:
    """``python -m module --ros-args [--params-file F ...] -p k:=v ...``; returns the process and its log file."""
    args = [sys.executable, "-m", module, "--ros-args"]
    for file in params_files:
        args += ["--params-file", str(ROOT / file)]
    for key, value in params.items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        args += ["-p", f"{key}:={text}"]
    log = Path(tempfile.mkstemp(prefix=f"{name}-", suffix=".log")[1])
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    with log.open("w") as out:
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    return proc, log


def stop_node(proc: subprocess.Popen, timeout: float = 10.0) -> int:
    """SIGINT (clean shutdown: zero command, bag closed), then SIGKILL if it hangs; returns the exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode
