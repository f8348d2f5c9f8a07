"""The ``irl_reward`` node's per-frame decisions without ROS: keypoints and onion -> reward and joint targets, or why not.

The node (``visual_irl.node``) parses messages into arrays and publishes what
``RewardCycle.frame`` returns. A frame gets no reward and no joint targets,
and is counted under the reason, when its message is malformed or does not
hold 17 points, when no onion message is within ``max_object_age_s`` of it,
when a keypoint the state needs (shoulders, hips, right elbow and wrist) is
missing, non-finite, below ``min_confidence`` or beyond ``max_range_m``, or
when the reward network gives a non-finite value (the final gate). Joint
targets are withheld when retargeting misses the tool target by more than
``max_ik_error_m``; after ``gap_reset_s`` without a usable frame retargeting
restarts from the mapped posture. Every joint target passes the robot's
position, velocity and acceleration limits last (``visual_irl.joint_limits``:
a pause ramps back from rest, never jumps); a frame stamped less than 1 ms
after the last target gets none (the same frame again, or a late one), one
stamped more than ``gap_reset_s`` before it starts a new stream. The skeleton
shows only the points that pass the same checks as the state's
(``features.points_ok``). Every keypoint message's stamp also feeds the
received-vs-expected count (``visual_irl.input_rate``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from visual_irl.features import NEEDED, frame_states, points_ok
from visual_irl.input_rate import InputRate
from visual_irl.joint_limits import JointLimiter, JointLimits, stop_trajectory
from visual_irl.node_cfg import IrlRewardNodeCfg

COCO_POINTS = 17
KEYPOINT_FIELDS = ("x", "y", "z", "confidence")  # PointCloud2 fields of the keypoints topic, COCO-17 order
OBJECT_FIELDS = ("x", "y", "z", "blemished")  # PointCloud2 fields of the objects topic, the onion first
MIN_TARGET_DT = 1e-3  # s: no keypoint source here runs above 1 kHz; closer stamps are one frame twice


@dataclass(frozen=True)
class FrameResult:
    """What one keypoint frame gave; ``dropped`` names why there is no reward (None: there is one)."""

    keypoints: np.ndarray | None = None  # [17, 3] for the skeleton markers (None: malformed frame)
    shown: np.ndarray | None = None  # [17] bool: the points that pass the checks, the only ones drawn
    reward: float | None = None  # g(s)
    potential: float | None = None  # h(s)
    min_confidence: float | None = None  # lowest confidence among the keypoints the state used
    joints: np.ndarray | None = None  # [J] joint targets (rad) of the robot, within its limits; None: none
    retargeted: np.ndarray | None = None  # [J] the retargeting's joints before the limits (what ``joints`` follows)
    step_s: float | None = None  # s: how long the arm has to reach ``joints`` (the stamp interval, capped)
    trajectory: np.ndarray | None = None  # [P, J] positions ``step_s`` apart: ``joints``, then a stop within the limits
    dropped: str | None = None  # reason key, counted as ``dropped_<reason>``
    why: str = ""  # a sentence for the log


class RewardCycle:
    """Counts, the latest onion and the retargeting state of one configured node; see the module docstring.

    ``runtime`` is the reward model (``dynamics_stack.runtime``), ``retargeter`` a
    ``visual_irl.retarget.Retargeter`` or None (robot 'none').
    """

    def __init__(self, cfg: IrlRewardNodeCfg, runtime: Any, retargeter: Any | None):
        self.cfg, self.runtime, self.retargeter = cfg, runtime, retargeter
        self.limiter: JointLimiter | None = None
        if retargeter is not None:  # the arm starts at rest in the rest posture the human's rest maps to
            limits = JointLimits.of(retargeter.robot, cfg.limits)
            restart_dt = 1.0 / cfg.expected_rate_hz  # a ramp from rest advances one camera frame at a time
            self.limiter = JointLimiter(limits, cfg.limits.max_dt_s, restart_dt, start=retargeter.home)
        self.input = InputRate(cfg.expected_rate_hz, restart_s=cfg.gap_reset_s)
        self.counts: Counter[str] = Counter()
        self._objects: tuple[float, np.ndarray] | None = None  # (stamp, [4] x, y, z, blemished)
        self._last_good = -np.inf

    @property
    def onion_stamp(self) -> float | None:
        """Stamp of the onion in use (None before the first usable objects message)."""
        return None if self._objects is None else self._objects[0]

    @property
    def dropped(self) -> int:
        return sum(v for k, v in self.counts.items() if k.startswith("dropped_"))

    def report(self) -> tuple[bool, str, dict[str, Any]]:
        """(ok, message, values) of one /diagnostics report; starts the next received-vs-expected period.

        Not ok once a frame was dropped, or when this period received less than ``min_received_ratio``
        of the frames the source's stamps say it sent.
        """
        rate = self.input.report()
        dropped = self.dropped
        message = (
            f"{self.counts['rewarded']} rewarded, {dropped} dropped of {self.counts['frames']} frames; "
            f"received {rate['received_last_period']} of {rate['expected_last_period']} expected this period"
        )
        values = {**dict(sorted(self.counts.items())), **rate, "expected_rate_hz": self.cfg.expected_rate_hz}
        return dropped == 0 and rate["received_ratio"] >= self.cfg.min_received_ratio, message, values

    def refuse(self, reason: str, why: str) -> FrameResult:
        """Count a frame that gives nothing (also for messages the node could not parse)."""
        self.counts[f"dropped_{reason}"] += 1
        return FrameResult(dropped=reason, why=why)

    def malformed(self, stamp: float, why: str) -> FrameResult:
        """A keypoint message stamped ``stamp`` that could not be read: a frame without reward."""
        self.counts["frames"] += 1
        self.input.frame(stamp)
        return self.refuse("malformed", why)

    def take_objects(self, stamp: float, objects: np.ndarray) -> FrameResult | None:
        """An objects message [M, 4]: the first row is the onion in hand. A refusal when it is unusable."""
        if len(objects) == 0 or not np.all(np.isfinite(objects[0])):
            return self.refuse("objects_missing", "objects message without a finite onion")
        self._objects = (stamp, objects[0].astype(np.float64))
        return None

    def frame(self, stamp: float, points: np.ndarray) -> FrameResult:
        """One keypoint frame [N, 4] (x, y, z, confidence) stamped ``stamp``."""
        self.counts["frames"] += 1
        self.input.frame(stamp)
        if points.shape[0] != COCO_POINTS:
            return self.refuse("malformed", f"keypoint message has {points.shape[0]} points, expected 17 (COCO-17)")
        kp, conf = points[:, :3].astype(np.float64), points[:, 3]
        seen = {"keypoints": kp, "shown": points_ok(kp, conf, self.cfg.min_confidence, self.cfg.max_range_m)}
        if self._objects is None or abs(self._objects[0] - stamp) > self.cfg.max_object_age_s:
            return FrameResult(**seen, **self._drop("no_recent_onion", "no onion message within max_object_age_s"))
        onion = self._objects[1]
        state, valid = frame_states(
            kp[None], conf[None], onion[None, :3], onion[3] > 0.5, self.cfg.min_confidence, self.cfg.max_range_m
        )
        if not valid[0]:
            return FrameResult(**seen, **self._invalid(kp, conf))
        out = self.runtime.run("reward", {"state": state})
        g, h = float(out["reward"][0]), float(out["potential"][0])
        if not (np.isfinite(g) and np.isfinite(h)):  # final gate: never a made-up or non-finite value
            return FrameResult(**seen, **self._drop("non_finite_output", "reward network gave a non-finite value"))
        self.counts["rewarded"] += 1
        targets, why = self._retarget(state[0], stamp)
        self._last_good = stamp
        return FrameResult(
            **seen, reward=g, potential=h, min_confidence=float(np.min(conf[list(NEEDED)])), **targets, why=why
        )

    def _drop(self, reason: str, why: str) -> dict[str, Any]:
        self.counts[f"dropped_{reason}"] += 1
        return {"dropped": reason, "why": why}

    def _invalid(self, kp: np.ndarray, conf: np.ndarray) -> dict[str, Any]:
        used, used_conf = kp[list(NEEDED)], conf[list(NEEDED)]
        if not (np.all(np.isfinite(used)) and np.all(np.isfinite(used_conf))):
            return self._drop("non_finite", "needed keypoints missing or non-finite")
        if np.any(used_conf < self.cfg.min_confidence):
            return self._drop("low_confidence", "needed keypoints below min_confidence")
        return self._drop("out_of_range", "keypoints or onion farther than max_range_m from the camera")

    def _retarget(self, state: np.ndarray, stamp: float) -> tuple[dict[str, Any], str]:
        """Joint targets of this frame's arm within the robot's limits (FrameResult fields), or none and why."""
        if self.retargeter is None:
            return {}, ""
        last = self.limiter.stamp
        if last is not None and stamp < last + MIN_TARGET_DT:
            if stamp >= last - self.cfg.gap_reset_s:
                self.counts["dropped_stamp_not_newer"] += 1
                return {}, "keypoint stamp not after the last joint target's: no joint target for it"
            self.limiter.restart()  # a replayed or restarted source: a new stream from the last target, at rest
            self.retargeter.reset()
        elif stamp - self._last_good > self.cfg.gap_reset_s:
            self.retargeter.reset()
        r = self.retargeter.step(state[:9].astype(np.float64))
        if not (r["error"] <= self.cfg.max_ik_error_m and np.all(np.isfinite(r["q"]))):
            self.counts["dropped_ik_unreached"] += 1
            return {}, f"retargeting missed the tool target by {r['error'] * 1e3:.1f} mm"
        step = self.limiter.step(stamp, r["q"])  # last: limits hold for every published target
        self.counts["joint_targets"] += 1
        if step.limited:
            self.counts["joint_targets_limited"] += 1
        traj = stop_trajectory(step.q, step.v, step.dt, self.limiter.limits) if self.cfg.publish_trajectory else None
        return {"joints": step.q, "retargeted": r["q"], "step_s": step.dt, "trajectory": traj}, ""


def replay(cycle: RewardCycle, demo: Any, every: int = 3, skip: Any = ()) -> list[tuple[float, FrameResult]]:
    """Feed a demonstration (``keypoints.KeypointDemo``) through ``cycle`` as the node would see it live.

    Every ``every``-th frame (3: 10 Hz from a 30 Hz recording), each after its onion message; the frames
    whose index (after thinning) is in ``skip`` never arrive (dropped frames). Returns (stamp, result) pairs.
    """
    blemished = 1.0 if demo.labels and "blemished" in demo.labels[0] else 0.0
    out = []
    for k, i in enumerate(range(0, len(demo), every)):
        if k in skip:
            continue
        stamp = float(demo.t[i])
        if demo.objects.shape[1]:
            cycle.take_objects(stamp, np.append(demo.objects[i, 0], blemished)[None])
        out.append((stamp, cycle.frame(stamp, np.concatenate([demo.keypoints[i], demo.confidence[i][:, None]], 1))))
    return out
