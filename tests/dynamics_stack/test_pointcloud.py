"""PointCloud2 <-> numpy without sensor_msgs_py: round trips, NaN, empty, padded and foreign layouts."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sensor_msgs.msg import PointCloud2, PointField

from dynamics_stack.ros.pointcloud import PointCloudError, array_to_pointcloud2, pointcloud2_to_array


def test_round_trip_keeps_nan_points_and_frame():
    points = np.array([[0.0, 1.0, 2.0], [np.nan, 0.5, 0.1], [3.0, -4.0, np.inf]], dtype=np.float32)
    msg = array_to_pointcloud2(points, frame_id="odom")
    assert msg.header.frame_id == "odom" and msg.width == 3 and msg.height == 1
    assert not msg.is_dense
    np.testing.assert_array_equal(pointcloud2_to_array(msg), points)
    np.testing.assert_array_equal(pointcloud2_to_array(msg, skip_nans=True), points[:1])


def test_empty_cloud_round_trip():
    msg = array_to_pointcloud2(np.zeros((0, 3)))
    assert msg.width == 0 and len(msg.data) == 0
    assert pointcloud2_to_array(msg).shape == (0, 3)


def test_extra_fields_and_field_order():
    points = np.array([[1, 2, 3, 0.5], [4, 5, 6, 0.25]], dtype=np.float32)
    msg = array_to_pointcloud2(points, fields=("x", "y", "z", "elevation"))
    np.testing.assert_array_equal(pointcloud2_to_array(msg, ("elevation", "x")), points[:, [3, 0]])


def _foreign_cloud(big_endian: bool) -> tuple[PointCloud2, np.ndarray]:
    """An organised 2x3 cloud as another driver might send it: float64 z, uint16 ring, padding."""
    expected = np.arange(18, dtype=np.float32).reshape(6, 3) / 4.0
    end = ">" if big_endian else "<"
    record = np.dtype(
        {
            "names": ["x", "y", "z", "ring"],
            "formats": [end + "f4", end + "f4", end + "f8", end + "u2"],
            "offsets": [0, 4, 8, 16],
            "itemsize": 24,
        }
    )
    pts = np.zeros(6, dtype=record)
    pts["x"], pts["y"], pts["z"], pts["ring"] = expected[:, 0], expected[:, 1], expected[:, 2], 7
    rows = pts.view(np.uint8).reshape(2, 3 * 24)
    padded = np.concatenate([rows, np.zeros((2, 8), np.uint8)], axis=1)  # 8 bytes of row padding
    msg = PointCloud2(height=2, width=3, point_step=24, row_step=3 * 24 + 8, is_bigendian=big_endian)
    msg.fields = [
        PointField(name="x", offset=0, datatype=PointField.FLOAT32, count=1),
        PointField(name="y", offset=4, datatype=PointField.FLOAT32, count=1),
        PointField(name="z", offset=8, datatype=PointField.FLOAT64, count=1),
        PointField(name="ring", offset=16, datatype=PointField.UINT16, count=1),
    ]
    msg.data = padded.tobytes()
    return msg, expected


@pytest.mark.parametrize("big_endian", [False, True])
def test_organised_padded_mixed_type_cloud(big_endian):
    msg, expected = _foreign_cloud(big_endian)
    np.testing.assert_array_equal(pointcloud2_to_array(msg), expected)
    np.testing.assert_array_equal(pointcloud2_to_array(msg, ("ring",)), np.full((6, 1), 7, np.float32))


def test_malformed_clouds_are_named():
    msg = array_to_pointcloud2(np.ones((4, 3)))
    with pytest.raises(PointCloudError, match=r"no field\(s\) \['intensity'\]"):
        pointcloud2_to_array(msg, ("x", "intensity"))
    msg.data = bytes(msg.data)[:20]
    with pytest.raises(PointCloudError, match="data has 20 bytes, expected 48"):
        pointcloud2_to_array(msg)
    with pytest.raises(PointCloudError, match=r"shape \[N, 3\]"):
        array_to_pointcloud2(np.ones((4, 2)))


@settings(max_examples=40, deadline=None)
@given(arrays(np.float32, st.tuples(st.integers(0, 50), st.just(4)), elements=st.floats(width=32, allow_nan=True)))
def test_round_trip_property(points):
    msg = array_to_pointcloud2(points, fields=("x", "y", "z", "h"))
    np.testing.assert_array_equal(pointcloud2_to_array(msg, ("x", "y", "z", "h")), points)
