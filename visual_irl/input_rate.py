"""Input loss made visible: keypoint frames received vs the frames the camera sent, from the frames' stamps.

PointCloud2 has no sequence number (ROS 2 headers dropped it), so the camera's
rate stands in for one: between the oldest and the newest stamp seen, a camera
at ``expected_hz`` sent ``span * expected_hz`` frames; those that never reached
the callback (dropped by the best-effort, keep-last subscription under a burst,
lost on the network, or never published by a detector that skipped them) are
the difference. A frame whose stamp is not newer than the newest seen is not a
new camera frame (a duplicate or a late arrival) and does not count; a stamp
more than ``restart_s`` older than the newest starts the count afresh (a
replayed or restarted source). No rclpy here.
"""

from __future__ import annotations

import math


class InputRate:
    """Received and expected frames per report period and in total."""

    def __init__(self, expected_hz: float, restart_s: float):
        self.expected_hz, self.restart_s = expected_hz, restart_s
        self.newest: float | None = None  # newest stamp seen
        self._base = 0.0  # stamp up to which expected frames are already counted
        self._received = 0  # new frames this period
        self._expected = 0  # expected frames this period, up to _base
        self.received_total = 0
        self.expected_total = 0

    def frame(self, stamp: float) -> None:
        """A keypoint message stamped ``stamp`` reached the node."""
        if not math.isfinite(stamp):
            return
        if self.newest is not None and stamp < self.newest - self.restart_s:
            self._settle()  # the source restarted: count the old stream's frames, then afresh
            self.newest = None
        if self.newest is not None and stamp <= self.newest:
            return
        if self.newest is None:
            self._base = stamp - 1.0 / self.expected_hz  # the first frame of a count expected itself
        self.newest = stamp
        self._received += 1
        self.received_total += 1

    def _settle(self) -> None:
        if self.newest is not None:
            self._expected += round((self.newest - self._base) * self.expected_hz)
            self._base = self.newest

    def report(self) -> dict[str, float | int]:
        """This period's counts and the totals; starts the next period."""
        self._settle()
        received, expected = self._received, max(self._expected, self._received)  # stamp jitter: never above 1
        self._received = self._expected = 0
        self.expected_total += expected
        return {
            "received_last_period": received,
            "expected_last_period": expected,
            "received_ratio": round(received / expected, 3) if expected else 1.0,
            "received_total": self.received_total,
            "expected_total": self.expected_total,
        }
