"""MuJoCo scene of one deformable object (rope or cloth) on a table, with a mocap gripper that pushes and grasps.

The object is a MuJoCo ``flexcomp`` (a 1-D chain for the rope, a 2-D
triangulated sheet for the cloth); its vertices are the particles the PGND
model learns on. The gripper is a mocap body carrying a finger (a vertical capsule of radius
``FINGER_RADIUS`` from 1.5 cm below the gripper centre to 6 cm above it):

- **open**: the finger collides with the object, so moving it pushes (its
  lower end passes below the table top, which a mocap body may, so the
  straight side of the capsule meets a flat object);
- **closed**: the finger stops colliding and every vertex within the grasp
  radius is tied to the gripper by a ``connect`` equality (one per vertex,
  compiled inactive, switched on at the closing instant with the vertex's
  current offset in the gripper frame), so grasped vertices move rigidly with
  the gripper's position and yaw, as a pinch grasp would carry them.

Coordinates are MuJoCo's: z up, the table top is the plane z = 0, metres.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import sim.gl_backend  # noqa: F401  (MUJOCO_GL must be chosen before mujoco is imported)

# isort: split
import mujoco
import numpy as np

from dynamics_stack.camera import PinholeCamera

_log = logging.getLogger(__name__)
# MuJoCo's default warning handler appends to MUJOCO_LOG.TXT in the working directory; an unstable
# episode is detected through the warning counters below and redrawn, so a debug log line suffices.
mujoco.set_mju_user_warning(lambda msg: _log.debug("mujoco: %s", msg))

CATEGORIES = ("rope", "cloth")
TIMESTEP = 0.002  # s; flex contacts of the stiff rope are stable at 2 ms (measured: 5 ms lets the chain jitter)
FINGER_RADIUS = 0.012  # m, radius of the finger capsule that pushes
GRASP_RADIUS = 0.02  # m, vertices closer than this to the gripper centre are grasped when it closes


@dataclass(frozen=True, kw_only=True)
class ObjectParams:
    """Physical parameters of one object instance (drawn per episode)."""

    mass: float
    """Total mass of the object (kg)."""
    damping: float
    """Edge damping of the flex (N s/m): how fast internal motion dies out."""
    friction: float
    """Sliding friction coefficient against the table and the gripper."""
    stiffness: float
    """Young's modulus of the cloth sheet (Pa); unused (0) for the inextensible rope."""

    def as_array(self) -> np.ndarray:
        return np.array([self.mass, self.damping, self.friction, self.stiffness], np.float32)


PARAM_NAMES = ("mass", "damping", "friction", "stiffness")

# Sizes of each category: vertex grid and spacing (m). The rope is 0.39 m long, the cloth 0.285 m square.
SHAPES = {
    "rope": {"count": (40, 1, 1), "spacing": 0.01, "radius": 0.005, "dim": 1},
    "cloth": {"count": (20, 20, 1), "spacing": 0.015, "radius": 0.004, "dim": 2},
}


def sample_params(category: str, rng: np.random.Generator) -> ObjectParams:
    """Random physical parameters of a ``category`` object; ranges chosen to give visibly different motions."""
    if category not in SHAPES:
        raise ValueError(f"unknown object category {category!r}; known: {', '.join(CATEGORIES)}")
    # above ~5e3 Pa the 2 ms step of the 1.5 cm mesh goes unstable (measured)
    stiffness = 0.0 if category == "rope" else float(10 ** rng.uniform(2.7, 3.4))
    return ObjectParams(
        mass=float(rng.uniform(0.03, 0.1)),
        damping=float(10 ** rng.uniform(-3, -1.5)),
        friction=float(rng.uniform(0.4, 1.0)),
        stiffness=stiffness,
    )


def num_particles(category: str) -> int:
    """Vertices (particles) of a ``category`` object."""
    return int(np.prod(SHAPES[category]["count"]))


def scene_xml(category: str, params: ObjectParams) -> str:
    """MJCF of the table, the gripper and one object with ``params`` (object centred at the origin)."""
    shape = SHAPES[category]
    n = num_particles(category)
    count = " ".join(str(c) for c in shape["count"])
    sp = shape["spacing"]
    contact = f'<contact condim="3" solref="0.01 1" selfcollide="none" friction="{params.friction:.4f}"/>'
    if category == "rope":
        # 1-D flex: inextensible edges (equality), bending comes from the vertex spheres' contacts only.
        body = f'<edge equality="true" damping="{params.damping:.5f}"/>'
    else:
        body = (
            f'<edge damping="{params.damping:.5f}"/>'
            f'<elasticity young="{params.stiffness:.1f}" poisson="0" thickness="0.002" elastic2d="both"/>'
        )
    connects = "".join(
        f'<connect body1="gripper" body2="obj_{i}" anchor="0 0 0" active="false" solref="0.01 1"/>' for i in range(n)
    )
    return f"""<mujoco model="pgnd_{category}">
  <option timestep="{TIMESTEP}" solver="CG" iterations="30" tolerance="1e-6"/>
  <worldbody>
    <geom name="table" type="plane" size="1 1 0.01" friction="{params.friction:.4f}"/>
    <body name="gripper" mocap="true" pos="0 0 0.3">
      <geom name="finger" type="capsule" fromto="0 0 -0.015 0 0 0.06" size="{FINGER_RADIUS}" friction="{params.friction:.4f}"
            priority="1" solref="0.004 1" solimp="0.95 0.99 0.001"/>
    </body>
    <flexcomp name="obj" type="grid" count="{count}" spacing="{sp} {sp} {sp}" pos="0 0 {shape["radius"] + 0.001}"
              radius="{shape["radius"]}" dim="{shape["dim"]}" mass="{params.mass:.4f}">
      {body}
      {contact}
    </flexcomp>
  </worldbody>
  <equality>{connects}</equality>
</mujoco>"""


def yaw_quat(yaw: float) -> np.ndarray:
    """Quaternion (w, x, y, z) of a rotation by ``yaw`` about z."""
    return np.array([np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2)])


class DeformableScene:
    """One compiled scene: set the gripper pose, open/close it, step the physics, read the particles."""

    def __init__(self, category: str, params: ObjectParams, cameras: Sequence[PinholeCamera] = ()) -> None:
        from sim.deformable_cameras import add_cameras, add_visuals

        self.category, self.params = category, params
        spec = mujoco.MjSpec.from_string(scene_xml(category, params))
        add_visuals(spec, category)  # appearance only: the physics is unchanged
        add_cameras(spec, cameras)
        self.model = spec.compile()
        self.cameras = list(cameras)
        self.data = mujoco.MjData(self.model)
        self.n = num_particles(category)
        self.finger = self.model.geom("finger").id
        # Vertex i of the flex is body obj_i with three slide joints; its qpos address lets us pre-shape it.
        self.vert_qpos = np.array(
            [self.model.jnt_qposadr[self.model.body_jntadr[self.model.body(f"obj_{i}").id]] for i in range(self.n)]
        )
        self.closed = False
        mujoco.mj_forward(self.model, self.data)

    @property
    def particles(self) -> np.ndarray:  # -> [N, 3]
        """Current vertex positions (m)."""
        return self.data.flexvert_xpos.copy()

    def displace(self, offsets: np.ndarray) -> None:
        """Move every vertex by ``offsets`` [N, 3] from its rest position (initial shapes)."""
        for k in range(3):
            self.data.qpos[self.vert_qpos + k] = offsets[:, k]
        self.data.qvel[:] = 0.0
        mujoco.mj_forward(self.model, self.data)

    def set_gripper(self, pos: np.ndarray, yaw: float) -> None:
        self.data.mocap_pos[0] = pos
        self.data.mocap_quat[0] = yaw_quat(yaw)

    def close(self) -> np.ndarray:
        """Grasp: tie every vertex within ``GRASP_RADIUS`` to the gripper; returns their indices."""
        g = self.data.mocap_pos[0].copy()
        c, s = np.cos(-self._yaw()), np.sin(-self._yaw())
        p = self.particles
        grasped = np.nonzero(np.linalg.norm(p - g, axis=1) < GRASP_RADIUS)[0]
        for i in grasped:
            d = p[i] - g
            # the anchor lives in the gripper frame, so rotate the world offset by -yaw
            self.model.eq_data[i, 0:3] = (c * d[0] - s * d[1], s * d[0] + c * d[1], d[2])
            self.model.eq_data[i, 3:6] = 0.0
            self.data.eq_active[i] = 1
        self.set_contact(False)  # the finger would fight the equality constraints of the vertices it holds
        self.closed = True
        return grasped

    def open(self) -> None:
        """Release every grasped vertex and let the finger collide again."""
        self.data.eq_active[:] = 0
        self.set_contact(True)
        self.closed = False

    def set_contact(self, on: bool) -> None:
        """Let the finger collide with the object (pushing) or pass through it."""
        self.model.geom_contype[self.finger] = int(on)
        self.model.geom_conaffinity[self.finger] = int(on)

    def _yaw(self) -> float:
        w, _, _, z = self.data.mocap_quat[0]
        return float(2 * np.arctan2(z, w))

    def step(self, n: int = 1) -> None:
        for _ in range(n):
            mujoco.mj_step(self.model, self.data)

    def finite(self) -> bool:
        """False once the physics has gone unstable, even though MuJoCo then resets the state to finite values."""
        bad = self.data.warning[int(mujoco.mjtWarning.mjWARN_BADQACC)].number
        return bool(bad == 0 and np.isfinite(self.data.qpos).all() and np.isfinite(self.data.qvel).all())
