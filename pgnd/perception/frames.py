"""Multi-camera RGB-D frames assembled from separate image messages (no rclpy; the perception node feeds it).

Each camera sends three images (colour, depth, object mask) as separate
messages. ``FrameAssembler`` keeps the latest few of each and hands out one
frame once every camera has all three within ``slop`` seconds of one stamp
(the role of message_filters' approximate-time synchroniser, which has no
wheel here). Incomplete stamps older than ``max_wait`` behind the newest are
dropped and counted, so a camera that stops does not hold memory or stall
the others forever.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

KINDS = ("color", "depth", "mask")


@dataclass
class RgbdFrame:
    """One synchronised frame: rgb uint8 [C, H, W, 3], depth float32 [C, H, W] (m), masks bool [C, H, W]."""

    stamp: float
    rgb: np.ndarray
    depth: np.ndarray
    masks: np.ndarray


@dataclass
class FrameAssembler:
    """Group per-camera colour/depth/mask images by stamp into ``RgbdFrame``s."""

    cameras: tuple[str, ...]
    slop: float = 0.02
    max_wait: float = 1.0
    dropped: int = 0
    _parts: dict[float, dict[tuple[str, str], np.ndarray]] = field(default_factory=dict)

    def add(self, camera: str, kind: str, stamp: float, image: np.ndarray) -> RgbdFrame | None:
        """Add one image; returns a complete frame when this image completes one, else None."""
        if camera not in self.cameras or kind not in KINDS:
            raise ValueError(
                f"unknown camera {camera!r} or image kind {kind!r} (cameras {self.cameras}, kinds {KINDS})"
            )
        if self._parts and stamp < max(self._parts) - self.max_wait:
            self.dropped += 1  # a late image of a frame already given up
            return None
        key = next((s for s in self._parts if abs(s - stamp) <= self.slop), stamp)
        self._parts.setdefault(key, {})[(camera, kind)] = image
        newest = max(self._parts)
        for old in [s for s in self._parts if s < newest - self.max_wait]:
            del self._parts[old]
            self.dropped += 1
        parts = self._parts[key]
        if len(parts) < len(self.cameras) * len(KINDS):
            return None
        del self._parts[key]
        for old in [s for s in self._parts if s < key]:  # older, incomplete: superseded
            del self._parts[old]
            self.dropped += 1
        order = [[parts[(c, k)] for c in self.cameras] for k in KINDS]
        shapes = {a.shape[:2] for group in order for a in group}
        if len(shapes) != 1:
            self.dropped += 1
            return None
        return RgbdFrame(
            stamp=key,
            rgb=np.stack(order[0]).astype(np.uint8),
            depth=np.stack(order[1]).astype(np.float32),
            masks=np.stack(order[2]).astype(bool),
        )
