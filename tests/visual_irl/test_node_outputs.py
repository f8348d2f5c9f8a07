"""What the irl_reward node publishes, over real loopback DDS: joint targets and trajectories within the robot's
limits on replayed demonstrations, no absurd point on the skeleton, and input loss under a burst in /diagnostics."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from geometry_msgs.msg import Vector3Stamped
from rclpy.executors import SingleThreadedExecutor
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import JointState, PointCloud2
from std_msgs.msg import Header
from trajectory_msgs.msg import JointTrajectory
from visualization_msgs.msg import MarkerArray

from dynamics_stack.ros.pointcloud import array_to_pointcloud2
from dynamics_stack.ros.stamps import stamp_to_sec
from visual_irl.camera import CameraCfg
from visual_irl.demos import DemoGenCfg, generate_demo
from visual_irl.features import NEEDED
from visual_irl.joint_limits import check_stream
from visual_irl.node import IrlRewardNode

KP_FIELDS, OBJ_FIELDS = ("x", "y", "z", "confidence"), ("x", "y", "z", "blemished")


def _header(t: float) -> Header:
    ns = round(t * 1e9)
    return Header(stamp=Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000), frame_id="camera_optical_frame")


class Rig:
    """The node, a camera publishing keypoints and the onion, and a listener recording every output."""

    def __init__(self, ros_context, card, **params):
        self.node = IrlRewardNode(
            context=ros_context,
            parameter_overrides=[Parameter("model", value=str(card.path))]
            + [Parameter(k, value=v) for k, v in params.items()],
        )
        self.camera = Node("fake_camera", context=ros_context)
        self.listener = Node("listener", context=ros_context)
        self.got: dict[str, list] = {k: [] for k in ("reward", "joints", "trajectory", "markers", "diagnostics")}
        for kind, topic, name in (
            (Vector3Stamped, "reward", "reward"),
            (JointState, "joint_targets", "joints"),
            (JointTrajectory, "joint_trajectory", "trajectory"),
            (MarkerArray, "skeleton", "markers"),
            (DiagnosticArray, "/diagnostics", "diagnostics"),
        ):
            self.listener.create_subscription(kind, topic, self.got[name].append, 1000)
        self.pub_kp = self.camera.create_publisher(PointCloud2, "keypoints", qos_profile_sensor_data)
        self.pub_obj = self.camera.create_publisher(PointCloud2, "objects", qos_profile_sensor_data)
        assert self.node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        assert self.node.trigger_activate() == TransitionCallbackReturn.SUCCESS

    def nodes(self):
        return (self.node, self.camera, self.listener)

    def frame(self, executor, spin_until, t: float, kp: np.ndarray, conf: np.ndarray, onion: np.ndarray) -> None:
        """Publish the onion, then the keypoints of one frame stamped t, and wait until the node has counted it."""
        header = _header(t)
        self.pub_obj.publish(array_to_pointcloud2(onion[None], OBJ_FIELDS, header=header))
        stamp = stamp_to_sec(header.stamp)
        assert spin_until(executor, lambda: self.node.cycle.onion_stamp == stamp)
        seen = self.node.cycle.counts["frames"]
        pts = np.concatenate([kp, conf[:, None]], axis=1)
        self.pub_kp.publish(array_to_pointcloud2(pts, KP_FIELDS, header=header))
        assert spin_until(executor, lambda: self.node.cycle.counts["frames"] > seen), f"frame {t} never arrived"

    def destroy(self) -> None:
        for n in self.nodes():
            n.destroy_node()


@pytest.fixture
def rig(ros_context, tiny_model):
    made: list[Rig] = []

    def make(**params) -> Rig:
        made.append(Rig(ros_context, tiny_model[2], **params))
        return made[-1]

    yield make
    for r in made:
        r.destroy()


def _executor(ros_context, rig: Rig) -> SingleThreadedExecutor:
    executor = SingleThreadedExecutor(context=ros_context)
    for n in rig.nodes():
        executor.add_node(n)
    return executor


def _demo_frames(quality: str, seed: int):
    demo = generate_demo(DemoGenCfg(camera=CameraCfg(dropout=0.0, depth_hole=0.0)), quality, seed=seed)
    blemished = 1.0 if "blemished" in demo.labels[0] else 0.0
    for i in range(0, len(demo), 3):  # 10 Hz, as the issue replayed them
        yield demo.keypoints[i].astype(np.float64), np.append(np.nan_to_num(demo.objects[i, 0]), blemished)


def test_replayed_demonstrations_give_joint_targets_and_trajectories_within_the_limits(ros_context, spin_until, rig):
    """Good, suboptimal and gappy (frames lost, frames with a NaN keypoint) demonstrations at 10 Hz, one after
    another: every published joint-target pair is within the Panda's velocity and acceleration limits, from the
    rest posture on; every trajectory starts at its joint target and stops within the limits."""
    r = rig(robot="panda", expected_rate_hz=10.0)
    executor = _executor(ros_context, r)
    assert spin_until(
        executor, lambda: r.pub_kp.get_subscription_count() > 0 and r.pub_obj.get_subscription_count() > 0
    )
    t0, sent = 100.0, 0
    for quality, seed, gappy in (("good", 5, False), ("suboptimal", 6, False), ("good", 7, True)):
        for k, (kp, onion) in enumerate(_demo_frames(quality, seed)):
            t = t0 + 0.1 * k
            conf = np.full(17, 0.95)
            if gappy and k % 20 in (8, 9, 10, 11):
                continue  # never sent: 0.5 s without frames
            if gappy and k % 20 == 3:
                kp = kp.copy()
                kp[NEEDED[0], 0] = np.nan  # sent, and dropped
            r.frame(executor, spin_until, t, kp, conf, onion)
            sent += 1
        t0 += 60.0  # the next demonstration after a pause
    n = r.node.cycle.counts["joint_targets"]
    assert n > 150 and spin_until(executor, lambda: len(r.got["joints"]) >= n and len(r.got["trajectory"]) >= n)
    joints, trajectories = r.got["joints"], r.got["trajectory"]
    t = np.array([stamp_to_sec(m.header.stamp) for m in joints])
    q = np.array([m.position for m in joints])
    limits, cfg = r.node.cycle.limiter.limits, r.node.cycle.cfg
    assert joints[0].name == list(limits.names) == [f"panda_joint{k}" for k in range(1, 8)]
    report = check_stream(t, q, limits, cfg.limits.max_dt_s, 0.1, start=r.node.cycle.retargeter.home)
    assert report["pairs_over_velocity"] == report["pairs_over_acceleration"] == 0, report
    assert report["targets_outside_position_limits"] == 0 and np.isfinite(q).all()
    assert max(j["max_speed"] / j["velocity_limit"] for j in report["joints"].values()) > 0.99  # the limits worked
    for js, traj in zip(joints, trajectories, strict=True):
        assert traj.joint_names == js.name and traj.header.stamp.sec == traj.header.stamp.nanosec == 0
        points = np.array([p.positions for p in traj.points])
        times = np.array([p.time_from_start.sec + 1e-9 * p.time_from_start.nanosec for p in traj.points])
        assert np.array_equal(points[0], js.position)
        dt = times[0]
        assert np.allclose(np.diff(times), dt, atol=1e-8) and 0 < dt <= cfg.limits.max_dt_s
        seg = np.diff(points, axis=0) / dt
        assert np.all(np.abs(seg) <= limits.velocity * (1 + 1e-6))
        assert np.all(np.abs(seg[-1:]) <= limits.acceleration * dt * (1 + 1e-6))  # it ends at rest
        assert np.all((points >= limits.lower - 1e-9) & (points <= limits.upper + 1e-9))
    assert r.node.cycle.counts["frames"] == sent


def test_absurd_keypoints_never_reach_any_output(ros_context, spin_until, rig):
    """Keypoints at 1e9 m: no reward or joint targets when the state needs them, and no marker point beyond
    max_range_m ever; a far point the state does not need (the nose) is left off the skeleton, the rest stays."""
    r = rig(robot="panda", report_period_s=0.2)
    executor = _executor(ros_context, r)
    assert spin_until(
        executor, lambda: r.pub_kp.get_subscription_count() > 0 and r.pub_obj.get_subscription_count() > 0
    )
    frames = list(_demo_frames("good", 5))
    nose, shown = 0, []
    for k in range(12):
        kp, onion = frames[10 + k]
        kp = kp.copy()
        far = NEEDED[k % len(NEEDED)] if k % 3 == 0 else nose if k % 3 == 1 else None  # needed: no reward
        visible = np.isfinite(kp).all(axis=1)  # the points the camera saw (the legs are off the image)
        if far is not None:
            assert visible[far]
            kp[far] = [1e9, -1e9, 1e9]
            visible[far] = False
        shown.append(int(visible.sum()))
        r.frame(executor, spin_until, 100.0 + 0.1 * k, kp, np.full(17, 0.95), onion)
    assert spin_until(executor, lambda: len(r.got["markers"]) >= 12 and len(r.got["reward"]) >= 8)
    counts = r.node.cycle.counts
    assert counts["dropped_out_of_range"] == 4 and counts["rewarded"] == 8 and counts["joint_targets"] == 8
    assert len(r.got["reward"]) == len(r.got["joints"]) == 8  # none for the four frames with a needed point far
    max_range = r.node.cycle.cfg.max_range_m
    for k, markers in enumerate(r.got["markers"]):
        points = np.array([[p.x, p.y, p.z] for m in markers.markers for p in m.points])
        assert np.isfinite(points).all() and np.linalg.norm(points, axis=1).max() <= max_range
        assert len(markers.markers[0].points) == shown[k]  # every point seen, less the far one
    assert spin_until(executor, lambda: any("dropped_out_of_range" in _values(d) for d in r.got["diagnostics"]))


def _values(diag: DiagnosticArray) -> dict[str, str]:
    return {kv.key: kv.value for s in diag.status for kv in s.values}


def test_a_burst_shows_its_loss_in_diagnostics(ros_context, spin_until, rig):
    """500 frames stamped at 30 Hz, sent as fast as Python publishes: the node (spinning in its own thread)
    answers the ones it sees; /diagnostics says how many of the 500 it received, and WARN."""
    r = rig(robot="panda", max_object_age_s=100.0, report_period_s=0.2)
    node_exec = SingleThreadedExecutor(context=ros_context)
    node_exec.add_node(r.node)
    main_exec = SingleThreadedExecutor(context=ros_context)
    main_exec.add_node(r.camera)
    main_exec.add_node(r.listener)
    spinner = threading.Thread(target=node_exec.spin, daemon=True)
    spinner.start()
    try:
        assert spin_until(main_exec, lambda: r.pub_kp.get_subscription_count() > 0)
        kp, onion = next(_demo_frames("good", 5))
        pts = np.concatenate([kp, np.full((17, 1), 0.95)], axis=1)
        r.pub_obj.publish(array_to_pointcloud2(onion[None], OBJ_FIELDS, header=_header(100.0)))
        assert spin_until(main_exec, lambda: r.node.cycle.onion_stamp is not None)
        stamps = [100.0 + k / 30 for k in range(500)]
        r.pub_kp.publish(array_to_pointcloud2(pts, KP_FIELDS, header=_header(stamps[0])))
        assert spin_until(main_exec, lambda: r.node.cycle.input.newest is not None)  # the first frame is in
        for t in stamps[1:]:  # the burst
            r.pub_kp.publish(array_to_pointcloud2(pts, KP_FIELDS, header=_header(t)))
        last = stamp_to_sec(_header(stamps[-1]).stamp)

        def last_in() -> bool:  # best effort may lose the last one too: send it again (a repeat is not counted)
            if r.node.cycle.input.newest != last:
                r.pub_kp.publish(array_to_pointcloud2(pts, KP_FIELDS, header=_header(stamps[-1])))
            return r.node.cycle.input.newest == last

        assert spin_until(main_exec, last_in)
        received = r.node.cycle.input.received_total
        assert 2 <= received < 500  # the burst outran the node: most frames never reached it

        def reported() -> bool:
            return any(_values(d).get("expected_total") == "500" for d in r.got["diagnostics"])

        assert spin_until(main_exec, reported)
        final = next(d for d in r.got["diagnostics"] if _values(d).get("expected_total") == "500")
        values = _values(final)
        assert values["received_total"] == str(received) and values["expected_rate_hz"] == "30.0"
        burst = [d for d in r.got["diagnostics"] if int(_values(d).get("expected_last_period", 0)) > 0]
        assert any(
            d.status[0].level == DiagnosticStatus.WARN and "expected this period" in d.status[0].message for d in burst
        )
        assert r.node.cycle.counts["rewarded"] >= received - r.node.cycle.dropped  # every frame it saw was answered
    finally:
        node_exec.shutdown()
        spinner.join(timeout=10)
        main_exec.shutdown()
