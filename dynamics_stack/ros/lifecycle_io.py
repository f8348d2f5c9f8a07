"""The lifecycle transitions of a node whose outputs are gated by ``_active`` and whose I/O is torn down whole.

A node using this keeps its subscriptions in ``self._subs`` (list), its lifecycle publishers
in ``self._pubs`` (dict), its report timer in ``self._timer`` and its rclpy-free decision
core in ``self.cycle``, whose ``report()`` gives (ok, message, values) for ``/diagnostics``
(published on ``self._pubs["diagnostics"]`` under ``HARDWARE_ID``); ``on_configure`` (the
node's own) creates them and the report timer calls ``report``. Activation only
opens the gate (lifecycle publishers follow the node's state), cleanup and shutdown destroy
everything configure made, so a reconfigure starts from nothing. Put it before
``LifecycleNode`` in the bases: ``class MyNode(LifecycleIo, LifecycleNode)``.
"""

from __future__ import annotations

from typing import Any

from rclpy.lifecycle import State, TransitionCallbackReturn

from dynamics_stack.ros.diagnostics import diagnostics


class LifecycleIo:
    """activate / deactivate / cleanup / shutdown for the I/O layout in the module docstring."""

    HARDWARE_ID: str = ""
    """The ``hardware_id`` of the node's diagnostics (its executable's name)."""

    _active: bool
    _subs: list[Any]
    _pubs: dict[str, Any]
    _timer: Any
    cycle: Any

    def on_activate(self, state: State) -> TransitionCallbackReturn:
        self._active = True
        return super().on_activate(state)  # type: ignore[misc]  # LifecycleNode: activates the publishers

    def on_deactivate(self, state: State) -> TransitionCallbackReturn:
        self._active = False
        return super().on_deactivate(state)  # type: ignore[misc]

    def on_cleanup(self, state: State) -> TransitionCallbackReturn:
        self._teardown()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: State) -> TransitionCallbackReturn:
        self._active = False
        self._teardown()
        return TransitionCallbackReturn.SUCCESS

    def _teardown(self) -> None:
        for sub in self._subs:
            self.destroy_subscription(sub)  # type: ignore[attr-defined]
        if self._timer is not None:
            self.destroy_timer(self._timer)  # type: ignore[attr-defined]
        for pub in self._pubs.values():
            self.destroy_lifecycle_publisher(pub)  # type: ignore[attr-defined]
        self._subs, self._pubs, self._timer, self.cycle = [], {}, None, None

    def report(self) -> None:
        """Publish the decision core's frame counts on ``/diagnostics`` while active."""
        if not self._active:
            return
        ok, message, values = self.cycle.report()
        stamp = self.get_clock().now().to_msg()  # type: ignore[attr-defined]
        name = self.get_name()  # type: ignore[attr-defined]
        self._pubs["diagnostics"].publish(
            diagnostics(f"{name}: frames", ok, message, values, stamp, hardware_id=self.HARDWARE_ID)
        )
