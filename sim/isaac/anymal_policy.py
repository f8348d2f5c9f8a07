"""Isaac Lab's ANYmal-D rough-terrain velocity policy, seen from outside: its observation, its action, its joints.

What the exported policy (``policy.pt``, TorchScript, written by Isaac Lab's
rsl_rl ``play.py`` for task ``Isaac-Velocity-Rough-Anymal-D-v0``) expects,
transcribed from Isaac Lab's velocity task configuration
(``LocomotionVelocityRoughEnvCfg`` and ``ANYMAL_D_CFG``); checked here only
as arithmetic, never against a running policy:

- observation [235] = base linear velocity (3, body frame), base angular
  velocity (3, body frame), projected gravity (3, body frame), velocity
  command (3: vx, vy, wz), joint positions minus the defaults (12), joint
  velocities (12), the last action (12), height scan (187); no scaling;
  a policy without the scan (flat-terrain task) takes the first 48;
- height scan: a 1.6 m x 1.0 m grid of 0.1 m (17 x 11 rays), centred on
  the base, yaw-aligned, cast down from 20 m above; value = base z - hit z
  - 0.5, clipped to [-1, 1]; order: x fastest, then y (``GridPatternCfg``
  ordering "xy");
- action [12]: joint position targets = default + 0.5 * action;
- policy rate 50 Hz: physics dt 0.005 s, decimation 4.

Numpy only: the runner calls it inside Isaac Sim's Python and tests call it here.
"""

from __future__ import annotations

import numpy as np

# Joint order of the policy: Isaac Lab's articulation order for ANYmal-D (PhysX breadth-first: all hips
# abduction, then flexion, then knees; legs LF, LH, RF, RH). The runner maps Isaac Sim's own order by name.
JOINT_NAMES = (
    "LF_HAA", "LH_HAA", "RF_HAA", "RH_HAA",
    "LF_HFE", "LH_HFE", "RF_HFE", "RH_HFE",
    "LF_KFE", "LH_KFE", "RF_KFE", "RH_KFE",
)  # fmt: skip
NUM_JOINTS = len(JOINT_NAMES)


def _default_joint_pos(name: str) -> float:
    # ANYMAL_D_CFG init_state.joint_pos: ".*HAA": 0.0, ".*F_HFE": 0.4, ".*H_HFE": -0.4, ".*F_KFE": -0.8, ".*H_KFE": 0.8
    leg, joint = name.split("_")
    if joint == "HAA":
        return 0.0
    front = leg[1] == "F"
    return (0.4 if front else -0.4) if joint == "HFE" else (-0.8 if front else 0.8)


DEFAULT_JOINT_POS = np.array([_default_joint_pos(n) for n in JOINT_NAMES])  # [12] rad
ACTION_SCALE = 0.5  # JointPositionActionCfg(scale=0.5, use_default_offset=True)
PHYSICS_DT = 0.005  # s, the task's sim.dt
DECIMATION = 4  # physics steps per policy step
POLICY_DT = PHYSICS_DT * DECIMATION  # 0.02 s: 50 Hz
BASE_HEIGHT = 0.6  # m, ANYMAL_D_CFG init_state.pos z (sim/platforms/anymal_d.yaml base_height)

SCAN_RESOLUTION = 0.1  # m, GridPatternCfg(resolution=0.1, size=[1.6, 1.0])
SCAN_SIZE = (1.6, 1.0)  # m, along the base's x and y
SCAN_OFFSET = 0.5  # m, mdp.height_scan offset
SCAN_CLIP = (-1.0, 1.0)  # the policy observation's clip of the scan
SCAN_X = np.arange(-SCAN_SIZE[0] / 2, SCAN_SIZE[0] / 2 + 1e-9, SCAN_RESOLUTION)  # [17]
SCAN_Y = np.arange(-SCAN_SIZE[1] / 2, SCAN_SIZE[1] / 2 + 1e-9, SCAN_RESOLUTION)  # [11]
SCAN_POINTS = len(SCAN_X) * len(SCAN_Y)  # 187
# Grid in the yaw-aligned base frame, ordering "xy": x runs fastest.
_GRID = np.stack(np.meshgrid(SCAN_X, SCAN_Y, indexing="xy"), axis=-1).reshape(-1, 2)  # [187, 2]
COMMAND_RANGES = ((-1.0, 1.0), (-1.0, 1.0), (-1.0, 1.0))  # vx [m/s], vy [m/s], wz [rad/s] the policy was trained on

PROPRIO_DIM = 3 + 3 + 3 + 3 + 3 * NUM_JOINTS  # 48: everything but the scan
OBS_DIM = PROPRIO_DIM + SCAN_POINTS  # 235


def quat_rotate_inverse(quat_wxyz: np.ndarray, v: np.ndarray) -> np.ndarray:
    """World vector ``v`` [3] in the body frame of orientation ``quat_wxyz`` (w, x, y, z; Isaac's order)."""
    w, x, y, z = (float(c) for c in quat_wxyz)
    n = np.sqrt(w * w + x * x + y * y + z * z)
    if not np.isfinite(n) or n < 1e-9:
        raise ValueError(f"orientation is not a rotation: {quat_wxyz}")
    w, x, y, z = w / n, x / n, y / n, z / n
    r = np.array(  # rotation matrix body -> world; its transpose maps world -> body
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )
    return r.T @ np.asarray(v, dtype=np.float64)


def yaw_of(quat_wxyz: np.ndarray) -> float:
    """Heading (rad) of an orientation (w, x, y, z)."""
    w, x, y, z = (float(c) for c in quat_wxyz)
    return float(np.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z)))


def scan_points_xy(base_xy: np.ndarray, yaw: float) -> np.ndarray:
    """World (x, y) [187, 2] of the policy's height-scan rays (yaw-aligned grid around the base)."""
    c, s = np.cos(yaw), np.sin(yaw)
    rot = np.array([[c, -s], [s, c]])
    return np.asarray(base_xy, dtype=np.float64)[:2] + _GRID @ rot.T


def height_scan(base_z: float, hit_z: np.ndarray) -> np.ndarray:
    """Scan values [187] from the base height and the ray hits (NaN: no hit, read as the lowest value)."""
    value = base_z - np.asarray(hit_z, dtype=np.float64) - SCAN_OFFSET
    # A ray that hits nothing reads +inf in Isaac Lab's ray caster (hit z = -inf), clipped to the top of the range.
    value = np.where(np.isnan(value), SCAN_CLIP[1], value)
    return np.clip(value, *SCAN_CLIP)


def policy_observation(
    *,
    quat_wxyz: np.ndarray,
    lin_vel_world: np.ndarray,
    ang_vel_world: np.ndarray,
    command: np.ndarray,
    joint_pos: np.ndarray,
    joint_vel: np.ndarray,
    last_action: np.ndarray,
    scan: np.ndarray | None,
) -> np.ndarray:
    """The policy's input [235] (or [48] with ``scan`` None), joints in ``JOINT_NAMES`` order."""
    given = {"command": command, "joint_pos": joint_pos, "joint_vel": joint_vel, "last_action": last_action}
    sizes = {"command": 3, "joint_pos": NUM_JOINTS, "joint_vel": NUM_JOINTS, "last_action": NUM_JOINTS}
    arrays = {name: np.asarray(value, dtype=np.float64) for name, value in given.items()}
    for name, array in arrays.items():  # before any arithmetic, so a wrong size is named, not broadcast
        if array.shape != (sizes[name],):
            raise ValueError(f"{name} must have shape ({sizes[name]},), got {array.shape}")
    parts = [
        quat_rotate_inverse(quat_wxyz, lin_vel_world),
        quat_rotate_inverse(quat_wxyz, ang_vel_world),
        quat_rotate_inverse(quat_wxyz, np.array([0.0, 0.0, -1.0])),  # projected gravity
        arrays["command"],
        arrays["joint_pos"] - DEFAULT_JOINT_POS,
        arrays["joint_vel"],  # relative to the default velocity, which is 0
        arrays["last_action"],
    ]
    if scan is not None:
        scan = np.asarray(scan, dtype=np.float64)
        if scan.shape != (SCAN_POINTS,):
            raise ValueError(f"scan must have shape ({SCAN_POINTS},), got {scan.shape}")
        parts.append(scan)
    obs = np.concatenate(parts).astype(np.float32)
    return np.nan_to_num(obs, nan=0.0, posinf=0.0, neginf=0.0)  # a policy fed NaN outputs NaN targets


def joint_targets(action: np.ndarray) -> np.ndarray:
    """Joint position targets [12] (``JOINT_NAMES`` order) of a policy action; a non-finite action holds the defaults."""
    a = np.asarray(action, dtype=np.float64).reshape(-1)
    if a.shape != (NUM_JOINTS,):
        raise ValueError(f"the policy must output {NUM_JOINTS} actions, got {a.shape}")
    if not np.isfinite(a).all():
        return DEFAULT_JOINT_POS.copy()
    return DEFAULT_JOINT_POS + ACTION_SCALE * a


def joint_order(sim_names: list[str] | tuple[str, ...]) -> np.ndarray:
    """Index array p with ``policy_values = sim_values[p]`` (and ``sim_values[p] = policy_values`` back).

    Refuses an articulation that lacks one of the policy's joints, naming it.
    """
    missing = [n for n in JOINT_NAMES if n not in sim_names]
    if missing:
        raise ValueError(f"the robot asset has no joint(s) {missing}; the policy drives {list(JOINT_NAMES)}")
    return np.array([list(sim_names).index(n) for n in JOINT_NAMES])


def policy_input_size(with_scan: bool) -> int:
    """Input size of the rough (with scan, 235) or flat (48) policy."""
    return OBS_DIM if with_scan else PROPRIO_DIM


def takes_scan(forward) -> bool:
    """Whether a policy (``forward(obs [D]) -> action``) is the rough one (235 inputs, True) or the flat one (48).

    Tries both sizes on zeros; refuses a policy that takes neither or does not output 12 actions.
    """
    for size, with_scan in ((OBS_DIM, True), (PROPRIO_DIM, False)):
        try:
            out = np.asarray(forward(np.zeros(size, dtype=np.float32)))
        except RuntimeError:  # torch's shape mismatch
            continue
        if out.reshape(-1).shape != (NUM_JOINTS,):
            raise ValueError(f"the policy outputs shape {out.shape}; expected {NUM_JOINTS} joint actions")
        return with_scan
    raise ValueError(f"the policy takes neither {OBS_DIM} (rough, with height scan) nor {PROPRIO_DIM} (flat) inputs")
