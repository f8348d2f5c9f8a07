"""grid_map_msgs/GridMap (elevation_mapping's output) -> ElevationGrid, the planner node's map.

grid_map_msgs has no wheel for these machines, so the planner node takes this path only
where the package is importable (a robot with ROS 2 and grid_map installed). The converter
therefore reads the message by its documented fields and never imports the package:

- ``info.resolution`` [m], ``info.length_x`` / ``length_y`` [m], ``info.pose.position`` =
  the map centre; the map is axis-aligned with its frame (grid_map has no rotation), so a
  non-identity ``info.pose.orientation`` is refused rather than silently ignored;
- ``layers[k]`` names ``data[k]``, a std_msgs/Float32MultiArray holding an Eigen matrix
  (rows = cells along x, cols = cells along y). ``layout.dim[0].label`` says the storage
  order: 'column_index' = column-major (grid_map's default), 'row_index' = row-major;
  the values start at ``layout.data_offset``;
- the matrix is a circular buffer: logical index i sits at buffer index
  (start + i) mod size, with start = (``outer_start_index``, ``inner_start_index``);
- logical index (0, 0) is the cell at the map's +x/+y corner, and x (y) decreases as the
  row (column) index grows: x_i = centre_x + length_x / 2 - resolution / 2 - i * resolution.

The result uses the node's convention (heights[i, j] at origin + (i, j) * resolution,
increasing x and y), so everything after the subscription is the same for both map types.
"""

from __future__ import annotations

import math

import numpy as np
from sensor_msgs.msg import PointCloud2

from dynamics_stack.ros.nav_convert import MAX_COORD
from dynamics_stack.ros.nav_types import ElevationGrid, MessageError
from dynamics_stack.ros.stamps import stamp_to_sec

COLUMN_MAJOR, ROW_MAJOR = "column_index", "row_index"


def elevation_map_type(map_type: str) -> type:
    """The elevation map's message class for ``map_type`` ('auto' prefers GridMap when grid_map_msgs imports)."""
    if map_type == "pointcloud2":
        return PointCloud2
    try:
        from grid_map_msgs.msg import GridMap  # not installable here; present on robots with grid_map
    except ImportError:
        if map_type == "gridmap":
            raise ValueError("map_type 'gridmap' needs the grid_map_msgs package, which is not installed") from None
        return PointCloud2
    return GridMap


def _layer_matrix(msg, layer: str) -> np.ndarray:
    """The layer's matrix [rows = x cells, cols = y cells] in buffer order."""
    layers = list(msg.layers)
    if layer not in layers:
        raise MessageError(f"grid map has no layer {layer!r} (layers: {layers})")
    k = layers.index(layer)
    if k >= len(msg.data):
        raise MessageError(f"grid map names {len(layers)} layers but carries {len(msg.data)} data arrays")
    array = msg.data[k]
    dims = list(array.layout.dim)
    if len(dims) != 2:
        raise MessageError(f"grid map layer {layer!r} has {len(dims)} dimensions, expected 2")
    order = dims[0].label
    if order not in (COLUMN_MAJOR, ROW_MAJOR):
        raise MessageError(
            f"grid map layer {layer!r}: layout.dim[0].label is {order!r}, expected {COLUMN_MAJOR!r} or {ROW_MAJOR!r}"
        )
    outer, inner = int(dims[0].size), int(dims[1].size)
    offset = int(array.layout.data_offset)
    values = np.asarray(array.data, dtype=np.float32)
    if outer < 1 or inner < 1 or values.size != offset + outer * inner:
        raise MessageError(
            f"grid map layer {layer!r}: {values.size} values for {outer} x {inner} cells after offset {offset}"
        )
    stored = values[offset:].reshape(outer, inner)  # outer index is the slow one in memory
    return stored.T if order == COLUMN_MAJOR else stored  # -> [rows, cols]


def grid_map_to_grid(msg, layer: str = "elevation", max_cells: int = 4_000_000) -> ElevationGrid:
    """Convert a grid_map_msgs/GridMap layer to an ElevationGrid (NaN = unknown cell).

    Raises MessageError naming what is wrong: a missing layer, an inconsistent layout, a
    rotated map, a non-positive or non-finite resolution, infinite heights, a map beyond
    ``max_cells`` cells or with coordinates beyond MAX_COORD.
    """
    info = msg.info
    resolution = float(info.resolution)
    if not (math.isfinite(resolution) and resolution > 0):
        raise MessageError(f"grid map resolution must be finite and > 0, got {resolution}")
    q = info.pose.orientation
    quat = np.array([q.x, q.y, q.z, q.w], dtype=np.float64)
    if not np.isfinite(quat).all() or abs(abs(quat[3]) - 1.0) > 1e-6:
        raise MessageError(f"grid map pose must not be rotated (grid_map maps are axis-aligned), got {quat.tolist()}")
    centre = np.array([info.pose.position.x, info.pose.position.y], dtype=np.float64)
    if not np.isfinite(centre).all() or np.abs(centre).max() > MAX_COORD:
        raise MessageError(f"grid map position must be finite and within {MAX_COORD:g} m, got {centre.tolist()}")
    matrix = _layer_matrix(msg, layer)
    rows, cols = matrix.shape
    if rows * cols > max_cells:
        raise MessageError(f"grid map has {rows} x {cols} cells, more than map_max_cells={max_cells}")
    if np.isinf(matrix).any():
        raise MessageError(f"grid map layer {layer!r} has infinite heights (NaN marks unknown cells, Inf is invalid)")
    if np.nanmax(np.abs(matrix), initial=0.0) > MAX_COORD:
        raise MessageError(f"grid map layer {layer!r} has heights beyond {MAX_COORD:g} m")
    start = (int(msg.outer_start_index) % rows, int(msg.inner_start_index) % cols)
    logical = np.roll(matrix, shift=(-start[0], -start[1]), axis=(0, 1))  # logical[i] = buffer[(start + i) % n]
    heights = logical[::-1, ::-1]  # logical index grows towards -x / -y; ours grows towards +x / +y
    # Cell centres: logical i at centre + L/2 - res/2 - i res, so the last one (our index 0) is the smallest.
    length = np.array([float(info.length_x), float(info.length_y)])
    origin = centre + 0.5 * length - 0.5 * resolution - resolution * (np.array([rows, cols]) - 1)
    return ElevationGrid(
        stamp_to_sec(msg.header.stamp),
        msg.header.frame_id,
        np.ascontiguousarray(heights, dtype=np.float32),
        resolution,
        (float(origin[0]), float(origin[1])),
    )
