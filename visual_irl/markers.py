"""What the reward node shows in rviz: the detected keypoints as spheres and the skeleton's bones as lines.

Only points that pass the checks the reward's state uses are drawn (the caller's mask): no NaN, no
low-confidence point, nothing beyond ``max_range_m``.
"""

from __future__ import annotations

import numpy as np
from geometry_msgs.msg import Point
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker, MarkerArray

from visual_irl.keypoints import BONES


def _points(xyz: np.ndarray) -> list[Point]:
    return [Point(x=float(p[0]), y=float(p[1]), z=float(p[2])) for p in xyz]


def skeleton_markers(header: Header, kp: np.ndarray, shown: np.ndarray, scale: float) -> MarkerArray:
    """Spheres at the keypoints [17, 3] marked ``shown`` [17] (``features.points_ok``), lines for bones between two."""
    ok = np.asarray(shown, dtype=bool)
    spheres = Marker(header=header, ns="keypoints", id=0, type=Marker.SPHERE_LIST, action=Marker.ADD)
    spheres.scale.x = spheres.scale.y = spheres.scale.z = scale
    spheres.color = ColorRGBA(r=1.0, g=0.6, b=0.1, a=1.0)
    spheres.pose.orientation.w = 1.0
    spheres.points = _points(kp[ok])
    bones = Marker(header=header, ns="bones", id=1, type=Marker.LINE_LIST, action=Marker.ADD)
    bones.scale.x = scale / 3
    bones.color = ColorRGBA(r=0.2, g=0.8, b=1.0, a=1.0)
    bones.pose.orientation.w = 1.0
    for a, b in BONES:
        if ok[a] and ok[b]:
            bones.points += _points(kp[[a, b]])
    return MarkerArray(markers=[spheres, bones])
