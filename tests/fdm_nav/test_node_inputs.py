"""The planner node builds the same planner inputs from ROS messages as the closed loop does from the simulator.

A simulated robot walks over stairs; its odometry and elevation cloud go
through the message converters the node uses (``dynamics_stack.ros.nav_convert``)
and the node's input builders (``fdm_nav.node_inputs``). The height scan, the
hazard guard's local map, the proprio history and the state rows must match
what ``fdm_nav.closed_loop`` hands the planner.
"""

from __future__ import annotations

import numpy as np
import torch

from dynamics_stack.ros.nav_convert import (
    elevation_cloud_to_grid,
    grid_to_elevation_cloud,
    make_odometry,
    odometry_to_sample,
)
from fdm_nav.closed_loop import local_map_of
from fdm_nav.hazard_guard import LocalMap
from fdm_nav.history import HistoryBuffer
from fdm_nav.node_inputs import OdomHistory, grid_height_map, scan_from_map
from fdm_nav.observation import fill_nan_nearest
from sim.scenario import SCENARIO_DIR, load_scenario, make_sim


def test_node_inputs_equal_the_closed_loop_inputs():
    sim = make_sim(load_scenario(SCENARIO_DIR / "stairs_up_01.yaml"), 1, seed=0)
    hm = sim.height_map
    cloud = grid_to_elevation_cloud(hm.heights.numpy(), hm.origin, hm.resolution, "odom", 0.0)
    grid = elevation_cloud_to_grid(cloud)  # cell size detected from the cloud
    assert grid.resolution == hm.resolution
    node_map = grid_height_map(grid.heights, grid.origin, grid.resolution)
    ref_history = HistoryBuffer(10, sim.proprio().shape[-1])
    node_history = OdomHistory()
    cmd, prev = np.zeros(3), np.zeros(3)
    rng = np.random.default_rng(0)
    for step in range(150):  # 3 s at 50 Hz odometry, new command every 0.5 s
        if step % 25 == 0:
            prev, cmd = cmd, np.array([rng.uniform(0.3, 0.9), rng.uniform(-0.2, 0.2), rng.uniform(-0.4, 0.4)])
        sim.step(torch.as_tensor(cmd, dtype=torch.float32)[None])
        p, pose = sim.proprio()[0].numpy(), sim.poses[0].numpy()
        odom = odometry_to_sample(
            make_odometry(
                "odom",
                "base_link",
                sim.time,
                (*pose[:2], float(sim.z_base[0])),
                (*sim.tilt[0].tolist(), pose[2]),
                p[0:3],
                p[3:6],
            )
        )
        ground = grid.height_at(*odom.position[:2])
        pushed = node_history.add(
            odom.t,
            odom.pose2d,
            odom.position[2],
            odom.quaternion,
            odom.linear,
            odom.angular,
            cmd,
            prev,
            odom.position[2] - ground,
        )
        if pushed:
            ref_history.push(sim.proprio()[0], sim.poses[0], False, float(sim.energy[0]))
    # Proprio and state rows (energy aside: the node estimates it from odometry differences).
    ref_p, ref_s = ref_history.inputs()
    node_p, node_s = node_history.inputs()
    torch.testing.assert_close(node_p, ref_p, atol=1e-4, rtol=0)
    torch.testing.assert_close(node_s[:, :5], ref_s[:, :5], atol=1e-4, rtol=0)
    assert torch.isfinite(node_s[:, 5]).all()
    # Height scan and the guard's local map at the robot's pose.
    pose = sim.poses[0].numpy()
    ref_scan = fill_nan_nearest(sim.height_scan()[0])
    torch.testing.assert_close(scan_from_map(node_map, pose, float(sim.z_base[0])), ref_scan, atol=1e-5, rtol=0)
    torch.testing.assert_close(LocalMap.from_height_map(node_map, pose).heights, local_map_of(sim).heights)


def test_elevation_cloud_to_grid_by_hand():
    import math

    import pytest

    from dynamics_stack.ros.nav_convert import MessageError
    from dynamics_stack.ros.pointcloud import array_to_pointcloud2

    # Two points in cell (0, 0): the higher one is kept; NaN height = unknown; cell size detected (0.1 m).
    pts = np.array([[0, 0, 1.0], [0, 0, 2.0], [0.1, 0, math.nan], [0.1, 0.1, 0.5], [0.1, 0.1, math.nan]], np.float32)
    grid = elevation_cloud_to_grid(array_to_pointcloud2(pts))
    assert grid.resolution == pytest.approx(0.1) and grid.origin == (0.0, 0.0)
    np.testing.assert_array_equal(np.nan_to_num(grid.heights, nan=-9.0), [[2.0, -9.0], [-9.0, 0.5]])
    assert grid.height_at(0.12, 0.09) == pytest.approx(0.5) and math.isnan(grid.height_at(5.0, 5.0))
    for bad, why in [
        (np.array([[0, 0, math.inf], [0.1, 0, 0]], np.float32), "infinite"),
        (np.array([[math.nan, 0, 0], [0.1, 0, 0]], np.float32), "non-finite x or y"),
        (np.array([[0, 0, 0], [0.1, 0, 0], [9e5, 9e5, 0]], np.float32), "map_max_cells"),
        (np.zeros((0, 3), np.float32), "empty"),
        (np.array([[0, 0, 0], [0.001, 0, 0]], np.float32), "below"),
    ]:
        with pytest.raises(MessageError, match=why):
            elevation_cloud_to_grid(array_to_pointcloud2(bad))
