"""``fdm_planner``: the lifecycle ROS 2 node that drives a robot with the navigation planners of ``fdm_nav.planner``.

An adapter: messages -> numbers (``dynamics_stack.ros.nav_convert``) -> the
control cycle (``fdm_nav.control_cycle``: every decision and its reason) ->
messages (``fdm_nav.markers`` for rviz). Parameters: ``PlannerNodeCfg``
(``fdm_nav.node_cfg``). Topics, statuses and the safety rules: docs/ros_nodes.md.

A message that cannot be used is dropped, counted (``dropped`` in ~/status)
and logged at most once per second per input. Lifecycle: configure (settings
validated, model loaded), activate (timer); deactivate, shutdown and process
exit publish one zero command first; nothing is published while inactive.

``main`` spins a single-threaded executor: rclpy's multi-threaded one kept its
main thread busy, holding the GIL, while a cycle waited for its plan, and
starved the planning thread (6-8 Hz, most cycles overrun; single-threaded:
9.9 Hz, none). The callback groups still keep inputs apart from the cycle and
the lifecycle services under any executor.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from typing import Any

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseStamped, Twist, TwistStamped
from nav_msgs.msg import Odometry
from nav_msgs.msg import Path as PathMsg
from rcl_interfaces.msg import SetParametersResult
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.duration import Duration
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.qos import DurabilityPolicy, QoSProfile, qos_profile_sensor_data
from sensor_msgs.msg import PointCloud2
from std_msgs.msg import String
from visualization_msgs.msg import MarkerArray

from dynamics_stack.checkpoint import ModelFileError
from dynamics_stack.config import ConfigError
from dynamics_stack.ros.diagnostics import diagnostics
from dynamics_stack.ros.grid_map_convert import elevation_map_type, grid_map_to_grid
from dynamics_stack.ros.nav_convert import (
    MessageError,
    elevation_cloud_to_grid,
    make_twist,
    odometry_to_sample,
    path_to_xy,
    pose_stamped_to_xyyaw,
    sec_to_stamp,
)
from dynamics_stack.ros.node_params import declare_parameters, read_parameters
from dynamics_stack.ros.spin import run_node
from dynamics_stack.ros.stamps import now_sec
from fdm_nav.control_cycle import ControlCycle, Decision, InputRefused
from fdm_nav.markers import plan_path, rollout_markers
from fdm_nav.node_cfg import PlannerNodeCfg
from fdm_nav.runner_contract import CMD_VEL, ELEVATION_MAP, GOAL_POSE, ODOMETRY
from fdm_nav.safety import DropCounter

# A global planner publishes its route once, often as soon as the goal arrives, which can be before its
# publisher and this node's subscription have found each other (discovery is asynchronous; in 1 of 5 two-process
# runs under load the route was lost that way). A transient-local subscription gets the last route of a
# publisher that keeps it (terrain_sim's, a latched one) when they match, however late; the volatile one beside
# it takes routes from publishers that keep none (Nav2's planner_server), which a transient-local subscription
# cannot match. A route received twice is used once (``ControlCycle.set_route``).
ROUTE_LATCHED_QOS = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)

# Sensor-data QoS (best effort, volatile) with room for a whole cycle of 50 Hz odometry waiting in the queue.
ODOM_QOS = QoSProfile(
    depth=20, reliability=qos_profile_sensor_data.reliability, durability=qos_profile_sensor_data.durability
)
SETUP_ERRORS = (ConfigError, ValueError, TypeError, OSError, ModelFileError)  # refused settings or model files
HEALTHY = ("ok", "idle", "goal_reached")  # statuses reported as OK on /diagnostics


class PlannerNode(LifecycleNode):
    """See the module docstring."""

    def __init__(self, node_name: str = "fdm_planner", **kwargs):
        super().__init__(node_name, **kwargs)
        declare_parameters(self, PlannerNodeCfg)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.cycle = ControlCycle()
        self.drops = DropCounter()
        self.received: Counter[str] = Counter()  # messages per input, whatever became of them
        self._inputs_group = MutuallyExclusiveCallbackGroup()
        self._map_group = MutuallyExclusiveCallbackGroup()
        self._diag_group = MutuallyExclusiveCallbackGroup()
        self._pub_lock = threading.Lock()  # a deactivation cannot interleave with a command being published
        self._pending: PlannerNodeCfg | None = None  # valid live update, applied between cycles
        self._pubs: dict[str, Any] = {}
        self._subs: list[Any] = []
        self._timer = None
        self._diag_timer = None
        self._active = False

    @property
    def settings(self) -> PlannerNodeCfg | None:
        """The settings in use (None while unconfigured)."""
        return self.cycle.cfg

    # ------------------------------------------------------------------ parameters

    def _on_set_parameters(self, params) -> SetParametersResult:
        try:
            cfg = read_parameters(self, PlannerNodeCfg, params)
            self.cycle.check(cfg)
        except (ConfigError, ValueError) as exc:
            self.get_logger().warning(f"parameters refused, previous values kept: {exc}")
            return SetParametersResult(successful=False, reason=str(exc))
        if self.settings is not None:
            self._pending = cfg  # applied by the next control cycle, between plans
        return SetParametersResult(successful=True)

    def _apply_pending(self) -> None:
        cfg, self._pending = self._pending, None
        old_rate = self.settings.control_rate
        try:
            self.cycle.configure(cfg)
        except SETUP_ERRORS as exc:  # e.g. a model file that went missing: keep the old planner
            self.get_logger().error(f"new parameters could not be applied: {exc}")
            return
        if cfg.control_rate != old_rate and self._timer is not None:
            self._timer.cancel()
            self.destroy_timer(self._timer)
            self._timer = self.create_timer(self.cycle.period, self._on_timer)

    # ------------------------------------------------------------------ lifecycle

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            cfg = read_parameters(self, PlannerNodeCfg)
            map_msg_type = elevation_map_type(cfg.map_type)  # 'gridmap' without grid_map_msgs: refused
            self.cycle.configure(cfg)
        except SETUP_ERRORS as exc:  # nothing was changed: still unconfigured
            self.get_logger().error(f"configure failed: {exc}")
            self.cycle.status, self.cycle.reason = "unconfigured", f"configure failed: {exc}"
            return TransitionCallbackReturn.FAILURE
        self._pubs = {
            "cmd_vel": self.create_lifecycle_publisher(
                TwistStamped if cfg.cmd_vel_stamped else Twist, CMD_VEL.name, 10
            ),
            "plan": self.create_lifecycle_publisher(PathMsg, "~/plan", 1),
            "rollouts": self.create_lifecycle_publisher(MarkerArray, "~/rollouts", 1),
            "status": self.create_lifecycle_publisher(String, "~/status", 10),
            "diagnostics": self.create_lifecycle_publisher(DiagnosticArray, "/diagnostics", 10),
        }
        subscriptions = (  # (type, topic, callback, queue, callback group)
            (Odometry, ODOMETRY.name, self._on_odometry, ODOM_QOS, self._inputs_group),
            (map_msg_type, ELEVATION_MAP.name, self._on_map, QoSProfile(depth=2), self._map_group),
            (PoseStamped, GOAL_POSE.name, self._on_goal, QoSProfile(depth=5), self._inputs_group),
            (PathMsg, "route", self._on_route, QoSProfile(depth=1), self._inputs_group),
            (PathMsg, "route", self._on_route, ROUTE_LATCHED_QOS, self._inputs_group),
        )
        self._subs = [self.create_subscription(*sub[:4], callback_group=sub[4]) for sub in subscriptions]
        self.cycle.status, self.cycle.reason = "inactive", ""
        self.get_logger().info(
            f"configured: {cfg.planner_type} planner, backend {cfg.backend}, K={cfg.planner.mppi.num_samples}, "
            f"{cfg.control_rate:g} Hz"
        )
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        ret = super().on_activate(state)
        self._active = True
        self.cycle.status, self.cycle.reason = "idle", "no goal"
        self._timer = self.create_timer(self.cycle.period, self._on_timer)
        self._diag_timer = self.create_timer(1.0, self._publish_diagnostics, callback_group=self._diag_group)
        return ret

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_and_quiet("deactivated")
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release()
        return super().on_cleanup(state)

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        if self._active:
            self._stop_and_quiet("shutdown")
        self._release()
        return super().on_shutdown(state)

    def on_exit(self) -> None:
        """Process exit (Ctrl-C, SIGTERM): one zero command if active, delivered before the process ends."""
        if self._active and rclpy.ok(context=self.context):
            self._stop_and_quiet("shutdown")
            pub = self._pubs.get("cmd_vel")
            if pub is not None:  # the process is about to end: let reliable subscribers receive that zero
                pub.wait_for_all_acked(Duration(seconds=1.0))

    def _stop_and_quiet(self, why: str) -> None:
        """Publish one zero command while the publisher is still active, then stop the cycle."""
        with self._pub_lock:  # a cycle running in another thread cannot publish after this zero
            if self._active:
                self._send(np.zeros(3), stop=True)
                self.cycle.status, self.cycle.reason = "inactive", why
                self._publish_status()
            self._active = False
        for timer in (self._timer, self._diag_timer):
            if timer is not None:
                timer.cancel()
                self.destroy_timer(timer)
        self._timer = self._diag_timer = None

    def _release(self) -> None:
        self.cycle.close()
        self.cycle = ControlCycle()  # unconfigured, with a fresh planning thread
        for sub in self._subs:
            self.destroy_subscription(sub)
        for pub in self._pubs.values():
            self.destroy_lifecycle_publisher(pub)
        self._subs, self._pubs = [], {}

    # ------------------------------------------------------------------ inputs

    def _use(self, name: str, use, msg) -> bool:
        """Count a ``name`` message and hand it to ``use``; an unusable one is dropped, counted, logged (1/s)."""
        self.received[name] += 1
        try:
            use(msg)
        except (MessageError, InputRefused) as exc:
            if self.drops.drop(name):
                self.get_logger().warning(f"dropped {name} message ({self.drops.counts[name]} so far): {exc}")
            return False
        return True

    def _on_odometry(self, msg: Odometry) -> None:
        used = self._use("odometry", lambda m: self.cycle.take_odometry(odometry_to_sample(m)), msg)
        now = self._now()
        if used and self.settings is not None and self.cycle.due_on_odometry(time.monotonic(), now, self.cycle.odom.t):
            self._run_cycle()

    def _on_map(self, msg) -> None:
        """An elevation map: sensor_msgs/PointCloud2, or grid_map_msgs/GridMap where that package exists."""
        self._use("elevation_map", self._take_map, msg)

    def _take_map(self, msg) -> None:
        cfg = self.settings
        if cfg is None:
            return
        self.cycle.check_frame("elevation_map", msg.header.frame_id)
        if isinstance(msg, PointCloud2):
            self.cycle.take_map(elevation_cloud_to_grid(msg, cfg.map_resolution, cfg.map_max_cells))
        else:
            self.cycle.take_map(grid_map_to_grid(msg, cfg.map_layer, cfg.map_max_cells))

    def _on_goal(self, msg: PoseStamped) -> None:
        if self._use("goal_pose", lambda m: self.cycle.set_goal(*pose_stamped_to_xyyaw(m)), msg):
            self.get_logger().info(f"new goal ({self.cycle.goal[0]:.2f}, {self.cycle.goal[1]:.2f})")

    def _on_route(self, msg: PathMsg) -> None:
        self._use("route", lambda m: self.cycle.set_route(*path_to_xy(m)), msg)

    # ------------------------------------------------------------------ cycle

    def _now(self) -> float:
        return now_sec(self)

    def _on_timer(self) -> None:
        """The control-rate timer: a cycle unless odometry started one in the last period."""
        if self.settings is not None and self.cycle.due_on_timer(time.monotonic()):
            self._run_cycle()

    def _run_cycle(self) -> None:
        if not self._active or self.settings is None:
            return
        if self._pending is not None and not self.cycle.busy:
            self._apply_pending()
        decision = self.cycle.tick(self._now(), time.monotonic())
        self._publish_plan(decision)
        if decision.command is not None:
            with self._pub_lock:  # not after a deactivation that happened meanwhile
                if self._active:
                    self._send(decision.command, decision.stop)
        self._publish_status()

    # ------------------------------------------------------------------ outputs

    def _send(self, command: np.ndarray, stop: bool) -> None:
        out = self.cycle.gate(command, stop)
        pub = self._pubs.get("cmd_vel")
        if pub is None:
            return
        cfg = self.settings or PlannerNodeCfg()
        odom = self.cycle.odom
        frame = cfg.base_frame or (odom.child_frame if odom is not None else "")
        pub.publish(make_twist(out, cfg.cmd_vel_stamped, frame, self._now()))

    def _status(self) -> dict[str, Any]:
        return {**self.cycle.report(), "dropped": dict(self.drops.counts)}

    def _publish_status(self) -> None:
        pub = self._pubs.get("status")
        if pub is not None:
            pub.publish(String(data=json.dumps(self._status())))

    def _publish_diagnostics(self) -> None:
        pub = self._pubs.get("diagnostics")
        if pub is None:
            return
        report = self._status()
        status, reason = report["state"], report["reason"]
        values = {k: v for k, v in report.items() if k != "dropped"}
        values.update({f"dropped_{k}": v for k, v in report["dropped"].items()})
        message = f"{status}: {reason}" if reason else status
        name = f"{self.get_name()}: navigation safety"
        pub.publish(diagnostics(name, status in HEALTHY, message, values, sec_to_stamp(self._now())))

    def _publish_plan(self, decision: Decision) -> None:
        if decision.plan is None:
            return
        cfg = self.settings
        self._pubs["plan"].publish(plan_path(decision.plan, decision.origin))
        markers = rollout_markers(
            decision.plan, decision.origin, cfg.rollout_markers, cfg.marker_color, 3.0 * self.cycle.period
        )
        if markers is not None:
            self._pubs["rollouts"].publish(markers)


def main(args: list[str] | None = None) -> None:
    """Entry point of the ``fdm_planner`` executable."""
    run_node(PlannerNode, args)


if __name__ == "__main__":
    main()
