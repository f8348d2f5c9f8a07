"""Generator of human demonstrations of the sorting task, seen by an RGB-D camera as COCO-17 keypoints.

Each demonstration: a person (stature, elbow swivel, speed drawn per person)
performs the task with minimum-jerk reaches (Flash & Hogan 1985) between
waypoints (onion, inspection pose, destination, rest) whose durations grow
with distance (Fitts-like); the elbow follows from the wrist and the person's
swivel; the rest of the body stands with a slight sway. The true 3D keypoints
pass through :func:`visual_irl.camera.observe` (pixel and depth noise,
dropouts, deprojection). The true task score comes from the true trajectory
(``visual_irl.task.outcome``), never from the quality label.

Qualities: ``good`` (correct, brisk), ``suboptimal`` (correct but slow,
hesitant, detouring or fumbling the grasp), ``failed`` (wrong destination,
dropped onion, or missed grasp).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from visual_irl import human_arm
from visual_irl.camera import CameraCfg, look_at, observe, world_to_camera
from visual_irl.keypoints import KP, KeypointDemo
from visual_irl.task import SortingTaskCfg, outcome, simulate_onion

FPS = 30.0  # camera frame rate
QUALITIES = ("good", "suboptimal", "failed")


@dataclass(frozen=True, kw_only=True)
class DemoGenCfg:
    """What to generate and how it is seen."""

    task: SortingTaskCfg = dataclasses.field(default_factory=SortingTaskCfg)
    """Task geometry and horizon."""
    camera: CameraCfg = dataclasses.field(default_factory=CameraCfg)
    """Camera intrinsics and noise."""
    camera_distance: float = 1.9
    """Nominal distance of the camera in front of the person (m)."""
    tremor: float = 0.002
    """Std of the wrist's physiological tremor (m)."""


def min_jerk(s: np.ndarray) -> np.ndarray:
    """Minimum-jerk position profile 10 s^3 - 15 s^4 + 6 s^5 on s in [0, 1]."""
    return 10 * s**3 - 15 * s**4 + 6 * s**5


def sample_person(rng: np.random.Generator) -> human_arm.Person:
    return human_arm.Person(
        stature=float(rng.uniform(1.60, 1.90)),
        swivel=float(np.deg2rad(rng.normal(0.0, 10.0))),
        speed=float(rng.uniform(0.85, 1.2)),
    )


def _plan(
    cfg: SortingTaskCfg, person: human_arm.Person, onion0: np.ndarray, blemished: bool, quality: str, rng
) -> tuple[list, str]:
    """Waypoints [(wrist target, move seconds, dwell seconds, lift m, grip after)] and the variant name."""
    speed = person.speed
    variant = "brisk"
    dest = np.asarray(cfg.bin_center if blemished else cfg.conveyor_center)
    wrong = np.asarray(cfg.conveyor_center if blemished else cfg.bin_center)
    dest = dest + rng.uniform(-0.03, 0.03, 3)
    inspect = np.asarray(cfg.inspect) + rng.normal(0, 0.015, 3)
    rest = np.asarray(cfg.rest) + rng.normal(0, 0.015, 3)
    dwell_grasp, dwell_inspect = rng.uniform(0.2, 0.35), rng.uniform(0.4, 0.7)
    hesitate = 0.0
    steps = None
    if quality == "suboptimal":
        variant = str(rng.choice(["slow", "hesitant", "detour", "fumble"]))
        if variant == "slow":
            speed *= rng.uniform(0.45, 0.65)
        elif variant == "hesitant":
            hesitate = rng.uniform(0.8, 1.6)
            dwell_inspect += rng.uniform(0.6, 1.2)
        elif variant == "detour":
            speed *= rng.uniform(0.75, 0.9)
            side = np.array([rng.uniform(0.0, 0.1), rng.uniform(-0.1, 0.1), rng.uniform(0.05, 0.12)])
            steps = [
                (onion0, 0, dwell_grasp, 0.03, True),
                (inspect, 0, dwell_inspect, 0.02, True),
                (0.5 * (inspect + dest) + side, 0, 0.3, 0.0, True),
                (dest, 0, 0.2, 0.0, False),
                (rest, 0, 0.0, 0.0, False),
            ]
        else:  # fumble: miss the onion first, then correct
            miss = onion0 + np.array([rng.uniform(0.06, 0.09), rng.choice([-1, 1]) * 0.06, 0.05])
            steps = [
                (miss, 0, 0.4, 0.03, True),
                (onion0, 0, dwell_grasp, 0.0, True),
                (inspect, 0, dwell_inspect, 0.02, True),
                (dest, 0, 0.2, 0.04, False),
                (rest, 0, 0.0, 0.0, False),
            ]
    elif quality == "failed":
        variant = str(rng.choice(["wrong_destination", "drop", "miss"]))
        if variant == "wrong_destination":
            dest = wrong + rng.uniform(-0.03, 0.03, 3)
        elif variant == "drop":
            steps = [
                (onion0, 0, dwell_grasp, 0.03, True),
                (0.5 * (onion0 + inspect), 0, 0.5, 0.0, False),  # the onion slips out half way up
                (rest, 0, 0.6, 0.0, False),
            ]
        else:  # miss: the hand stops short, twice, and gives up
            off = np.array([0.0, 0.0, rng.uniform(0.08, 0.12)])
            steps = [
                (onion0 + off, 0, 0.5, 0.03, True),
                (onion0 + off + np.array([0.04, 0.0, 0.0]), 0, 0.6, 0.0, True),
                (rest, 0, 0.0, 0.0, False),
            ]
    if steps is None:
        steps = [
            (onion0, 0, dwell_grasp, 0.03, True),
            (inspect, 0, dwell_inspect, 0.02, True),
            (dest, 0, 0.2, 0.04, False),
            (rest, 0, 0.0, 0.0, False),
        ]
    plan = []
    for i, (target, _, dwell, lift, grip) in enumerate(steps):
        plan.append((np.asarray(target, dtype=np.float64), dwell, lift, grip, speed, hesitate if i == 0 else 0.0))
    return plan, variant


def wrist_path(
    cfg: SortingTaskCfg, start: np.ndarray, plan: list, n_frames: int, rng, tremor: float
) -> tuple[np.ndarray, np.ndarray]:
    """Wrist [F, 3] (torso frame) and grip intent [F] at ``FPS`` from a waypoint plan."""
    t = np.arange(n_frames) / FPS
    wrist = np.empty((n_frames, 3))
    grip = np.ones(n_frames, dtype=bool)
    pos, clock, holding = start.astype(np.float64), 0.0, True
    wrist[:] = start
    for target, dwell, lift, grip_after, speed, hesitate in plan:
        clock += hesitate
        dist = float(np.linalg.norm(target - pos))
        move = (0.45 + 0.9 * dist) / speed  # seconds: a Fitts-like duration for the reach
        seg = (t >= clock) & (t < clock + move)
        s = (t[seg] - clock) / move
        shape = min_jerk(s)[:, None]
        wrist[seg] = pos + (target - pos) * shape + np.array([0, 0, lift]) * np.sin(np.pi * s)[:, None]
        grip[seg] = holding
        clock += move
        hold = (t >= clock) & (t < clock + dwell)
        wrist[hold] = target
        grip[hold] = holding
        after = t >= clock + dwell * 0.5
        holding = grip_after
        grip[after] = holding
        clock += dwell
        wrist[t >= clock] = target
        pos = target
    # physiological tremor, smoothed so it is a wobble and not white noise
    noise = rng.normal(0.0, tremor, (n_frames, 3))
    kernel = np.ones(5) / 5
    noise = np.stack([np.convolve(noise[:, i], kernel, mode="same") for i in range(3)], 1) * np.sqrt(5)
    return wrist + noise, grip


def body_points(person: human_arm.Person, elbow: np.ndarray, wrist: np.ndarray, rng) -> np.ndarray:
    """COCO-17 points [F, 17, 3] in the torso frame for a right-arm motion."""
    F, H = len(wrist), person.stature
    pts = np.zeros((F, 17, 3))
    sw, hw = human_arm.SHOULDER_WIDTH_FRAC * H / 2, human_arm.HIP_WIDTH_FRAC * H / 2
    hip_z = -(human_arm.SHOULDER_HEIGHT_FRAC - human_arm.HIP_HEIGHT_FRAC) * H
    head = np.array([0.06, 0.0, 0.13 * H])
    pts[:, KP["nose"]] = head + np.array([0.05, 0, 0])
    pts[:, KP["left_eye"]] = head + np.array([0.04, 0.03, 0.02])
    pts[:, KP["right_eye"]] = head + np.array([0.04, -0.03, 0.02])
    pts[:, KP["left_ear"]] = head + np.array([-0.02, 0.075, 0.0])
    pts[:, KP["right_ear"]] = head + np.array([-0.02, -0.075, 0.0])
    pts[:, KP["left_shoulder"]] = [0, sw, 0]
    pts[:, KP["right_shoulder"]] = [0, -sw, 0]
    # left arm at rest, slightly bent
    pts[:, KP["left_elbow"]] = [0.02, sw + 0.03, -person.upper_arm]
    pts[:, KP["left_wrist"]] = [0.15, sw + 0.02, -person.upper_arm - 0.8 * person.forearm]
    pts[:, KP["right_elbow"]] = elbow
    pts[:, KP["right_wrist"]] = wrist
    for side, y in (("left", hw), ("right", -hw)):
        pts[:, KP[f"{side}_hip"]] = [0, y, hip_z]
        pts[:, KP[f"{side}_knee"]] = [0.02, y, hip_z - 0.245 * H]
        pts[:, KP[f"{side}_ankle"]] = [0.0, y, hip_z - 0.49 * H]
    return pts


def generate_demo(cfg: DemoGenCfg, quality: str, seed: int, person: human_arm.Person | None = None) -> KeypointDemo:
    """One demonstration of ``quality`` (good | suboptimal | failed), reproducible from ``seed``."""
    if quality not in QUALITIES:
        raise ValueError(f"quality must be one of {QUALITIES}, got {quality!r}")
    rng = np.random.default_rng(seed)
    task = cfg.task
    person = person or sample_person(rng)
    n_frames = round(task.horizon * task.dt * FPS)
    blemished = bool(rng.random() < 0.5)
    onion0 = rng.uniform(task.onion_low, task.onion_high)
    start = np.asarray(task.rest) + rng.normal(0, 0.015, 3)
    plan, variant = _plan(task, person, onion0, blemished, quality, rng)
    wrist, grip = wrist_path(task, start, plan, n_frames, rng, cfg.tremor)
    shoulder = person.right_shoulder
    # a person's swivel drifts a little within a trial
    swivel = person.swivel + 0.05 * np.sin(np.linspace(0, rng.uniform(1, 3), n_frames))[:, None]
    elbow = human_arm.place_elbow(shoulder, wrist, person.upper_arm, person.forearm, swivel)
    # if the wrist target was beyond reach, the wrist is where the arm ends
    _, wrist = human_arm.forward(human_arm.inverse(shoulder, elbow, wrist), shoulder, person.upper_arm, person.forearm)
    onion, held = simulate_onion(task, wrist[:: int(FPS * task.dt)], onion0, grip[:: int(FPS * task.dt)])
    result = outcome(task, onion, held, blemished)
    onion_full = np.repeat(onion, int(FPS * task.dt), axis=0)[:n_frames]

    # torso pose in the world: standing at the table with a slight sway and a per-trial stance
    yaw = rng.normal(0, np.deg2rad(4))
    sway = 0.008 * np.sin(2 * np.pi * rng.uniform(0.15, 0.3) * np.arange(n_frames) / FPS + rng.uniform(0, 6.3))
    origin = np.stack([sway, 0.5 * sway, np.full(n_frames, human_arm.SHOULDER_HEIGHT_FRAC * person.stature)], 1)
    c, s = np.cos(yaw), np.sin(yaw)
    R = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    body = body_points(person, elbow, wrist, rng) @ R.T + origin[:, None, :]
    onion_world = onion_full @ R.T + origin
    eye = np.array([cfg.camera_distance + rng.normal(0, 0.1), rng.normal(-0.1, 0.15), 1.55 + rng.normal(0, 0.05)])
    T_wc = look_at(eye, np.array([0.0, -0.1, 1.15]))
    kp_cam = world_to_camera(T_wc, body)
    visible = np.ones(kp_cam.shape[:2], dtype=bool)
    visible[:, [KP["left_knee"], KP["right_knee"], KP["left_ankle"], KP["right_ankle"]]] = False  # behind the table
    keypoints, conf = observe(cfg.camera, kp_cam, rng, visible)
    obj = world_to_camera(T_wc, onion_world) + rng.normal(0, 0.005, (n_frames, 3))
    obj[rng.random(n_frames) < 0.02] = np.nan
    meta = {
        "quality": quality,
        "variant": variant,
        "score": result.score,
        "picked": result.picked,
        "inspected": result.inspected,
        "placed": result.placed,
        "correct": result.correct,
        "t_place": result.t_place,
        "blemished": blemished,
        "seed": seed,
        "person": dataclasses.asdict(person),
        "camera_pose": T_wc.tolist(),
    }
    label = "onion_blemished" if blemished else "onion_good"
    return KeypointDemo(
        t=np.arange(n_frames) / FPS,
        keypoints=keypoints,
        confidence=conf,
        objects=obj[:, None, :],
        labels=(label,),
        meta=meta,
    )


def generate_set(
    cfg: DemoGenCfg, counts: dict[str, int], seed: int, people: int = 8, progress: bool = False
) -> list[KeypointDemo]:
    """``counts`` demos per quality by ``people`` different persons (person i does every people-th demo)."""
    from tqdm import tqdm

    rng = np.random.default_rng(seed)
    persons = [sample_person(rng) for _ in range(people)]
    jobs = [(q, i) for q in QUALITIES for i in range(counts.get(q, 0))]
    demos = []
    for k, (quality, _) in enumerate(tqdm(jobs, desc="demos", disable=not progress)):
        person = persons[k % people]
        # a person varies a little from trial to trial
        person = dataclasses.replace(person, speed=person.speed * float(rng.uniform(0.92, 1.08)))
        demos.append(generate_demo(cfg, quality, seed=int(rng.integers(2**31)), person=person))
        demos[-1].meta["person_id"] = int(k % people)
    return demos
