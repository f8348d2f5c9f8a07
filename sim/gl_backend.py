"""Pick MuJoCo's OpenGL backend before ``mujoco`` is imported: OSMesa on a machine without a display.

MuJoCo reads ``MUJOCO_GL`` once, when it is imported, and its default (GLFW)
needs an X display. On a headless machine (CI, a robot's compute box over
SSH) offscreen rendering works with Debian's ``libosmesa6`` and
``MUJOCO_GL=osmesa`` (``make`` installs the package when run as root). A value
the user set is kept, so ``MUJOCO_GL=egl`` selects a GPU where one exists.
"""

from __future__ import annotations

import os


def ensure_gl_backend() -> str:
    """Set ``MUJOCO_GL=osmesa`` unless it is set or a display exists; returns the backend in use."""
    if "MUJOCO_GL" not in os.environ and not os.environ.get("DISPLAY"):
        os.environ["MUJOCO_GL"] = "osmesa"
        os.environ.setdefault("PYOPENGL_PLATFORM", "osmesa")
    return os.environ.get("MUJOCO_GL", "glfw")


ensure_gl_backend()
