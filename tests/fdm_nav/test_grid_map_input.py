"""The planner node's grid_map_msgs/GridMap input (elevation_mapping's output).

grid_map_msgs has no wheel here (see docs/ros_nodes.md), so the messages are built field
by field after its definition (GridMap: header, info, layers, basic_layers, data,
outer_start_index, inner_start_index; GridMapInfo: resolution, length_x, length_y, pose)
from real std_msgs / geometry_msgs parts. Cell positions are checked against grid_map's
own index -> position rule (getPositionFromIndex), written here independently of the
converter, and against the PointCloud2 path of the same map.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
from geometry_msgs.msg import Pose
from std_msgs.msg import Float32MultiArray, Header, MultiArrayDimension

from dynamics_stack.ros.grid_map_convert import grid_map_to_grid
from dynamics_stack.ros.nav_convert import MessageError, elevation_cloud_to_grid, grid_to_elevation_cloud, sec_to_stamp


def _grid_map(buffer: np.ndarray, res: float, centre=(0.0, 0.0), start=(0, 0), row_major=False, layer="elevation"):
    """A GridMap message whose layer holds the Eigen matrix ``buffer`` [rows, cols] (buffer order)."""
    rows, cols = buffer.shape
    if row_major:
        dims = [("row_index", rows, rows * cols), ("column_index", cols, cols)]
        data = buffer.ravel()
    else:  # Eigen's default: column-major, dim[0] = columns
        dims = [("column_index", cols, rows * cols), ("row_index", rows, rows)]
        data = buffer.T.ravel()
    array = Float32MultiArray(data=data.astype(np.float32).tolist())
    array.layout.dim = [MultiArrayDimension(label=lab, size=size, stride=stride) for lab, size, stride in dims]
    pose = Pose()
    pose.position.x, pose.position.y = centre
    info = SimpleNamespace(resolution=res, length_x=rows * res, length_y=cols * res, pose=pose)
    return SimpleNamespace(
        header=Header(frame_id="odom", stamp=sec_to_stamp(12.5)),
        info=info,
        layers=["variance", layer] if layer else [],
        basic_layers=[layer],
        data=[Float32MultiArray(), array] if layer else [],
        outer_start_index=start[0],
        inner_start_index=start[1],
    )


def _grid_map_position(b, res, lengths, centre, start, size):
    """grid_map's getPositionFromIndex: buffer index -> cell centre (map frame)."""
    unwrapped = [(b[k] - start[k]) % size[k] for k in range(2)]
    return [centre[k] + 0.5 * lengths[k] - 0.5 * res - res * unwrapped[k] for k in range(2)]


@pytest.mark.parametrize("row_major", [False, True])
@pytest.mark.parametrize("start", [(0, 0), (2, 1)])
def test_every_cell_lands_where_grid_map_puts_it(row_major, start):
    rng = np.random.default_rng(0)
    rows, cols, res, centre = 5, 4, 0.1, (3.0, -1.0)
    buffer = rng.uniform(-0.5, 0.5, (rows, cols))
    buffer[1, 2] = math.nan  # unknown cell
    grid = grid_map_to_grid(_grid_map(buffer, res, centre, start, row_major), "elevation")
    assert grid.frame == "odom" and grid.t == pytest.approx(12.5) and grid.heights.shape == (rows, cols)
    for b0 in range(rows):
        for b1 in range(cols):
            x, y = _grid_map_position((b0, b1), res, (rows * res, cols * res), centre, start, (rows, cols))
            got = grid.height_at(x, y)
            if (b0, b1) == (1, 2):
                assert math.isnan(got)
            else:
                assert got == pytest.approx(buffer[b0, b1], abs=1e-6), (b0, b1)


def test_grid_map_and_point_cloud_of_one_map_give_one_grid():
    rng = np.random.default_rng(1)
    heights, res, origin = rng.uniform(0, 1, (6, 7)).astype(np.float32), 0.05, (1.0, 2.0)
    from_cloud = elevation_cloud_to_grid(grid_to_elevation_cloud(heights, origin, res, "odom", 1.0))
    # The same cells as a grid_map buffer: logical index grows towards -x/-y, stored from start index (3, 5).
    start = (3, 5)
    buffer = np.roll(heights[::-1, ::-1], shift=start, axis=(0, 1))
    centre = (origin[0] + (6 - 1) * res / 2, origin[1] + (7 - 1) * res / 2)
    from_grid_map = grid_map_to_grid(_grid_map(buffer, res, centre, start))
    np.testing.assert_allclose(from_grid_map.heights, from_cloud.heights, atol=1e-6)
    np.testing.assert_allclose(from_grid_map.origin, from_cloud.origin, atol=1e-9)


def test_bad_grid_maps_are_refused_with_the_reason():
    good = np.zeros((3, 3))
    with pytest.raises(MessageError, match=r"no layer 'elevation' \(layers: \['variance', 'height'\]\)"):
        grid_map_to_grid(_grid_map(good, 0.1, layer="height"))
    msg = _grid_map(good, 0.1)
    msg.info.pose.orientation.z, msg.info.pose.orientation.w = math.sin(0.3), math.cos(0.3)
    with pytest.raises(MessageError, match="rotated"):
        grid_map_to_grid(msg)
    with pytest.raises(MessageError, match="resolution"):
        grid_map_to_grid(_grid_map(good, 0.0))
    with pytest.raises(MessageError, match="infinite heights"):
        grid_map_to_grid(_grid_map(np.array([[0.0, math.inf], [0.0, 0.0]]), 0.1))
    with pytest.raises(MessageError, match="map_max_cells"):
        grid_map_to_grid(_grid_map(good, 0.1), max_cells=8)
    msg = _grid_map(good, 0.1)
    msg.data[1].data = msg.data[1].data[:-1]  # truncated
    with pytest.raises(MessageError, match="8 values for 3 x 3 cells"):
        grid_map_to_grid(msg)
    msg = _grid_map(good, 0.1)
    msg.data[1].layout.dim[0].label = "x"
    with pytest.raises(MessageError, match="layout.dim\\[0\\].label"):
        grid_map_to_grid(msg)
    msg = _grid_map(good, 0.1, centre=(math.nan, 0.0))
    with pytest.raises(MessageError, match="position"):
        grid_map_to_grid(msg)


def test_node_map_type_parameter(ros_context):
    """'auto' falls back to PointCloud2 without grid_map_msgs; 'gridmap' then refuses to configure, with the reason;
    a GridMap handed to the map callback fills the same grid as its PointCloud2."""
    from rclpy.parameter import Parameter
    from sensor_msgs.msg import PointCloud2

    from dynamics_stack.ros.grid_map_convert import elevation_map_type
    from fdm_nav.node import PlannerNode

    try:
        import grid_map_msgs  # noqa: F401

        pytest.skip("grid_map_msgs is installed: the fallback cannot be shown")
    except ImportError:
        pass
    assert elevation_map_type("auto") is PointCloud2 and elevation_map_type("pointcloud2") is PointCloud2
    node = PlannerNode(context=ros_context, parameter_overrides=[Parameter("map_type", value="gridmap")])
    try:
        node.trigger_configure()
        assert node.settings is None and "grid_map_msgs" in node.cycle.reason
    finally:
        node.destroy_node()
    node = PlannerNode(context=ros_context, parameter_overrides=[Parameter("autostart", value=False)])
    try:
        assert node.set_parameters([Parameter("map_type", value="occupancy")])[0].successful is False
        node.trigger_configure()
        assert node.settings is not None
        assert [t for _, t in node.get_topic_names_and_types() if _.endswith("elevation_map")] == [
            ["sensor_msgs/msg/PointCloud2"]
        ]
        heights = np.arange(12, dtype=np.float32).reshape(3, 4) * 0.1
        buffer = heights[::-1, ::-1]
        msg = _grid_map(buffer, 0.1, centre=(0.1, 0.15))
        msg.header.stamp = sec_to_stamp(node.get_clock().now().nanoseconds * 1e-9)
        node._on_map(msg)
        assert node.cycle.grid is not None and node.cycle.grid.origin == pytest.approx((0.0, 0.0))
        np.testing.assert_allclose(node.cycle.grid.heights, heights, atol=1e-6)
    finally:
        node.destroy_node()
