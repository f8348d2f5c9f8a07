"""Multi-camera RGB-D frames assembled from separate image messages (no rclpy; the perception node feeds it).

Each camera sends three images (colour, depth, object mask) as separate
messages. ``FrameAssembler`` hands out one frame once every camera has all
three within ``slop`` seconds of one stamp; the grouping by stamp, and the
dropping of incomplete stamps ``max_wait`` behind the newest, is
``dynamics_stack.stamp_sync.StampSync``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dynamics_stack.stamp_sync import StampSync

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
    _sync: StampSync = field(init=False, repr=False)
    _size_mismatch: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        self._sync = StampSync([(c, k) for c in self.cameras for k in KINDS], self.slop, self.max_wait)

    @property
    def dropped(self) -> int:
        """Images or frames given up: late, never completed, superseded, or of mixed sizes."""
        return self._sync.dropped + self._size_mismatch

    def add(self, camera: str, kind: str, stamp: float, image: np.ndarray) -> RgbdFrame | None:
        """Add one image; returns a complete frame when this image completes one, else None."""
        if camera not in self.cameras or kind not in KINDS:
            raise ValueError(
                f"unknown camera {camera!r} or image kind {kind!r} (cameras {self.cameras}, kinds {KINDS})"
            )
        done = self._sync.add((camera, kind), stamp, image)
        if done is None:
            return None
        key, parts = done
        order = [[parts[(c, k)] for c in self.cameras] for k in KINDS]
        shapes = {a.shape[:2] for group in order for a in group}
        if len(shapes) != 1:
            self._size_mismatch += 1
            return None
        return RgbdFrame(
            stamp=key,
            rgb=np.stack(order[0]).astype(np.uint8),
            depth=np.stack(order[1]).astype(np.float32),
            masks=np.stack(order[2]).astype(bool),
        )
