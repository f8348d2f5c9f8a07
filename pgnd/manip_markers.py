"""What the manipulation planner node shows in rviz: the planned action, the predicted object, the target.

One MarkerArray per plan in the table frame: the gripper path (line strip,
orange), the grasp point (sphere), the predicted settled object (points,
green), the target (points, blue) and a few sampled final clouds of the last
MPPI iteration (points, grey). The predicted object also goes out as a
PointCloud2 for tools that read clouds.
"""

from __future__ import annotations

import numpy as np
from geometry_msgs.msg import Point
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker, MarkerArray

from pgnd.planner import ManipPlan


def _points(points: np.ndarray) -> list[Point]:
    return [Point(x=float(p[0]), y=float(p[1]), z=float(p[2])) for p in points]


def _marker(header: Header, ns: str, i: int, kind: int, scale: float, color: ColorRGBA) -> Marker:
    m = Marker(header=header, ns=ns, id=i, type=kind, action=Marker.ADD)
    m.scale.x = m.scale.y = m.scale.z = scale
    m.pose.orientation.w = 1.0
    m.color = color
    return m


def plan_markers(plan: ManipPlan, target: np.ndarray, header: Header, samples: int) -> MarkerArray:
    """Markers of one plan (see the module docstring)."""
    out = MarkerArray()
    path = _marker(header, "gripper_path", 0, Marker.LINE_STRIP, 0.004, ColorRGBA(r=1.0, g=0.5, b=0.0, a=1.0))
    path.points = _points(np.concatenate((plan.grasp[None], plan.path)))
    grasp = _marker(header, "grasp", 0, Marker.SPHERE, 0.02, ColorRGBA(r=1.0, g=0.5, b=0.0, a=0.8))
    grasp.pose.position = _points(plan.grasp[None])[0]
    out.markers += [path, grasp]
    if len(plan.predicted):
        pred = _marker(header, "predicted", 0, Marker.POINTS, 0.006, ColorRGBA(r=0.1, g=0.8, b=0.2, a=1.0))
        pred.points = _points(plan.predicted[-1])
        out.markers.append(pred)
    tgt = _marker(header, "target", 0, Marker.POINTS, 0.006, ColorRGBA(r=0.2, g=0.4, b=1.0, a=0.8))
    tgt.points = _points(target)
    out.markers.append(tgt)
    if plan.samples_final is not None and samples > 0:
        pick = np.linspace(0, len(plan.samples_final) - 1, min(samples, len(plan.samples_final))).round().astype(int)
        for j, k in enumerate(pick):
            m = _marker(header, "samples", j, Marker.POINTS, 0.003, ColorRGBA(r=0.6, g=0.6, b=0.6, a=0.4))
            m.points = _points(plan.samples_final[k])
            out.markers.append(m)
    return out
