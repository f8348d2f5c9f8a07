"""Keypoint trajectory format: per frame, COCO-17 3D keypoints with confidence, objects and a timestamp.

One demonstration (:class:`KeypointDemo`) holds

- ``t``          [T]          seconds from the start of the recording
- ``keypoints``  [T, 17, 3]   metres in the camera's optical frame (x right, y down, z forward);
                              NaN where the detector gave nothing
- ``confidence`` [T, 17]      detector confidence in [0, 1] (0 where missing)
- ``objects``    [T, M, 3]    object positions in the camera frame (NaN when not seen)
- ``labels``     [M]          object labels, e.g. ``onion_good`` / ``onion_blemished``

plus metadata (``meta``: quality, true task score, person parameters...). Files
are JSON (readable, for exchange) or NPZ (compact); both round-trip exactly
(NPZ) or to float precision (JSON). A malformed file is a ``KeypointFileError``
naming the file and the field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dynamics_stack.atomic import atomic_path, atomic_write_json

# COCO-17 keypoint order (the COCO keypoint challenge; what most 2D pose detectors output).
COCO17 = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)
KP = {name: i for i, name in enumerate(COCO17)}
# The demonstrating arm (right) and the points that define the torso frame.
ARM = (KP["right_shoulder"], KP["right_elbow"], KP["right_wrist"])  # 6, 8, 10 as in the lab's code
TORSO = (KP["left_shoulder"], KP["right_shoulder"], KP["left_hip"], KP["right_hip"])
# Skeleton edges drawn in rviz (COCO's limb list without the face-to-shoulder links).
BONES = (
    (5, 7), (7, 9), (6, 8), (8, 10), (5, 6), (5, 11), (6, 12), (11, 12),
    (11, 13), (13, 15), (12, 14), (14, 16), (0, 1), (0, 2), (1, 3), (2, 4),
)  # fmt: skip
OBJECT_LABELS = ("onion_good", "onion_blemished")


class KeypointFileError(ValueError):
    """A keypoint file is missing, unreadable or has a field of the wrong shape; the message says which."""


@dataclass
class KeypointDemo:
    """One recorded (or generated) demonstration; see the module docstring for shapes and frames."""

    t: np.ndarray
    keypoints: np.ndarray
    confidence: np.ndarray
    objects: np.ndarray
    labels: tuple[str, ...]
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.t = np.asarray(self.t, dtype=np.float64)
        self.keypoints = np.asarray(self.keypoints, dtype=np.float32)
        self.confidence = np.asarray(self.confidence, dtype=np.float32)
        self.objects = np.asarray(self.objects, dtype=np.float32)
        self.labels = tuple(str(x) for x in self.labels)
        validate(self)

    def __len__(self) -> int:
        return len(self.t)


def validate(demo: KeypointDemo, source: str = "demonstration") -> None:
    """Shapes and monotonic time; raises ``KeypointFileError`` naming ``source`` and the field."""
    n = demo.t.shape[0] if demo.t.ndim == 1 else -1
    checks = (
        ("t", demo.t.ndim == 1 and n > 0, "[T] with T > 0"),
        ("keypoints", demo.keypoints.shape == (n, 17, 3), f"[{n}, 17, 3]"),
        ("confidence", demo.confidence.shape == (n, 17), f"[{n}, 17]"),
        (
            "objects",
            demo.objects.ndim == 3 and demo.objects.shape[0] == n and demo.objects.shape[2] == 3,
            f"[{n}, M, 3]",
        ),
        ("labels", demo.objects.ndim == 3 and len(demo.labels) == demo.objects.shape[1], "one label per object"),
    )
    for name, ok, want in checks:
        if not ok:
            got = getattr(demo, name)
            shape = getattr(got, "shape", len(got))
            raise KeypointFileError(f"{source}: field '{name}' has shape {shape}, expected {want}")
    if n > 1 and not np.all(np.diff(demo.t) > 0):
        raise KeypointFileError(f"{source}: field 't' must be strictly increasing")


def save_demo(demo: KeypointDemo, path: str | Path) -> Path:
    """Write a demonstration as ``.json`` or ``.npz`` (by suffix), atomically."""
    path = Path(path)
    if path.suffix == ".json":
        atomic_write_json(path, demo_to_dict(demo))
    elif path.suffix == ".npz":
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            np.savez_compressed(
                handle,
                t=demo.t,
                keypoints=demo.keypoints,
                confidence=demo.confidence,
                objects=demo.objects,
                labels=np.array(demo.labels, dtype=str),
                meta=np.array(json.dumps(demo.meta)),
            )
    else:
        raise KeypointFileError(f"{path}: unknown keypoint file type (use .json or .npz)")
    return path


def demo_to_dict(demo: KeypointDemo) -> dict[str, Any]:
    """JSON-able dict; NaN becomes null."""

    def nan_to_none(a: np.ndarray) -> Any:
        return np.where(np.isfinite(a), a, np.nan).astype(object).tolist() if a.size else a.tolist()

    def clean(x: Any) -> Any:
        if isinstance(x, list):
            return [clean(v) for v in x]
        return None if isinstance(x, float) and not np.isfinite(x) else x

    return {
        "format": "dynamics_stack.keypoints/1",
        "keypoint_names": list(COCO17),
        "t": demo.t.tolist(),
        "keypoints": clean(nan_to_none(demo.keypoints.astype(np.float64))),
        "confidence": demo.confidence.astype(np.float64).tolist(),
        "objects": clean(nan_to_none(demo.objects.astype(np.float64))),
        "labels": list(demo.labels),
        "meta": demo.meta,
    }


def load_demo(path: str | Path) -> KeypointDemo:
    """Read a ``.json``, ``.npz`` or rosbag2 folder/file (``.mcap``/``.db3``) demonstration."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: keypoint file not found")
    if path.is_dir() or path.suffix in (".mcap", ".db3"):
        from visual_irl.rosbag import load_bag

        return load_bag(path)
    try:
        if path.suffix == ".json":
            data = json.loads(path.read_text())
            if not isinstance(data, dict):
                raise KeypointFileError(f"{path}: expected a JSON object")
            missing = [k for k in ("t", "keypoints", "confidence") if k not in data]
            if missing:
                raise KeypointFileError(f"{path}: missing field(s) {missing}")

            def arr(x: Any) -> np.ndarray:
                return np.array(x, dtype=np.float64) if x is not None else np.zeros(0)

            t = arr(data["t"])
            objects = data.get("objects")
            objects = arr(objects) if objects else np.zeros((len(t), 0, 3))
            fields = dict(
                t=t,
                keypoints=arr(data["keypoints"]),
                confidence=arr(data["confidence"]),
                objects=objects,
                labels=tuple(data.get("labels", ())),
                meta=dict(data.get("meta", {})),
            )
        elif path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as npz:
                missing = [k for k in ("t", "keypoints", "confidence") if k not in npz]
                if missing:
                    raise KeypointFileError(f"{path}: missing field(s) {missing}")
                t = npz["t"]
                fields = dict(
                    t=t,
                    keypoints=npz["keypoints"],
                    confidence=npz["confidence"],
                    objects=npz["objects"] if "objects" in npz else np.zeros((len(t), 0, 3)),
                    labels=tuple(npz["labels"].tolist()) if "labels" in npz else (),
                    meta=json.loads(str(npz["meta"])) if "meta" in npz else {},
                )
        else:
            raise KeypointFileError(f"{path}: unknown keypoint file type (use .json, .npz or a rosbag2)")
    except (json.JSONDecodeError, UnicodeDecodeError, OSError, ValueError) as exc:
        if isinstance(exc, KeypointFileError):
            raise
        raise KeypointFileError(f"{path}: not a readable keypoint file ({exc})") from exc
    try:
        return KeypointDemo(**fields)
    except KeypointFileError as exc:
        raise KeypointFileError(f"{path}: {exc}") from exc
