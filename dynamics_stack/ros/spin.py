"""Spin a node until Ctrl-C (SIGINT) or SIGTERM (how ``ros2 launch`` stops nodes), then exit cleanly.

rclpy's own signal handler shuts the context down from inside the signal, wherever the spin happens
to be. When that is the executor building its wait set, rclpy raises ``RCLError`` ("the given context
is not valid") instead of ``ExternalShutdownException``, and the node exits with status 1 and a
traceback; under load this happened to the terrain simulator in the tests. Here the signals only set
a flag, the loop checks it between callbacks, and the caller's ``finally`` runs its own shutdown
(zero command, bag closed) before ``rclpy.try_shutdown()``.
"""

from __future__ import annotations

import signal
import threading

import rclpy
from rclpy.executors import Executor
from rclpy.signals import SignalHandlerOptions

POLL_S = 0.05
"""Longest wait for a callback before the stop flag is checked again."""


def init_with_stop_flag(args: list[str] | None = None) -> threading.Event:
    """``rclpy.init`` without rclpy's signal handlers; SIGINT and SIGTERM set the returned event.

    Call it from the main thread (Python installs signal handlers only there).
    """
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def spin_until_stopped(executor: Executor, stop: threading.Event) -> None:
    """Run the executor's callbacks until ``stop`` is set or the context shuts down."""
    while not stop.is_set() and rclpy.ok():
        executor.spin_once(timeout_sec=POLL_S)
