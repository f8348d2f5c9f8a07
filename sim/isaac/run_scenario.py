"""Run one navigation scenario in Isaac Sim 5.x behind the runner contract's ROS 2 topics. NOT RUN in this repository.

    OMNI_KIT_ACCEPT_EULA=YES python -m sim.isaac.run_scenario --scenario stairs_up_01 \\
        --robot-usd /path/to/anymal_d.usd --policy /path/to/exported/policy.pt --out isaac_stairs_up_01.json

Written against Isaac Sim 5.x's documented Python API (``isaacsim.core.api``
World, ``isaacsim.core.prims.SingleArticulation``, ``isaacsim.sensors.physics``,
the ``isaacsim.ros2.bridge`` OmniGraph nodes). 5.x because it runs on Python
3.11 like this project, so the project installs into Isaac Sim's environment
as it is; 6.x needs Python 3.12 and replaced ``isaacsim.core.api`` with
``isaacsim.core.experimental``. This script has never been executed: there
is no GPU and no Isaac Sim on the machines this repository is built on. What
it computes is in ``runner_core`` and tested without Isaac Sim; what it
wires is ``ros_graph`` and checked as data. Install and use: docs/isaac_sim.md.

Per policy step (0.02 s = 4 physics steps of 0.005 s, Isaac Lab's ANYmal-D
task timing): read the robot's state, judge the episode (success, failure,
timeout: ``sim.episode``), read cmd_vel from the bridge, build the policy's
observation, apply its joint targets, hand odometry, the clock and (at 5 Hz)
the elevation map to the bridge, step the world once. The planner
(``fdm_planner``) runs as its own process with ``use_sim_time``; the goal is
sent to it as on the robot (rviz "2D Goal Pose", or the line this script
prints). At the end the episode JSON is written.

Isaac Sim is imported inside ``main`` only (after ``SimulationApp``, as it
requires), so importing this module needs nothing from Isaac Sim.
"""

from __future__ import annotations

import math
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from sim.isaac import anymal_policy as policy
from sim.isaac.ros_graph import BRIDGE_EXTENSION, READS, WRITES, attribute_path, build_graph
from sim.isaac.runner_cfg import IsaacRunnerCfg, parse_args

if TYPE_CHECKING:
    from sim.isaac.runner_core import RunnerCore

ROBOT_PRIM = "/World/robot"
SCENARIO_PRIM = "/World/scenario"  # the exported stage is referenced here (its terrain: .../ground/terrain)
SPAWN_CLEARANCE = 0.05  # m above the nominal base height, so no foot starts inside the terrain


def start_pose(core: RunnerCore) -> tuple[np.ndarray, np.ndarray]:
    """Spawn position [3] (base at its nominal height over the ground at the start) and orientation (w, x, y, z)."""
    s = core.scenario.start
    z = float(core.ground(np.array([s.x, s.y]))) + policy.BASE_HEIGHT + SPAWN_CLEARANCE
    return np.array([s.x, s.y, z]), np.array([math.cos(s.yaw / 2), 0.0, 0.0, math.sin(s.yaw / 2)])


def goal_command(core: RunnerCore) -> str:
    """The ros2 CLI line that sends the scenario's goal to the planner."""
    g = core.scenario.goal
    return (
        "ros2 topic pub --once /goal_pose geometry_msgs/msg/PoseStamped "
        f'"{{header: {{frame_id: odom}}, pose: {{position: {{x: {g.x}, y: {g.y}}}, orientation: {{w: 1.0}}}}}}"'
    )


def main(argv: list[str] | None = None) -> int:
    cfg = parse_args(argv)
    try:  # the import guard: without Isaac Sim, one clear line and exit status 2
        from isaacsim import SimulationApp  # must come before any other omni / isaacsim import
    except ImportError:
        print("run_scenario: Isaac Sim 5.x is not installed in this Python; see docs/isaac_sim.md", file=sys.stderr)
        return 2
    app = SimulationApp({"headless": cfg.headless})
    try:
        # Imported after SimulationApp starts, so that pxr is Kit's own USD (usd-core is not installed into Isaac
        # Sim's Python, docs/isaac_sim.md). torch is already loaded by then (fdm_nav.observation, via the contract).
        from sim.scenario import load_scenario, scenario_path
        from sim.terrain import build_terrain
        from sim.usd_export import export_scenario_usd

        scenario = load_scenario(scenario_path(cfg.scenario))
        height_map = build_terrain(scenario.terrain)
        stage = Path(cfg.stage) if cfg.stage else Path(tempfile.mkdtemp()) / f"{scenario.name}.usdc"
        if not cfg.stage:
            export_scenario_usd(scenario, stage, height_map)
        return _run(app, cfg, scenario, height_map, stage)
    finally:
        app.close()


def _run(app, cfg: IsaacRunnerCfg, scenario, height_map, stage: Path) -> int:
    import omni.graph.core as og
    import torch
    from isaacsim.core.api import World
    from isaacsim.core.prims import SingleArticulation
    from isaacsim.core.utils.extensions import enable_extension
    from isaacsim.core.utils.stage import add_reference_to_stage
    from isaacsim.core.utils.types import ArticulationAction
    from isaacsim.sensors.physics import ContactSensor

    from sim.isaac.runner_core import RobotState, RunnerCore

    enable_extension(BRIDGE_EXTENSION)
    app.update()
    net = torch.jit.load(cfg.policy, map_location="cpu").eval()

    def forward(obs: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return net(torch.from_numpy(obs)[None]).numpy()[0]

    with_scan = policy.takes_scan(forward)
    core = RunnerCore(scenario, height_map, planner=cfg.planner, with_scan=with_scan, map_size=cfg.map_size)

    world = World(stage_units_in_meters=1.0, physics_dt=policy.PHYSICS_DT, rendering_dt=policy.POLICY_DT)
    add_reference_to_stage(usd_path=str(stage), prim_path=SCENARIO_PRIM)
    add_reference_to_stage(usd_path=cfg.robot_usd, prim_path=ROBOT_PRIM)
    position, orientation = start_pose(core)
    robot = world.scene.add(SingleArticulation(ROBOT_PRIM, name="robot", position=position, orientation=orientation))
    contact = ContactSensor(prim_path=f"{ROBOT_PRIM}/{cfg.base_link}/base_contact", name="base_contact")
    build_graph(og)
    world.reset()
    order = policy.joint_order(robot.dof_names)  # policy_values = sim_values[order]
    n = len(robot.dof_names)
    robot.get_articulation_controller().set_gains(kps=np.full(n, cfg.stiffness), kds=np.full(n, cfg.damping))
    robot.set_max_efforts(np.full(n, cfg.effort_limit))
    defaults = np.zeros(n)
    defaults[order] = policy.DEFAULT_JOINT_POS
    robot.set_joint_positions(defaults)
    world.play()

    attr = {k: og.Controller.attribute(attribute_path(v)) for k, v in {**WRITES, **READS}.items()}
    print(f"[isaac runner] {scenario.name}: send the goal with rviz or:\n  {goal_command(core)}", flush=True)
    last_action = np.zeros(policy.NUM_JOINTS)
    while app.is_running():
        t = float(world.current_time)
        pos, quat = robot.get_world_pose()
        state = RobotState(
            position=np.asarray(pos, dtype=np.float64),
            quat_wxyz=np.asarray(quat, dtype=np.float64),
            lin_vel_world=np.asarray(robot.get_linear_velocity(), dtype=np.float64),
            ang_vel_world=np.asarray(robot.get_angular_velocity(), dtype=np.float64),
            joint_pos=np.asarray(robot.get_joint_positions(), dtype=np.float64)[order],
            joint_vel=np.asarray(robot.get_joint_velocities(), dtype=np.float64)[order],
            base_contact_force=float(contact.get_current_frame().get("force", 0.0)),
        )
        count = og.Controller.get(attr["cmd_count"])
        core.commands.poll(t, int(count), og.Controller.get(attr["cmd_linear"]), og.Controller.get(attr["cmd_angular"]))
        if core.judge(t, state, policy.POLICY_DT):
            break
        action = forward(core.observation(state, last_action, t))
        targets = np.empty(n)
        targets[order] = policy.joint_targets(action)
        robot.apply_action(ArticulationAction(joint_positions=targets))
        last_action = np.where(np.isfinite(action), action, 0.0)
        for key, value in (("clock_stamp", t), ("odom_stamp", t), *core.odometry_values(state).items()):
            og.Controller.set(attr[key], value)
        if core.map_due(t):
            points = core.map_points(state)
            og.Controller.set(attr["map_points"], points)
            og.Controller.set(attr["map_bytes"], int(points.nbytes))
            og.Controller.set(attr["map_stamp"], t)
            og.Controller.set(attr["map_fire"], True)
        world.step(render=True)  # one policy step of physics, then the graph publishes what was set above
    core.write(cfg.out, {"stage": str(stage), "robot_usd": cfg.robot_usd, "policy": cfg.policy, "isaac_sim": "5.x"})
    print(f"[isaac runner] {core.episode.outcome} after {core.episode.time_s:.1f} s -> {cfg.out}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
