"""sensor_msgs/PointCloud2 <-> numpy, without sensor_msgs_py (not available as a wheel).

Reads any cloud whose requested fields are scalar (count 1) of the standard
PointField datatypes, with arbitrary point_step/row_step padding, organised
(height > 1) or not, little- or big-endian. NaN points are kept unless asked
otherwise: for an elevation map a NaN height means "unknown cell", which the
caller must see.

The reader imports nothing from ROS: it reads any object with PointCloud2's
fields, so the nodes (rclpy messages) and the bag readers (rosbags messages)
share it. The writer builds rclpy messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

# sensor_msgs/PointField datatype constants (INT8 = 1 ... FLOAT64 = 8, fixed by the message definition) -> numpy.
FLOAT32 = 7
_DTYPES = {
    1: np.int8,
    2: np.uint8,
    3: np.int16,
    4: np.uint16,
    5: np.int32,
    6: np.uint32,
    FLOAT32: np.float32,
    8: np.float64,
}


class PointCloudError(ValueError):
    """A PointCloud2 message or array is malformed; the message says what is wrong."""


def pointcloud2_to_array(msg: Any, fields: Sequence[str] = ("x", "y", "z"), skip_nans: bool = False) -> np.ndarray:
    """Requested fields of every point as float32 [N, len(fields)] (N = width * height).

    ``msg`` is a sensor_msgs/PointCloud2 of rclpy or of the rosbags library (anything with its fields).
    """
    by_name = {f.name: f for f in msg.fields}
    missing = [name for name in fields if name not in by_name]
    if missing:
        raise PointCloudError(f"PointCloud2 has no field(s) {missing}; it has {sorted(by_name)}")
    n_points = msg.width * msg.height
    if n_points == 0:
        return np.zeros((0, len(fields)), dtype=np.float32)
    if msg.point_step <= 0 or msg.row_step < msg.width * msg.point_step:
        raise PointCloudError(
            f"PointCloud2 point_step {msg.point_step} / row_step {msg.row_step} inconsistent with width {msg.width}"
        )
    if len(msg.data) < msg.row_step * msg.height:
        raise PointCloudError(f"PointCloud2 data has {len(msg.data)} bytes, expected {msg.row_step * msg.height}")
    endian = ">" if msg.is_bigendian else "<"
    names, formats, offsets = [], [], []
    for name in fields:
        field = by_name[name]
        if field.datatype not in _DTYPES:
            raise PointCloudError(f"PointCloud2 field '{name}' has unknown datatype {field.datatype}")
        if field.count != 1:
            raise PointCloudError(f"PointCloud2 field '{name}' has count {field.count}; only scalar fields are read")
        dtype = np.dtype(_DTYPES[field.datatype]).newbyteorder(endian)
        if field.offset + dtype.itemsize > msg.point_step:
            raise PointCloudError(
                f"PointCloud2 field '{name}' at offset {field.offset} overruns point_step {msg.point_step}"
            )
        names.append(name)
        formats.append(dtype)
        offsets.append(field.offset)
    record = np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": msg.point_step})
    raw = np.frombuffer(bytes(msg.data), dtype=np.uint8, count=msg.row_step * msg.height)
    rows = raw.reshape(msg.height, msg.row_step)[:, : msg.width * msg.point_step]  # drop row padding
    points = np.ascontiguousarray(rows).view(record).reshape(-1)
    out = np.stack([points[name].astype(np.float32) for name in names], axis=-1)
    if skip_nans:
        out = out[np.isfinite(out).all(axis=1)]
    return out


def array_to_pointcloud2(points: np.ndarray, fields: Sequence[str] = ("x", "y", "z"), header=None, frame_id: str = ""):
    """An unorganised float32 sensor_msgs/PointCloud2 (height 1) from ``points`` [N, len(fields)]."""
    from sensor_msgs.msg import PointCloud2, PointField
    from std_msgs.msg import Header

    points = np.asarray(points)
    if points.ndim != 2 or points.shape[1] != len(fields):
        raise PointCloudError(
            f"points must have shape [N, {len(fields)}] for fields {list(fields)}, got {points.shape}"
        )
    data = np.ascontiguousarray(points, dtype="<f4")
    msg = PointCloud2()
    msg.header = header if header is not None else Header(frame_id=frame_id)
    msg.height = 1
    msg.width = int(points.shape[0])
    msg.fields = [PointField(name=name, offset=4 * i, datatype=FLOAT32, count=1) for i, name in enumerate(fields)]
    msg.is_bigendian = False
    msg.point_step = 4 * len(fields)
    msg.row_step = msg.point_step * msg.width
    msg.is_dense = bool(np.isfinite(data).all())
    msg.data = data.tobytes()
    return msg
