"""State features from keypoints: the arm relative to the torso, the onion, its label.

state [13] = right shoulder (3), right elbow (3), right wrist (3), onion (3) in the
torso frame (origin between the shoulders, x forward, y left, z up; built from
both shoulders and both hips), then the blemished flag (1). This is the lab's
29-number state (shoulder, elbow, wrist + 5 onions) cut to the one onion in hand.

Per frame, a state is valid only if every keypoint it needs is finite with
confidence >= ``min_confidence`` and the onion is seen; the node gives no reward
for an invalid frame. Offline (training, evaluation) short gaps are filled by
linear interpolation in time and counted.

``ArmModel`` is the regression of shoulder and elbow on the wrist that the
RL environment uses (its action moves only the wrist): ridge least squares on
quadratic features of the wrist, fitted to the demonstrations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from visual_irl.keypoints import ARM, KP, TORSO, KeypointDemo

STATE_DIM = 13
STATE_NAMES = (
    *(f"shoulder_{a}" for a in "xyz"),
    *(f"elbow_{a}" for a in "xyz"),
    *(f"wrist_{a}" for a in "xyz"),
    *(f"onion_{a}" for a in "xyz"),
    "blemished",
)
NEEDED = (*TORSO, *ARM)
MAX_RANGE_M = 10.0  # beyond the range of any RGB-D camera (RealSense D435: about 10 m)


def torso_frame(kp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Camera-frame keypoints [..., 17, 3] -> torso rotation [..., 3, 3] (columns x, y, z) and origin [..., 3]."""
    ls, rs = kp[..., KP["left_shoulder"], :], kp[..., KP["right_shoulder"], :]
    lh, rh = kp[..., KP["left_hip"], :], kp[..., KP["right_hip"], :]
    origin = 0.5 * (ls + rs)
    y = ls - rs
    y = y / np.linalg.norm(y, axis=-1, keepdims=True)
    z = origin - 0.5 * (lh + rh)
    z = z - np.sum(z * y, -1, keepdims=True) * y
    z = z / np.linalg.norm(z, axis=-1, keepdims=True)
    x = np.cross(y, z)
    return np.stack([x, y, z], axis=-1), origin


def to_torso(points: np.ndarray, R: np.ndarray, origin: np.ndarray) -> np.ndarray:
    """Camera-frame points [..., K, 3] -> torso frame, with R [..., 3, 3], origin [..., 3]."""
    return np.einsum("...ji,...kj->...ki", R, points - origin[..., None, :])


def points_ok(points: np.ndarray, conf: np.ndarray, min_confidence: float, max_range: float) -> np.ndarray:
    """Which points [..., 3] with confidence [...] are usable: finite, confident enough, within ``max_range``.

    The one check every output of the node shares (the state, and the skeleton markers).
    """
    points = np.asarray(points, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        near = np.linalg.norm(points, axis=-1) <= max_range  # NaN, Inf and overflow compare False
        return np.all(np.isfinite(points), axis=-1) & (np.asarray(conf) >= min_confidence) & near


def frame_states(
    kp: np.ndarray,
    conf: np.ndarray,
    onion: np.ndarray,
    blemished: np.ndarray | float,
    min_confidence: float,
    max_range: float = MAX_RANGE_M,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame states [F, 13] and validity [F] from keypoints [F, 17, 3], confidence [F, 17], onion [F, 3].

    Points farther than ``max_range`` from the camera are invalid too: finite but absurd input
    (a detector's garbage, a corrupted message) must not buy a reward.
    """
    kp = np.asarray(kp, dtype=np.float64)
    onion = np.asarray(onion, dtype=np.float64)
    valid = np.all(points_ok(kp[:, NEEDED], np.asarray(conf)[:, NEEDED], min_confidence, max_range), axis=1)
    valid &= points_ok(onion, np.ones(len(onion)), 0.0, max_range)
    with np.errstate(invalid="ignore", divide="ignore"):
        R, origin = torso_frame(kp)
        arm = to_torso(kp[:, ARM], R, origin)  # [F, 3, 3]
        obj = to_torso(onion[:, None, :], R, origin)[:, 0]
    blem = np.broadcast_to(np.asarray(blemished, dtype=np.float64), (len(kp),))
    states = np.concatenate([arm.reshape(len(kp), 9), obj, blem[:, None]], axis=1)
    valid &= np.all(np.isfinite(states), axis=1)
    return states.astype(np.float32), valid


def demo_states(demo: KeypointDemo, step: int = 3, min_confidence: float = 0.5) -> tuple[np.ndarray, dict]:
    """States [T, 13] every ``step`` frames, invalid frames filled by interpolation; returns (states, info)."""
    label = demo.labels[0] if demo.labels else ""
    blemished = 1.0 if "blemished" in label else 0.0
    onion = demo.objects[:, 0] if demo.objects.shape[1] else np.full((len(demo), 3), np.nan)
    states, valid = frame_states(demo.keypoints, demo.confidence, onion, blemished, min_confidence)
    if not valid.any():
        raise ValueError("demonstration has no frame with all needed keypoints")
    idx = np.arange(len(states))
    filled = states.copy()
    for j in range(STATE_DIM):
        filled[:, j] = np.interp(idx, idx[valid], states[valid, j])
    sel = idx[::step]
    return filled[sel], {"frames": len(states), "invalid_frames": int((~valid).sum())}


@dataclass(frozen=True)
class ArmModel:
    """Shoulder and elbow [6] as a quadratic function of the wrist [3] (torso frame)."""

    coef: np.ndarray  # [10, 6]

    @staticmethod
    def design(wrist: np.ndarray) -> np.ndarray:
        x, y, z = wrist[..., 0], wrist[..., 1], wrist[..., 2]
        one = np.ones_like(x)
        return np.stack([one, x, y, z, x * x, y * y, z * z, x * y, x * z, y * z], axis=-1)

    @classmethod
    def fit(cls, states: np.ndarray, ridge: float = 1e-4) -> ArmModel:
        """Least squares on states [N, 13] (uses columns 0..8)."""
        A = cls.design(states[:, 6:9].astype(np.float64))
        Y = states[:, 0:6].astype(np.float64)
        coef = np.linalg.solve(A.T @ A + ridge * np.eye(A.shape[1]), A.T @ Y)
        return cls(coef)

    def predict(self, wrist: np.ndarray) -> np.ndarray:
        """Wrist [..., 3] -> shoulder and elbow [..., 6]."""
        return self.design(wrist) @ self.coef

    def project(self, states: np.ndarray) -> np.ndarray:
        """States with shoulder and elbow replaced by the regression of their wrist (the env's arm)."""
        out = states.copy()
        out[..., 0:6] = self.predict(states[..., 6:9])
        return out

    def to_list(self) -> list:
        return self.coef.tolist()
