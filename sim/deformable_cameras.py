"""RGB-D cameras in the deformable-object scene: a calibrated rig around the table, MuJoCo offscreen rendering.

``default_rig`` places ``cameras`` calibrated pinhole cameras on a circle
around the table, looking down at its centre (the anchor films with four
RGB-D cameras; PhysTwin with three). ``add_cameras`` puts them into a scene as
MuJoCo fixed cameras, and ``RgbdRenderer`` renders, per camera and frame,
RGB (uint8), metric depth along the optical axis (float32, metres) and a
label image (0 background, 1 object, 2 gripper) from MuJoCo's segmentation
buffer.

``add_visuals`` gives the objects the appearance a real rope or cloth has
and a tracker needs: a braided rope whose beads come in a fixed sequence of
colours, and a printed cloth (a smooth random pattern). Visual geoms and
materials do not take part in the physics (no contact, no mass), so the
simulated vertices are bit-identical with and without them (a test holds it).

Rendering needs an OpenGL context: on a machine without a display or GPU,
Debian's ``libosmesa6`` with ``MUJOCO_GL=osmesa`` (``sim.gl_backend``, imported
before mujoco, picks it when nothing is set and no display exists). Shadows are turned off: with them MuJoCo's
software rendering is ~10x slower and a depth camera sees no shadows anyway.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

import sim.gl_backend  # noqa: F401  (before mujoco is imported anywhere)
from dynamics_stack.camera import PinholeCamera, look_at

LABEL_BACKGROUND, LABEL_OBJECT, LABEL_GRIPPER = 0, 1, 2
DEPTH_UNIT = 1e-4  # m per count of the uint16 depth stored in shards: 0.1 mm, up to 6.55 m
ROPE_PALETTE = ((0.85, 0.2, 0.15), (0.95, 0.8, 0.2), (0.9, 0.9, 0.85), (0.2, 0.35, 0.8))  # braid colours
TEXTURE_SEED = 7  # the printed pattern is part of the object, the same in every episode


@dataclass(frozen=True, kw_only=True)
class RigCfg:
    """A ring of identical cameras around the table, as a user would mount them over a manipulation cell."""

    cameras: int = 4
    """Number of cameras (anchor: 4), evenly spaced in azimuth."""
    width: int = 320
    """Image width (px)."""
    height: int = 240
    """Image height (px)."""
    fovy: float = 45.0
    """Vertical field of view (deg)."""
    distance: float = 0.7
    """Distance from each camera to the point it looks at (m)."""
    elevation: float = 50.0
    """Camera elevation above the table plane (deg)."""
    azimuth: float = 45.0
    """Azimuth of the first camera (deg, from the x axis); the others follow every 360/cameras deg."""
    target_height: float = 0.03
    """Height above the table of the point the cameras look at (m)."""

    def __post_init__(self) -> None:
        if not 1 <= self.cameras <= 16:
            raise ValueError(f"cameras must be in 1..16, got {self.cameras}")
        if not (16 <= self.width <= 4096 and 16 <= self.height <= 4096):
            raise ValueError(f"image size must be in 16..4096 px, got {self.width}x{self.height}")
        if not 5.0 <= self.fovy <= 150.0:
            raise ValueError(f"fovy must be in [5, 150] deg, got {self.fovy}")
        if self.distance <= 0.05 or not 5.0 <= self.elevation <= 89.0:
            raise ValueError(
                f"distance must be > 0.05 m and elevation in [5, 89] deg, got {self.distance}, {self.elevation}"
            )


@dataclass(frozen=True, kw_only=True)
class RenderCfg:
    """What the simulated RGB-D cameras deliver: rig geometry, anti-aliasing and sensor noise."""

    rig: RigCfg = field(default_factory=RigCfg)
    """Camera placement and intrinsics."""
    antialias: int = 0
    """MuJoCo offscreen multisampling (0 = off). 4 samples double the software render time (measured)."""
    depth_noise: float = 0.001
    """Standard deviation (m) of the depth noise at 1 m; it grows with depth squared, as a stereo or
    structured-light sensor's does (about 0.5 mm at 0.7 m). 0 = exact depth."""
    color_noise: float = 2.0
    """Standard deviation of per-pixel colour noise (counts of 255). 0 = none."""

    def __post_init__(self) -> None:
        if self.antialias not in (0, 1, 2, 4, 8):
            raise ValueError(f"antialias must be 0, 1, 2, 4 or 8 samples, got {self.antialias}")
        if not (0.0 <= self.depth_noise <= 0.05 and 0.0 <= self.color_noise <= 50.0):
            raise ValueError(
                f"depth_noise must be in [0, 0.05] m and color_noise in [0, 50], got {self.depth_noise}, {self.color_noise}"
            )


def default_rig(cfg: RigCfg | None = None) -> list[PinholeCamera]:
    """The cameras of ``cfg``; intrinsics as MuJoCo renders them (square pixels, centred principal point)."""
    cfg = cfg or RigCfg()
    f = (cfg.height / 2) / math.tan(math.radians(cfg.fovy) / 2)
    target = np.array([0.0, 0.0, cfg.target_height])
    el = math.radians(cfg.elevation)
    cams = []
    for i in range(cfg.cameras):
        az = math.radians(cfg.azimuth + 360.0 * i / cfg.cameras)
        offset = cfg.distance * np.array([math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el)])
        T = look_at(target + offset, target)
        cams.append(
            PinholeCamera(
                name=f"camera{i}",
                width=cfg.width,
                height=cfg.height,
                fx=f,
                fy=f,
                # OpenGL samples pixel i at i + 0.5 of a [0, W] image plane: the axis hits (W - 1) / 2
                cx=(cfg.width - 1) / 2,
                cy=(cfg.height - 1) / 2,
                T_world_camera=tuple(tuple(float(x) for x in row) for row in T),
            )
        )
    return cams


def mujoco_fovy(cam: PinholeCamera) -> float:
    """MuJoCo's vertical field of view (deg) for ``cam``; refuses what a MuJoCo camera cannot render."""
    if (
        abs(cam.fx - cam.fy) > 1e-6 * cam.fx
        or abs(cam.cx - (cam.width - 1) / 2) > 1e-6
        or abs(cam.cy - (cam.height - 1) / 2) > 1e-6
    ):
        raise ValueError(
            f"camera {cam.name!r}: the simulator renders square pixels with a centred principal point only "
            f"(fx {cam.fx}, fy {cam.fy}, cx {cam.cx}, cy {cam.cy})"
        )
    return math.degrees(2 * math.atan((cam.height / 2) / cam.fy))


def add_cameras(spec, cameras: Sequence[PinholeCamera]) -> None:  # spec: mujoco.MjSpec
    """Add ``cameras`` as fixed MuJoCo cameras (looking along -z, y up: OpenCV's y and z flipped)."""
    for cam in cameras:
        R = cam.pose[:3, :3]
        mj = spec.worldbody.add_camera()
        mj.name = cam.name
        mj.pos = cam.pose[:3, 3]
        mj.alt.type = _orientation_xyaxes()
        mj.alt.xyaxes = np.concatenate((R[:, 0], -R[:, 1]))
        mj.fovy = mujoco_fovy(cam)


def _orientation_xyaxes():
    import mujoco

    return mujoco.mjtOrientation.mjORIENTATION_XYAXES


def _fabric_texture(size: int = 64) -> np.ndarray:  # -> [size, size, 3] uint8
    """A smooth random print in three colours plus fine speckle: what a tracker can follow."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(TEXTURE_SEED)
    fields = [gaussian_filter(rng.standard_normal((size, size)), sigma=2.5, mode="wrap") for _ in range(2)]
    a, b = ((f - f.mean()) / f.std() for f in fields)
    base = np.array([0.2, 0.35, 0.75])
    img = base + 0.25 * a[..., None] * np.array([1.0, 0.3, -0.6]) + 0.2 * b[..., None] * np.array([-0.2, 0.8, 0.1])
    img += 0.08 * rng.standard_normal((size, size, 1))
    return (np.clip(img, 0.0, 1.0) * 255).astype(np.uint8)


def add_visuals(spec, category: str) -> None:
    """Rope: coloured beads on the vertices; cloth: a printed texture. No contact, no mass."""
    import mujoco

    from sim.deformable_scene import SHAPES

    vertex_radius = SHAPES[category]["radius"]

    if category == "rope":
        rng = np.random.default_rng(TEXTURE_SEED)
        i = 0
        while (body := spec.body(f"obj_{i}")) is not None:
            g = body.add_geom()
            g.type = mujoco.mjtGeom.mjGEOM_SPHERE
            g.size = [vertex_radius * 1.1, 0, 0]
            g.rgba = [*ROPE_PALETTE[int(rng.integers(len(ROPE_PALETTE)))], 1.0]
            g.contype, g.conaffinity, g.density, g.mass = 0, 0, 0.0, 0.0
            g.group = 1  # MuJoCo draws groups 0-2 by default
            g.name = f"bead_{i}"
            i += 1
    else:
        tex = spec.add_texture()
        tex.name, tex.type = "print", mujoco.mjtTexture.mjTEXTURE_2D
        img = _fabric_texture()
        tex.width, tex.height, tex.nchannel = img.shape[1], img.shape[0], 3
        tex.data = img.tobytes()
        mat = spec.add_material()
        mat.name = "print"
        roles = mat.textures  # a copy: written back whole
        roles[int(mujoco.mjtTextureRole.mjTEXROLE_RGB)] = "print"
        mat.textures = roles
        mat.texrepeat = [1, 1]
        flex = spec.flex("obj")
        flex.material = "print"
        # texture coordinates of the grid's vertices (flexcomp makes them only for a material set in XML)
        nx, ny, _ = SHAPES[category]["count"]
        i, j = np.meshgrid(np.arange(nx) / (nx - 1), np.arange(ny) / (ny - 1), indexing="ij")
        flex.texcoord = np.stack((i.ravel(), j.ravel()), axis=-1).ravel().tolist()
    # a ceiling light besides the head light, so colours read as they would under a cell's lamps
    light = spec.worldbody.add_light()
    light.pos, light.dir = [0.0, 0.0, 1.5], [0.0, 0.0, -1.0]
    light.diffuse, light.specular, light.castshadow = [0.6, 0.6, 0.6], [0.1, 0.1, 0.1], False


class RgbdRenderer:
    """RGB, metric depth and labels of every camera of a compiled scene (``sim.deformable_scene``)."""

    def __init__(self, model, cameras: Sequence[PinholeCamera], antialias: int = 0) -> None:  # mujoco.MjModel
        import mujoco

        if not cameras:
            raise ValueError("RgbdRenderer needs at least one camera")
        sizes = {(c.width, c.height) for c in cameras}
        if len(sizes) != 1:
            raise ValueError(f"all cameras of a rig must share one image size, got {sorted(sizes)}")
        self.cameras = list(cameras)
        self.width, self.height = sizes.pop()
        self.model = model
        self._cam_ids = []
        for c in self.cameras:
            cid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, c.name)
            if cid < 0:
                raise ValueError(f"camera {c.name!r} is not in the scene (add_cameras first)")
            self._cam_ids.append(cid)
        model.vis.quality.offsamples = antialias
        self._scratch = mujoco.MjData(model)  # rendered state: the simulation's own MjData is never touched
        self.renderer = mujoco.Renderer(model, self.height, self.width)
        self.renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = 0
        self.renderer.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = 0
        self._flex = int(mujoco.mjtObj.mjOBJ_FLEX)
        self._geom = int(mujoco.mjtObj.mjOBJ_GEOM)
        names = [mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_GEOM, g) or "" for g in range(model.ngeom)]
        self._object_geoms = np.array([n.startswith("bead_") for n in names] + [False])
        self._gripper_geoms = np.array([n == "finger" for n in names] + [False])

    def render(self, data) -> dict[str, np.ndarray]:  # data: mujoco.MjData
        """rgb uint8 [C, H, W, 3], depth float32 [C, H, W] (m, 0 = nothing), labels uint8 [C, H, W].

        The state is copied and its kinematics recomputed (so a mocap gripper moved since the last
        physics step is drawn where it is now) in a scratch MjData: rendering never changes the physics.
        """
        import mujoco

        mujoco.mj_copyData(self._scratch, self.model, data)
        mujoco.mj_forward(self.model, self._scratch)
        data = self._scratch
        C, H, W = len(self.cameras), self.height, self.width
        rgb = np.empty((C, H, W, 3), np.uint8)
        depth = np.empty((C, H, W), np.float32)
        labels = np.empty((C, H, W), np.uint8)
        r = self.renderer
        for i, cid in enumerate(self._cam_ids):
            r.update_scene(data, camera=cid)
            rgb[i] = r.render()
        r.enable_depth_rendering()
        for i, cid in enumerate(self._cam_ids):
            r.update_scene(data, camera=cid)
            depth[i] = r.render()
        r.disable_depth_rendering()
        r.enable_segmentation_rendering()
        for i, cid in enumerate(self._cam_ids):
            r.update_scene(data, camera=cid)
            seg = r.render()
            ids, types = seg[..., 0], seg[..., 1]
            geom_id = np.where(types == self._geom, ids, -1)
            obj = (types == self._flex) | self._object_geoms[geom_id]
            grip = self._gripper_geoms[geom_id]
            labels[i] = np.where(obj, LABEL_OBJECT, np.where(grip, LABEL_GRIPPER, LABEL_BACKGROUND))
        r.disable_segmentation_rendering()
        far = self.model.stat.extent * self.model.vis.map.zfar
        depth[(depth >= 0.999 * far) | ~np.isfinite(depth)] = 0.0  # nothing hit: no measurement
        return {"rgb": rgb, "depth": depth, "labels": labels}

    def close(self) -> None:
        self.renderer.close()


def add_sensor_noise(frames: dict[str, np.ndarray], cfg: RenderCfg, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Depth noise growing with depth squared and colour noise, in place of exact renders (valid pixels only)."""
    depth = frames["depth"]
    if cfg.depth_noise > 0:
        valid = depth > 0
        noisy = depth + (cfg.depth_noise * depth**2 * rng.standard_normal(depth.shape)).astype(np.float32)
        frames["depth"] = np.where(valid, noisy, 0.0).astype(np.float32)
    if cfg.color_noise > 0:
        rgb = frames["rgb"].astype(np.float32) + cfg.color_noise * rng.standard_normal(frames["rgb"].shape).astype(
            np.float32
        )
        frames["rgb"] = np.clip(np.round(rgb), 0, 255).astype(np.uint8)
    return frames


def depth_to_uint16(depth: np.ndarray) -> np.ndarray:
    """Metric depth -> uint16 counts of ``DEPTH_UNIT`` (0 = no measurement; beyond range -> 0)."""
    counts = np.round(np.nan_to_num(depth, nan=0.0, posinf=0.0) / DEPTH_UNIT)
    return np.where((counts > 0) & (counts < 65535), counts, 0).astype(np.uint16)


def depth_from_uint16(counts: np.ndarray, unit: float = DEPTH_UNIT) -> np.ndarray:
    return counts.astype(np.float32) * np.float32(unit)
