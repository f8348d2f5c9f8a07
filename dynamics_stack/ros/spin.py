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
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import rclpy
from rclpy.executors import Executor, ExternalShutdownException, SingleThreadedExecutor
from rclpy.lifecycle import LifecycleNode, TransitionCallbackReturn
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions

from dynamics_stack.config import ConfigError

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


def run_node(make_node: Callable[[], Node], args: list[str] | None = None) -> None:
    """The whole life of a node process, for a node file's ``main()``: init, build, autostart, spin, clean exit.

    ``make_node`` is called after ``rclpy.init``. A lifecycle node whose parameter
    ``autostart`` is true is configured and, if that worked, activated (the role of
    Nav2's lifecycle manager). SIGINT or SIGTERM ends the spin; then the node's
    ``on_exit()`` runs if it has one (the planner's last zero command, the
    simulator's bag), the node is destroyed and rclpy shut down. A ``ConfigError``
    or ``FileExistsError`` while building the node (bad parameters, a scenario that
    does not exist) prints one line and exits with status 2, no traceback.
    """
    stop = init_with_stop_flag(args)
    node = executor = None
    try:
        node = make_node()
        autostart = node.has_parameter("autostart") and node.get_parameter("autostart").value
        if (
            isinstance(node, LifecycleNode)
            and autostart
            and node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        ):
            node.trigger_activate()
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        spin_until_stopped(executor, stop)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except (ConfigError, FileExistsError) as exc:
        print(f"{Path(sys.argv[0]).stem}: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    finally:
        if node is not None:
            on_exit = getattr(node, "on_exit", None)
            if on_exit is not None:
                on_exit()
        if executor is not None:
            executor.shutdown(timeout_sec=1.0)
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
