"""Human-to-cobot retargeting: keypoints -> human arm angles -> mapped robot joints -> minimal IK correction.

Per frame:

1. human joint angles from shoulder, elbow and wrist keypoints (torso frame;
   ``human_arm.inverse``);
2. the symbolic table (``robots.RobotSpec.joint_map``) gives mapped robot
   joints q_map (clipped to the limits);
3. the end-effector target is the robot's home tool position plus the wrist's
   displacement from the human rest posture (times ``scale``, turned so the
   person's forward is the robot's forward);
4. damped least squares on the tool position, started at q_map, with a
   posture term in the Jacobian's null space pulling towards q_map, and joint
   limits enforced after every step: the tool lands on the target while the
   joints stay as close to the human's as the task allows.

The baseline ("plain IK") is the same solver without the posture term,
warm-started from its previous solution, as a tracking IK would be.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from visual_irl import human_arm
from visual_irl.robots import Robot
from visual_irl.task import SortingTaskCfg


@dataclass(frozen=True, kw_only=True)
class IkCfg:
    """Damped-least-squares IK settings."""

    damping: float = 0.02
    """DLS damping lambda (m): keeps steps bounded near singularities."""
    posture_gain: float = 0.5
    """Gain of the null-space pull towards the mapped joints (per iteration)."""
    tolerance: float = 5e-4
    """Stop when the tool is this close to the target (m)."""
    posture_tolerance: float = 2e-3
    """With a posture target, also iterate until the null-space step is below this (rad)."""
    max_posture_step: float = 0.05
    """Largest null-space (posture) change per iteration (rad)."""
    posture_iterations: int = 10
    """At most this many posture-only iterations once the tool is on target (bounds the time per frame)."""
    max_iterations: int = 100
    """Iteration cap per frame."""
    max_step: float = 0.3
    """Largest joint change per iteration (rad)."""
    scale: float = 1.0
    """Human wrist displacement -> tool displacement scale."""

    def __post_init__(self) -> None:
        if self.damping < 0 or self.tolerance <= 0 or self.max_iterations < 1 or self.max_step <= 0:
            raise ValueError("IK damping >= 0, tolerance > 0, max_iterations >= 1, max_step > 0 required")


def solve_ik(
    robot: Robot, target: np.ndarray, q0: np.ndarray, cfg: IkCfg, q_posture: np.ndarray | None = None
) -> tuple[np.ndarray, float, int]:
    """DLS IK for the tool position; returns (q, error m, iterations). Joint limits always hold."""
    q = np.clip(q0, robot.lower, robot.upper)
    n = robot.model.nq
    lam2 = cfg.damping**2
    err = np.inf
    it = reached = 0
    for it in range(1, cfg.max_iterations + 1):
        e = target - robot.fk(q)
        err = float(np.linalg.norm(e))
        J = robot.jacobian(q)
        JJt = J @ J.T + lam2 * np.eye(3)
        J_pinv = J.T @ np.linalg.solve(JJt, np.eye(3))
        dq = J_pinv @ e
        if q_posture is not None:
            # keep iterating while the null-space pull still moves the joints: the answer is the posture
            # nearest the mapped one, not the first that reaches
            null = (np.eye(n) - J_pinv @ J) @ (cfg.posture_gain * (q_posture - q))
            # a joint on a stop cannot follow the pull outward; the rest of the pull would leak into the task
            null[((q <= robot.lower) & (null < 0)) | ((q >= robot.upper) & (null > 0))] = 0.0
            big = np.max(np.abs(null))
            if big > cfg.max_posture_step:  # small posture steps leave the task step in charge
                null *= cfg.max_posture_step / big
            reached += reached > 0 or err < cfg.tolerance  # iterations since the tool first got on target
            if err < cfg.tolerance and big < cfg.posture_tolerance:
                break
            if reached > cfg.posture_iterations or (reached == 0 and it > cfg.posture_iterations * 3):
                break  # the pull is fighting the task (a joint limit): stop refining, finish the task below
            dq += null
        elif err < cfg.tolerance:
            break
        step = np.max(np.abs(dq))
        if step > cfg.max_step:
            dq *= cfg.max_step / step
        q = np.clip(q + dq, robot.lower, robot.upper)
    err = float(np.linalg.norm(target - robot.fk(q)))
    if q_posture is not None and err >= cfg.tolerance:
        # the posture pull can pin a joint against its limit and stall the task: finish without it
        q, err, more = solve_ik(robot, target, q, cfg)
        it += more
    return q, err, it


class Retargeter:
    """Maps a stream of human arm states onto one robot (stateful only for the plain-IK warm start)."""

    def __init__(self, robot: Robot, cfg: IkCfg | None = None, task: SortingTaskCfg | None = None):
        self.robot, self.cfg = robot, cfg or IkCfg()
        task = task or SortingTaskCfg()
        person = human_arm.Person()
        shoulder = person.right_shoulder
        w_rest = np.asarray(task.rest)
        e_rest = human_arm.place_elbow(shoulder, w_rest, person.upper_arm, person.forearm, 0.0)
        self.q_rest = human_arm.inverse(shoulder, e_rest, w_rest)
        self.p_shoulder = robot.shoulder()
        names = {j: i for i, j in enumerate(robot.joint_names)}
        self.map_idx = np.array([names[r] for r, _, _ in robot.spec.joint_map])
        self.map_human = np.array([human_arm.JOINT_NAMES.index(h) for _, h, _ in robot.spec.joint_map])
        self.map_scale = np.array([s for _, _, s in robot.spec.joint_map])
        # The robot's rest posture: the one nearest its nominal home that puts the tool where the human's
        # rest wrist maps; the symbolic map is anchored there (human rest -> robot rest).
        self.home, _, _ = solve_ik(robot, self.target(shoulder, w_rest), robot.home, self.cfg, q_posture=robot.home)
        self.q_plain = self.home.copy()
        self.q_prev: np.ndarray | None = None
        # the posture target stays this far inside the limits, so the pull never pins a joint on a stop
        margin = 0.1
        self.map_lower, self.map_upper = robot.lower + margin, robot.upper - margin

    def mapped(self, q_human: np.ndarray) -> np.ndarray:
        """Symbolic map: robot joints [nq] from human angles [4] (unmapped joints at home)."""
        q = self.home.copy()
        q[self.map_idx] += self.map_scale * _wrap(q_human[self.map_human] - self.q_rest[self.map_human])
        return np.clip(q, self.map_lower, self.map_upper)

    def target(self, shoulder: np.ndarray, wrist: np.ndarray) -> np.ndarray:
        """Tool target [3] in the robot base frame from human shoulder and wrist (torso frame).

        The robot's shoulder joint stands where the person's shoulder was (x forward, z up in both), so the
        conveyor, bin and onion keep their places relative to it: target = shoulder + scale * (wrist - shoulder).
        """
        return self.p_shoulder + self.cfg.scale * (wrist - shoulder)

    def step(self, arm: np.ndarray) -> dict[str, np.ndarray | float]:
        """One frame: arm [9] = shoulder, elbow, wrist (torso frame) -> retargeted and plain-IK joints."""
        s, e, w = arm[0:3], arm[3:6], arm[6:9]
        q_h = human_arm.inverse(s, e, w)
        q_map = self.mapped(q_h)
        target = self.target(s, w)
        # warm start from the previous frame (continuity, fewer iterations); the posture pull does the rest
        q0 = q_map if self.q_prev is None else self.q_prev
        q, err, iters = solve_ik(self.robot, target, q0, self.cfg, q_posture=q_map)
        self.q_prev = q
        return {"q_human": q_h, "q_map": q_map, "target": target, "q": q, "error": err, "iterations": iters}

    def reset(self) -> None:
        """Forget the previous frame (a new demonstration or a gap in the stream)."""
        self.q_prev, self.q_plain = None, self.home.copy()

    def step_plain(self, arm: np.ndarray) -> tuple[np.ndarray, float]:
        """Plain-IK baseline: reach the same target from the previous plain solution, no posture term."""
        target = self.target(arm[0:3], arm[6:9])
        self.q_plain, err, _ = solve_ik(self.robot, target, self.q_plain, self.cfg)
        return self.q_plain, err


def _wrap(a: np.ndarray) -> np.ndarray:
    return (a + np.pi) % (2 * np.pi) - np.pi


def retarget_trajectory(robot: Robot, arm: np.ndarray, cfg: IkCfg | None = None) -> dict[str, np.ndarray]:
    """Arm states [T, 9] -> joint trajectories and per-frame errors for the method and the plain-IK baseline."""
    rt = Retargeter(robot, cfg)
    out: dict[str, list] = {k: [] for k in ("q_human", "q_map", "target", "q", "error", "q_plain", "error_plain")}
    for frame in arm:
        r = rt.step(frame)
        for k in ("q_human", "q_map", "target", "q", "error"):
            out[k].append(r[k])
        qp, ep = rt.step_plain(frame)
        out["q_plain"].append(qp.copy())
        out["error_plain"].append(ep)
    res = {k: np.asarray(v) for k, v in out.items()}
    res["map_idx"], res["map_human"], res["home"] = rt.map_idx, rt.map_human, rt.home
    return res


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    if a.std() < 1e-9 or b.std() < 1e-9:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def metrics(res: dict[str, np.ndarray], robot: Robot, reach_tol: float = 0.005) -> dict[str, float]:
    """EE error (mm), joint deviation from the mapped angles (deg), human-likeness (mean Pearson r over mapped
    joints of robot vs human joint trajectories, sign per the map), for the method and the plain-IK baseline."""
    idx, hum = res["map_idx"], res["map_human"]
    scale = np.array([s for _, _, s in robot.spec.joint_map])
    out = {}
    for tag, q, err in (("retarget", res["q"], res["error"]), ("plain_ik", res["q_plain"], res["error_plain"])):
        reach = err < reach_tol
        out[f"{tag}_ee_error_mm_mean"] = float(err.mean() * 1e3)
        out[f"{tag}_ee_error_mm_max"] = float(err.max() * 1e3)
        out[f"{tag}_reached_fraction"] = float(reach.mean())
        dev = np.rad2deg(np.abs(_wrap(q[:, idx] - res["q_map"][:, idx])))
        out[f"{tag}_mapped_joint_deviation_deg_rms"] = float(np.sqrt((dev**2).mean()))
        corrs = [_corr(np.sign(scale[k]) * q[:, idx[k]], res["q_human"][:, hum[k]]) for k in range(len(idx))]
        out[f"{tag}_human_likeness"] = float(np.mean(corrs))
        lim = np.all((q >= robot.lower - 1e-9) & (q <= robot.upper + 1e-9))
        out[f"{tag}_within_limits"] = bool(lim)
    return out
