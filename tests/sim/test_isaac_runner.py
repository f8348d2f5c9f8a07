"""The Isaac Sim runner's testable parts, without Isaac Sim: policy observation, command mapping, bridge wiring, episode.

Isaac Sim itself never runs here (no GPU, not installed); run_scenario.py's
Isaac calls are unexecuted. These tests hold what it computes and wires.
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fdm_nav.runner_contract import CMD_TIMEOUT, ELEVATION_MAP, ODOM_FRAME, REQUIRED
from sim.episode import EPISODE_FIELDS
from sim.isaac import anymal_policy as policy
from sim.isaac.command_map import CommandMap
from sim.isaac.ros_graph import NODE_ATTRIBUTES, NODES, READS, TOPIC_NODES, WRITES, bridge_topic, graph_spec
from sim.isaac.runner_core import RobotState, RunnerCore, read_episode
from sim.scenario import load_scenario, scenario_path
from sim.terrain import build_terrain

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(120)


def _yaw_quat(yaw: float) -> np.ndarray:
    return np.array([math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2)])


def _state(x=-8.0, y=0.0, z=0.6, yaw=0.0, vel=(0.0, 0.0, 0.0), contact=0.0) -> RobotState:
    return RobotState(
        position=np.array([x, y, z]),
        quat_wxyz=_yaw_quat(yaw),
        lin_vel_world=np.array(vel, dtype=float),
        ang_vel_world=np.array([0.0, 0.0, 0.3]),
        joint_pos=policy.DEFAULT_JOINT_POS.copy(),
        joint_vel=np.zeros(12),
        base_contact_force=contact,
    )


# ---------------------------------------------------------------- policy observation and action


def test_scan_grid_is_isaac_labs_17_by_11_x_fastest():
    assert policy.SCAN_POINTS == 187 and policy.OBS_DIM == 235 and policy.PROPRIO_DIM == 48
    pts = policy.scan_points_xy(np.array([1.0, 2.0]), 0.0)
    np.testing.assert_allclose(pts[0], [1.0 - 0.8, 2.0 - 0.5])
    np.testing.assert_allclose(pts[1], [1.0 - 0.7, 2.0 - 0.5])  # x runs fastest ("xy" ordering)
    np.testing.assert_allclose(pts[17], [1.0 - 0.8, 2.0 - 0.4])
    # Yaw-aligned: at yaw 90 deg the grid's +x (ahead) points along world +y.
    turned = policy.scan_points_xy(np.zeros(2), math.pi / 2)
    np.testing.assert_allclose(turned[0], [0.5, -0.8], atol=1e-12)


def test_observation_by_hand():
    yaw = math.pi / 2
    obs = policy.policy_observation(
        quat_wxyz=_yaw_quat(yaw),
        lin_vel_world=np.array([1.0, 0.0, 0.0]),  # moving along world x while facing world y: body -y
        ang_vel_world=np.array([0.0, 0.0, 0.5]),
        command=np.array([0.5, 0.0, 0.1]),
        joint_pos=policy.DEFAULT_JOINT_POS + 0.1,
        joint_vel=np.full(12, 2.0),
        last_action=np.full(12, -1.0),
        scan=np.full(187, 0.1),
    )
    assert obs.shape == (235,) and obs.dtype == np.float32
    np.testing.assert_allclose(obs[0:3], [0.0, -1.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(obs[3:6], [0.0, 0.0, 0.5], atol=1e-6)
    np.testing.assert_allclose(obs[6:9], [0.0, 0.0, -1.0], atol=1e-6)  # level: gravity straight down
    np.testing.assert_allclose(obs[9:12], [0.5, 0.0, 0.1])
    np.testing.assert_allclose(obs[12:24], 0.1, atol=1e-6)  # relative to the defaults
    np.testing.assert_allclose(obs[24:36], 2.0)
    np.testing.assert_allclose(obs[36:48], -1.0)
    np.testing.assert_allclose(obs[48:], 0.1)
    # Nose up by 0.2 rad (pitch about body y): gravity in the body frame gets x = -sin(0.2) (the FDM's convention too).
    pitched = np.array([math.cos(0.1), 0.0, math.sin(0.1), 0.0])
    g = policy.quat_rotate_inverse(pitched, np.array([0.0, 0.0, -1.0]))
    np.testing.assert_allclose(g, [math.sin(0.2), 0.0, -math.cos(0.2)], atol=1e-12)


def test_height_scan_values_and_bad_inputs():
    # Base 0.6 m over flat ground: 0.6 - 0 - 0.5 = 0.1; a 0.4 m box: -0.3; a 2 m pit: clipped to 1; no hit: 1.
    np.testing.assert_allclose(policy.height_scan(0.6, np.array([0.0, 0.4, -2.0, np.nan])), [0.1, -0.3, 1.0, 1.0])
    with pytest.raises(ValueError, match="joint_pos"):
        policy.policy_observation(
            quat_wxyz=_yaw_quat(0),
            lin_vel_world=np.zeros(3),
            ang_vel_world=np.zeros(3),
            command=np.zeros(3),
            joint_pos=np.zeros(11),
            joint_vel=np.zeros(12),
            last_action=np.zeros(12),
            scan=None,
        )
    with pytest.raises(ValueError, match="not a rotation"):
        policy.quat_rotate_inverse(np.zeros(4), np.ones(3))


def test_actions_defaults_and_joint_order():
    # ANYMAL_D_CFG defaults: HAA 0, front HFE 0.4 / hind -0.4, front KFE -0.8 / hind 0.8.
    assert dict(zip(policy.JOINT_NAMES, policy.DEFAULT_JOINT_POS, strict=True))["LH_KFE"] == 0.8
    assert dict(zip(policy.JOINT_NAMES, policy.DEFAULT_JOINT_POS, strict=True))["RF_HFE"] == 0.4
    np.testing.assert_allclose(policy.joint_targets(np.ones(12)), policy.DEFAULT_JOINT_POS + 0.5)
    np.testing.assert_allclose(policy.joint_targets(np.full(12, np.nan)), policy.DEFAULT_JOINT_POS)
    sim_names = list(reversed(policy.JOINT_NAMES))  # Isaac Sim reporting another order
    order = policy.joint_order(sim_names)
    sim_values = np.arange(12.0)
    assert [sim_names[i] for i in order] == list(policy.JOINT_NAMES)
    back = np.empty(12)
    back[order] = sim_values[order]
    np.testing.assert_array_equal(back, sim_values)
    with pytest.raises(ValueError, match="LF_HAA"):
        policy.joint_order(sim_names[:-1])


def test_policy_size_is_told_by_its_input():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)

    def forward_of(net):
        return lambda obs: net(torch.from_numpy(obs)[None]).detach().numpy()[0]

    assert policy.takes_scan(forward_of(torch.nn.Linear(235, 12))) is True
    assert policy.takes_scan(forward_of(torch.nn.Linear(48, 12))) is False
    with pytest.raises(ValueError, match="neither"):
        policy.takes_scan(forward_of(torch.nn.Linear(10, 12)))
    with pytest.raises(ValueError, match="outputs"):
        policy.takes_scan(forward_of(torch.nn.Linear(235, 4)))


# ---------------------------------------------------------------- command mapping


def test_command_map_clamps_times_out_and_refuses_non_finite():
    cmds = CommandMap()
    assert cmds.timeout == CMD_TIMEOUT
    np.testing.assert_array_equal(cmds.command(0.0), np.zeros(3))  # nothing received yet
    assert cmds.take(1.0, (2.0, -0.3, 0.0), (0.0, 0.0, -1.5))
    np.testing.assert_allclose(cmds.command(1.2), [1.0, -0.3, -1.0])  # clamped to the policy's training ranges
    np.testing.assert_allclose(cmds.command(1.0 + CMD_TIMEOUT), [1.0, -0.3, -1.0])  # at the timeout still valid
    np.testing.assert_array_equal(cmds.command(1.0 + CMD_TIMEOUT + 0.02), np.zeros(3))  # then zero
    assert not cmds.take(2.0, (math.nan, 0.0, 0.0), (0.0, 0.0, 0.0))
    assert cmds.rejected == 1 and cmds.received_at == 1.0  # the bad one changed nothing
    # The bridge's counter: a repeated identical Twist is a new command (it refreshes the age), no new count is not.
    cmds.poll(3.0, 1, (0.5, 0.0, 0.0), (0.0, 0.0, 0.0))
    cmds.poll(3.4, 1, (0.9, 0.0, 0.0), (0.0, 0.0, 0.0))  # same count: not read
    np.testing.assert_allclose(cmds.command(3.4), [0.5, 0.0, 0.0])
    cmds.poll(3.4, 2, (0.5, 0.0, 0.0), (0.0, 0.0, 0.0))
    np.testing.assert_allclose(cmds.command(3.4 + CMD_TIMEOUT), [0.5, 0.0, 0.0])


# ---------------------------------------------------------------- ROS 2 bridge wiring as data


def test_graph_wiring_names_existing_nodes_and_attributes():
    spec = graph_spec()
    nodes = dict(spec["create_nodes"])
    assert nodes == NODES

    def check(ref: str) -> None:
        node, attribute = ref.split(".", 1)
        assert node in nodes, ref
        assert attribute in NODE_ATTRIBUTES[nodes[node]], ref

    for src, dst in spec["connect"]:
        check(src)
        check(dst)
        assert src.split(".", 1)[1].startswith(("outputs:", "state:")) and dst.split(".", 1)[1].startswith("inputs:")
    for ref, _ in spec["set_values"]:
        check(ref)
    for ref in (*WRITES.values(), *READS.values()):
        check(ref)
    # Every ROS node gets the shared context and is triggered by something.
    triggered = {dst.split(".")[0] for _, dst in spec["connect"] if dst.endswith("inputs:execIn")}
    contexts = {dst.split(".")[0] for src, dst in spec["connect"] if src == "Context.outputs:context"}
    ros = {n for n, t in nodes.items() if t.startswith("isaacsim.ros2.bridge.") and n != "Context"}
    assert ros <= triggered and ros == contexts
    assert all(t.startswith(("isaacsim.ros2.bridge.", "omni.graph.action.")) for t in nodes.values())


def test_graph_carries_every_required_contract_topic_with_its_frame():
    values = dict(graph_spec()["set_values"])
    carried = {bridge_topic(spec): node for node, spec in TOPIC_NODES.items()}
    assert {bridge_topic(s) for s in REQUIRED} == set(carried)
    for node, spec in TOPIC_NODES.items():
        assert values[f"{node}.inputs:topicName"] == spec.name.lstrip("/")
        kind = NODES[node].rsplit(".", 1)[1]
        message = spec.type.rsplit("/", 1)[1]  # the bridge node's message: PublishOdometry <-> Odometry, ...
        assert message in kind or (message, kind) in {("PointCloud2", "ROS2PublishPointCloud")}, (message, kind)
        assert kind.startswith("ROS2Publish" if spec.direction == "out" else "ROS2Subscribe")
    assert values["PublishOdometry.inputs:odomFrameId"] == ODOM_FRAME == values["PublishMap.inputs:frameId"]
    assert values["PublishOdometry.inputs:publishRawVelocities"] is True  # we hand body-frame velocities


# ---------------------------------------------------------------- runner core: odometry, map, episode


@pytest.fixture(scope="module")
def flat_core():
    scenario = load_scenario(scenario_path("flat_01"))
    return lambda: RunnerCore(scenario, build_terrain(scenario.terrain), planner="fdm", with_scan=True, map_size=12.0)


def test_odometry_values_are_the_contracts(flat_core):
    from sim.isaac.run_scenario import start_pose

    core = flat_core()
    position, quat = start_pose(core)
    np.testing.assert_allclose(position, [-8.0, 0.0, 0.65])  # flat ground, base 0.6 m + 5 cm spawn clearance
    np.testing.assert_allclose(quat, [1.0, 0.0, 0.0, 0.0])  # flat_01 starts at yaw 0
    odom = core.odometry_values(_state(yaw=math.pi / 2, vel=(1.0, 0.0, 0.0)))
    np.testing.assert_allclose(odom["odom_orientation"], [0, 0, math.sin(math.pi / 4), math.cos(math.pi / 4)])
    np.testing.assert_allclose(odom["odom_linear"], [0.0, -1.0, 0.0], atol=1e-12)  # body frame (base_link)
    assert set(odom) <= set(WRITES)


def test_elevation_cloud_equals_terrain_sims(flat_core):
    from dynamics_stack.ros.nav_convert import elevation_cloud_to_grid, grid_to_elevation_cloud

    core = flat_core()
    state = _state()
    points = core.map_points(state)
    heights, origin = core.height_map.window(-8.0, 0.0, 12.0)  # what terrain_sim publishes (map_size 12)
    grid = elevation_cloud_to_grid(grid_to_elevation_cloud(heights, origin, core.height_map.resolution, "odom", 0.0))
    assert points.shape == (grid.heights.size, 3) and points.dtype == np.float32
    np.testing.assert_allclose(points[:, :2].min(axis=0), grid.origin, atol=1e-5)
    np.testing.assert_allclose(points[:, 2].reshape(grid.heights.shape), grid.heights)
    # Published at the contract's rate by simulated time: 5 maps in 1 s of 0.02 s policy steps.
    due = [t for t in np.arange(50) * policy.POLICY_DT if core.map_due(float(t))]
    assert len(due) == round(ELEVATION_MAP.rate_hz)


def test_episode_success_fall_and_the_json(flat_core, tmp_path):
    core = flat_core()
    state = _state()
    obs = core.observation(state, np.zeros(12), 0.0)
    np.testing.assert_allclose(obs[48:], 0.1, atol=1e-6)  # flat ground under a standing ANYmal
    assert not core.judge(0.0, state, 0.02)
    assert core.judge(0.02, _state(x=7.8), 0.02)  # within 0.5 m of the goal (8, 0)
    assert core.episode.outcome == "success" and core.episode.simulator == "isaac_sim"
    fallen = flat_core()
    assert fallen.judge(0.0, _state(z=0.2), 0.02)  # base 0.2 m above the ground: collapsed
    assert (fallen.episode.outcome, fallen.episode.failure_cause) == ("failure", "fall")
    bumped = flat_core()
    assert bumped.judge(0.0, _state(contact=20.0), 0.02)
    assert bumped.episode.failure_cause == "collision"
    core.write(tmp_path / "ep.json", {"isaac_sim": "5.x"})
    data = read_episode(tmp_path / "ep.json")
    assert tuple(data["episode"]) == EPISODE_FIELDS and data["isaac_sim"] == "5.x"


# ---------------------------------------------------------------- import guard


def test_runner_imports_and_refuses_cleanly_without_isaac_sim(tmp_path):
    code = (
        "import sys, sim.isaac.run_scenario as r\n"
        "assert not [m for m in sys.modules if m.startswith(('isaacsim', 'omni'))]\n"
        "sys.exit(r.main(['--scenario', 'flat_01', '--robot-usd', 'a.usd', '--policy', 'p.pt']))\n"
    )
    try:
        import isaacsim  # noqa: F401

        pytest.skip("Isaac Sim is installed here: the guard is not what runs")
    except ImportError:
        pass
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "Isaac Sim 5.x is not installed" in done.stderr and "Traceback" not in done.stderr
