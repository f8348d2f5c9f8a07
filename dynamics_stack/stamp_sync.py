"""Group messages that arrive separately (colour, depth, masks of one or more cameras) by their stamp.

The role of message_filters' approximate-time synchroniser, which has no wheel here; no rclpy, the
nodes feed it plain arrays. ``StampSync`` keeps the parts of the latest few stamps and hands out one
group once every key has a part within ``slop`` seconds of one stamp. Incomplete stamps more than
``max_wait`` behind the newest are dropped and counted, so a stream that stops does not hold memory
or stall the others; a completed stamp supersedes older incomplete ones (dropped and counted too).
Users: ``pgnd.perception.frames`` (four cameras x colour, depth, mask) and
``visual_irl.detector_cycle`` (one camera's colour and aligned depth).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any


class StampSync:
    """Parts under ``keys``, grouped by stamp; see the module docstring."""

    def __init__(self, keys: Iterable[Hashable], slop: float, max_wait: float = 1.0) -> None:
        self.keys = tuple(keys)
        if not self.keys or len(set(self.keys)) != len(self.keys):
            raise ValueError(f"StampSync needs distinct keys, got {self.keys}")
        if not (slop >= 0 and max_wait > 0):
            raise ValueError(f"slop must be >= 0 and max_wait > 0, got {slop}, {max_wait}")
        self.slop, self.max_wait = slop, max_wait
        self.dropped = 0  # parts or stamps given up: late, never completed, or superseded
        self._parts: dict[float, dict[Hashable, Any]] = {}

    def add(self, key: Hashable, stamp: float, part: Any) -> tuple[float, dict[Hashable, Any]] | None:
        """Add one part; returns (stamp, {key: part}) when it completes a group, else None.

        The group's stamp is the first stamp seen of it; a part within ``slop`` of it joins it.
        """
        if key not in self.keys:
            raise ValueError(f"unknown key {key!r}; expected one of {self.keys}")
        if self._parts and stamp < max(self._parts) - self.max_wait:
            self.dropped += 1  # a late part of a group already given up
            return None
        group = next((s for s in self._parts if abs(s - stamp) <= self.slop), stamp)
        self._parts.setdefault(group, {})[key] = part
        newest = max(self._parts)
        for old in [s for s in self._parts if s < newest - self.max_wait]:
            del self._parts[old]
            self.dropped += 1
        parts = self._parts[group]
        if len(parts) < len(self.keys):
            return None
        del self._parts[group]
        for old in [s for s in self._parts if s < group]:  # older, incomplete: superseded
            del self._parts[old]
            self.dropped += 1
        return group, parts
