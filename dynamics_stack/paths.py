"""Where the package's own files are: the one rule every node and command uses to find a model card.

A relative path (``models/fdm_anymal_d.card.json``, the nodes' defaults) is
looked up in this order, and the first existing file wins:

1. the working directory (a model of your own next to where you run);
2. the source checkout this code runs from (``make``'s editable install);
3. ``share/dynamics_stack/`` of every prefix on ``AMENT_PREFIX_PATH`` (a colcon
   install puts ``models/`` and ``config/`` there, see setup.py).

If none exists the checkout path is returned, so the error that follows names
a path a reader can check.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE = "dynamics_stack"
PACKAGE_ROOT = Path(__file__).resolve().parents[1]
"""The folder that holds ``dynamics_stack/``, ``models/`` and ``config/`` in a source checkout."""


def resolve_package_file(path: str | Path) -> Path:
    """An absolute or existing path as given; a relative one by the lookup order of the module docstring."""
    path = Path(path)
    if path.is_absolute() or path.exists():
        return path
    candidates = [PACKAGE_ROOT / path]
    for prefix in filter(None, os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep)):
        candidates.append(Path(prefix) / "share" / PACKAGE / path)
    return next((c for c in candidates if c.exists()), candidates[0])
