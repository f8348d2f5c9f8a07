"""``fdm_planner``: the lifecycle ROS 2 node that drives a robot with the navigation planners of ``fdm_nav.planner``.

A thin adapter (DESIGN.md "core vs node"): messages -> the planner's inputs
(``fdm_nav.node_inputs``) -> ``NavPlanner.plan`` -> safety gates
(``fdm_nav.safety``) -> messages. Each control cycle (``control_rate``, 10 Hz)
does what ``fdm_nav.closed_loop`` does with the simulator's state:

1. no goal: quiet. Odometry or map missing or older than its limit (by
   stamp): zero for ``stale_hold`` s, then quiet, status ``stale_input``.
2. height scan at the latest odometry pose from the latest elevation map
   (sensor_msgs/PointCloud2, or grid_map_msgs/GridMap where that package is
   importable: ``map_type``, ``map_layer``);
   proprio history from odometry (20 Hz); goal = the goal pose, or a carrot
   ``lookahead`` m along a route received on ``route``.
3. plan on a worker thread, waiting at most ``plan_budget`` s; an overrun
   replays the previous plan shifted in time for ``max_overrun_cycles``
   cycles, then zero (status ``overrun``).
4. goal reached -> zero (goal cleared); best plan's risk above the threshold
   -> zero (``blocked_by_risk``).
5. ``CommandGate`` last: non-finite -> zero, velocity and acceleration bounds.

Frames: no tf2 (not installable here). The odometry's ``header.frame_id`` is
the fixed frame (REP-105 ``odom``); goals, maps and routes must be stamped
in it (or carry an empty frame_id), otherwise they are refused with a reason.
Paths and markers are published in it.

Lifecycle: configure (parameters validated, model loaded), activate (timer),
deactivate and shutdown publish one zero command first; nothing is published
while inactive. ``autostart`` (default true) configures and activates at
start-up, the role of Nav2's lifecycle manager.
"""

from __future__ import annotations

import concurrent.futures
import json
import math
import threading
import time
from dataclasses import dataclass, fields, is_dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rclpy
import torch
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import Point, PoseStamped, Twist, TwistStamped
from nav_msgs.msg import Odometry
from nav_msgs.msg import Path as PathMsg
from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.duration import Duration
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.qos import QoSProfile, qos_profile_sensor_data
from sensor_msgs.msg import PointCloud2
from std_msgs.msg import ColorRGBA, Header, String
from visualization_msgs.msg import Marker, MarkerArray

from dynamics_stack.checkpoint import ModelFileError
from dynamics_stack.config import ConfigError, cfg_from_ros_params, cfg_to_ros_params, field_docs
from dynamics_stack.ros.grid_map_convert import grid_map_to_grid
from dynamics_stack.ros.nav_convert import (
    MessageError,
    elevation_cloud_to_grid,
    make_path,
    make_twist,
    odometry_to_sample,
    path_to_xy,
    pose_stamped_to_xyyaw,
    sec_to_stamp,
)
from dynamics_stack.ros.spin import init_with_stop_flag, spin_until_stopped
from fdm_nav.global_route import Carrot
from fdm_nav.hazard_guard import LocalMap
from fdm_nav.node_cfg import CommandGateCfg, PlannerNodeCfg
from fdm_nav.node_inputs import OdomHistory, grid_height_map, scan_from_map
from fdm_nav.planner import NavPlanner, PlannerCfg, TraversabilityCfg
from fdm_nav.safety import CommandGate, DropCounter, OverrunFallback, StaleHold

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
# Sensor-data QoS (best effort, volatile) with room for a whole cycle of 50 Hz odometry waiting in the queue.
ODOM_QOS = QoSProfile(
    depth=20, reliability=qos_profile_sensor_data.reliability, durability=qos_profile_sensor_data.durability
)
PREFIXES = {"": PlannerNodeCfg, "gate": CommandGateCfg, "planner": PlannerCfg, "traversability": TraversabilityCfg}


def default_parameters() -> dict[str, Any]:
    """Every parameter the node declares, with its default (flat dotted names)."""
    out: dict[str, Any] = {}
    for prefix, cls in PREFIXES.items():
        out.update(cfg_to_ros_params(cls(), prefix))
    return out


def parameter_docs() -> dict[str, str]:
    """Description of every parameter, from the field docstrings of the config dataclasses."""
    docs: dict[str, str] = {}

    def walk(cfg: Any, prefix: str) -> None:
        own = field_docs(type(cfg))
        for f in fields(cfg):
            name = f"{prefix}.{f.name}" if prefix else f.name
            value = getattr(cfg, f.name)
            if is_dataclass(value):
                walk(value, name)
            else:
                docs[name] = own.get(f.name, "")

    for prefix, cls in PREFIXES.items():
        walk(cls(), prefix)
    return docs


@dataclass(frozen=True)
class Settings:
    """All validated settings of the node."""

    node: PlannerNodeCfg
    gate: CommandGateCfg
    planner: PlannerCfg
    traversability: TraversabilityCfg


def settings_from_parameters(params: dict[str, Any]) -> Settings:
    """Validate flat parameters into ``Settings``; ConfigError/ValueError name the bad field."""
    plain = {
        k: (list(v) if not isinstance(v, (str, bytes)) and hasattr(v, "__iter__") else v) for k, v in params.items()
    }
    node = {k: v for k, v in plain.items() if "." not in k}
    return Settings(
        node=cfg_from_ros_params(PlannerNodeCfg, node, source="fdm_planner parameters"),
        gate=cfg_from_ros_params(CommandGateCfg, plain, "gate", source="fdm_planner parameters"),
        planner=cfg_from_ros_params(PlannerCfg, plain, "planner", source="fdm_planner parameters"),
        traversability=cfg_from_ros_params(TraversabilityCfg, plain, "traversability", source="fdm_planner parameters"),
    )


def build_planner(s: Settings) -> NavPlanner:
    """The planner the settings name (the FDM's model card is verified on load)."""
    from fdm_nav.planner import FdmPlanner, HeuristicPlanner

    if s.node.device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {s.node.device!r}: CUDA is not available on this machine")
    if s.node.planner_type == "heuristic":
        return HeuristicPlanner(s.planner, s.traversability, device=s.node.device)
    from dynamics_stack.runtime import load_runtime

    model = Path(s.node.model)
    if not model.is_absolute() and not model.exists():
        model = PACKAGE_ROOT / model
    return FdmPlanner(load_runtime(model, backend=s.node.backend, device=s.node.device), s.planner, s.node.device)


def map_message_type(map_type: str) -> type:
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


def _rgba(v: float, alpha: float = 0.6) -> ColorRGBA:
    """Green (0) -> yellow -> red (1)."""
    v = min(max(v, 0.0), 1.0)
    return ColorRGBA(r=min(1.0, 2 * v), g=min(1.0, 2 * (1 - v)), b=0.0, a=alpha)


def _to_fixed(poses: np.ndarray, origin: np.ndarray) -> np.ndarray:
    """Base-frame poses [..., 3] at ``origin`` (x, y, yaw) -> the fixed frame."""
    c, s = math.cos(origin[2]), math.sin(origin[2])
    x = origin[0] + c * poses[..., 0] - s * poses[..., 1]
    y = origin[1] + s * poses[..., 0] + c * poses[..., 1]
    return np.stack([x, y, poses[..., 2] + origin[2]], axis=-1)


class PlannerNode(LifecycleNode):
    """See the module docstring."""

    def __init__(self, node_name: str = "fdm_planner", **kwargs):
        super().__init__(node_name, **kwargs)
        docs = parameter_docs()
        for name, value in default_parameters().items():
            self.declare_parameter(name, value, ParameterDescriptor(description=docs.get(name, "")))
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.drops = DropCounter()
        # Callback groups keep inputs, maps and diagnostics apart from the cycle timer and the lifecycle
        # services (a transition never runs in the middle of a cycle); the lock guards the input state between
        # them. main() spins a single-threaded executor: rclpy's multi-threaded one kept its main thread at
        # 100 % CPU, holding the GIL, while a cycle waited for its plan, and that starved the planning thread
        # (measured: planning thread at 19 % CPU, 6-8 Hz, most cycles overrun; single-threaded: 9.9 Hz, none).
        # Odometry queues during a cycle instead (subscription depth below).
        self._inputs_group = MutuallyExclusiveCallbackGroup()
        self._map_group = MutuallyExclusiveCallbackGroup()
        self._diag_group = MutuallyExclusiveCallbackGroup()
        self._lock = threading.Lock()
        self._pub_lock = threading.Lock()
        self._reset_requested = False
        self._last_cycle = -math.inf  # monotonic time of the last cycle (timer- or odometry-started)
        self.settings: Settings | None = None
        self.planner: NavPlanner | None = None
        self._pending: Settings | None = None
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._future: concurrent.futures.Future | None = None
        self._pubs: dict[str, Any] = {}
        self._subs: list[Any] = []
        self._timer = None
        self._diag_timer = None
        self._active = False
        self._reset_inputs()
        self.state, self.reason = "unconfigured", ""
        self.last_plan_ms = float("nan")
        self.last_risk = float("nan")
        self.last_odom_t: float | None = None

    def _reset_inputs(self) -> None:
        self.odom = None  # latest OdomSample
        self.grid = None  # latest ElevationGrid
        self.height_map = None
        self.goal: np.ndarray | None = None  # [3] x, y, yaw in the odometry frame
        self.carrot: Carrot | None = None
        self.history = OdomHistory()
        self.cmd_now = np.zeros(3)  # the command being tracked (last published)
        self.cmd_prev = np.zeros(3)

    # ------------------------------------------------------------------ parameters

    def _current_parameters(self) -> dict[str, Any]:
        return {name: self.get_parameter(name).value for name in default_parameters()}

    def _on_set_parameters(self, params) -> SetParametersResult:
        values = self._current_parameters()
        values.update({p.name: p.value for p in params})
        try:
            settings = settings_from_parameters(values)
        except (ConfigError, ValueError, TypeError) as exc:
            self.get_logger().warning(f"parameters refused, previous values kept: {exc}")
            return SetParametersResult(successful=False, reason=str(exc))
        if self.settings is not None:
            self._pending = settings  # applied by the next control cycle, between plans
        return SetParametersResult(successful=True)

    def _apply(self, settings: Settings) -> None:
        """Take new settings while configured (no plan in flight); rebuild what they change."""
        old = self.settings
        model_keys = ("model", "backend", "planner_type", "device")
        if (
            old is None
            or any(getattr(old.node, k) != getattr(settings.node, k) for k in model_keys)
            or (old.planner, old.traversability) != (settings.planner, settings.traversability)
        ):
            self.planner = build_planner(settings)  # raises before anything changed when the model is bad
        self.settings = settings
        if settings.node.threads:
            torch.set_num_threads(settings.node.threads)
        period = 1.0 / settings.node.control_rate
        last = self.gate.last if getattr(self, "gate", None) is not None else np.zeros(3)
        self.gate = CommandGate(settings.gate, period)
        self.gate.last = last
        since = self.stale.since if getattr(self, "stale", None) is not None else None
        self.stale = StaleHold(settings.node.stale_hold)
        self.stale.since = since  # a stale period in progress keeps its start
        previous = getattr(self, "fallback", None)
        self.fallback = OverrunFallback(settings.node.max_overrun_cycles, settings.planner.step_dt)
        if previous is not None and old is not None and old.planner == settings.planner:
            # Same planner: the last plan stays valid for overrun cycles (and counters go on).
            self.fallback.plan, self.fallback.t0, self.fallback.total = previous.plan, previous.t0, previous.total
        if old is not None and old.node.control_rate != settings.node.control_rate and self._timer is not None:
            self._timer.cancel()
            self.destroy_timer(self._timer)
            self._timer = self.create_timer(period, self._on_timer)

    # ------------------------------------------------------------------ lifecycle

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            self._apply(settings_from_parameters(self._current_parameters()))
            map_msg_type = map_message_type(self.settings.node.map_type)  # 'gridmap' without grid_map_msgs: refused
        except (ConfigError, ValueError, TypeError, OSError, ModelFileError) as exc:
            self.settings = None
            self.get_logger().error(f"configure failed: {exc}")
            self.state, self.reason = "unconfigured", f"configure failed: {exc}"
            return TransitionCallbackReturn.FAILURE
        cmd_type = TwistStamped if self.settings.node.cmd_vel_stamped else Twist
        self._pubs = {
            "cmd_vel": self.create_lifecycle_publisher(cmd_type, "cmd_vel", 10),
            "plan": self.create_lifecycle_publisher(PathMsg, "~/plan", 1),
            "rollouts": self.create_lifecycle_publisher(MarkerArray, "~/rollouts", 1),
            "status": self.create_lifecycle_publisher(String, "~/status", 10),
            "diagnostics": self.create_lifecycle_publisher(DiagnosticArray, "/diagnostics", 10),
        }
        self._subs = [
            self.create_subscription(
                Odometry, "odometry", self._on_odometry, ODOM_QOS, callback_group=self._inputs_group
            ),
            self.create_subscription(
                map_msg_type, "elevation_map", self._on_map, QoSProfile(depth=2), callback_group=self._map_group
            ),
            self.create_subscription(
                PoseStamped, "goal_pose", self._on_goal, QoSProfile(depth=5), callback_group=self._inputs_group
            ),
            self.create_subscription(
                PathMsg, "route", self._on_route, QoSProfile(depth=1), callback_group=self._inputs_group
            ),
        ]
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="fdm_plan")
        self.state, self.reason = "inactive", ""
        self.get_logger().info(
            f"configured: {self.settings.node.planner_type} planner, backend {self.settings.node.backend}, "
            f"K={self.settings.planner.mppi.num_samples}, {self.settings.node.control_rate:g} Hz"
        )
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        ret = super().on_activate(state)
        self._active = True
        self.state, self.reason = "idle", "no goal"
        self._timer = self.create_timer(1.0 / self.settings.node.control_rate, self._on_timer)
        self._diag_timer = self.create_timer(1.0, self._publish_diagnostics, callback_group=self._diag_group)
        return ret

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_and_quiet("deactivated")
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release()
        self.state, self.reason = "unconfigured", ""
        return super().on_cleanup(state)

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        if self._active:
            self._stop_and_quiet("shutdown")
        self._release()
        return super().on_shutdown(state)

    def _stop_and_quiet(self, why: str) -> None:
        """Publish one zero command while the publisher is still active, then stop the cycle."""
        with self._pub_lock:  # a cycle running in another thread cannot publish after this zero
            if self._active:
                self._send(np.zeros(3), stop=True)
                self.state, self.reason = "inactive", why
                self._publish_status()
            self._active = False
        for timer in (self._timer, self._diag_timer):
            if timer is not None:
                timer.cancel()
                self.destroy_timer(timer)
        self._timer = self._diag_timer = None

    def _release(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool, self._future = None, None
        for sub in self._subs:
            self.destroy_subscription(sub)
        for pub in self._pubs.values():
            self.destroy_lifecycle_publisher(pub)
        self._subs, self._pubs = [], {}
        self.settings, self.planner = None, None
        self._reset_inputs()

    def stop_for_exit(self) -> None:
        """Process exit (Ctrl-C, external shutdown): one zero command if active."""
        if self._active and rclpy.ok(context=self.context):
            self._stop_and_quiet("shutdown")
            pub = self._pubs.get("cmd_vel")
            if pub is not None:  # the process is about to end: let reliable subscribers receive that zero
                pub.wait_for_all_acked(Duration(seconds=1.0))

    # ------------------------------------------------------------------ inputs

    def _drop(self, name: str, exc: Exception) -> None:
        if self.drops.drop(name):
            self.get_logger().warning(f"dropped {name} message ({self.drops.counts[name]} so far): {exc}")

    def _frame_ok(self, name: str, frame: str) -> None:
        if self.odom is not None and frame and frame != self.odom.frame:
            raise MessageError(
                f"{name} frame '{frame}' is not the odometry frame '{self.odom.frame}' (no tf2 here: "
                "send it in the odometry frame)"
            )

    def _on_odometry(self, msg: Odometry) -> None:
        try:
            sample = odometry_to_sample(msg)
        except MessageError as exc:
            self._drop("odometry", exc)
            return
        with self._lock:
            self._take_odometry(sample)
        # A cycle as soon as (most of) a period has passed and fresh odometry is in: the command answers this
        # odometry rather than one that waited for the timer (up to a whole period of latency). Messages that
        # queued up during a cycle are too old to start one; the newest of them will.
        if self.settings is not None:
            period = 1.0 / self.settings.node.control_rate
            if time.monotonic() - self._last_cycle >= 0.85 * period and self._now() - sample.t < 0.5 * period:
                self._tick()

    def _take_odometry(self, sample) -> None:
        self.odom = sample
        if self.settings is None:
            return
        ground = self.grid.height_at(sample.position[0], sample.position[1]) if self.grid is not None else math.nan
        base_height = sample.position[2] - ground if math.isfinite(ground) else self.settings.node.base_height
        self.history.add(
            sample.t,
            sample.pose2d,
            sample.position[2],
            sample.quaternion,
            sample.linear,
            sample.angular,
            self.cmd_now,
            self.cmd_prev,
            float(np.clip(base_height, 0.0, 2.0 * self.settings.node.base_height)),
        )

    def _on_map(self, msg) -> None:
        """An elevation map: sensor_msgs/PointCloud2, or grid_map_msgs/GridMap where that package exists."""
        if self.settings is None:
            return
        n = self.settings.node
        try:
            self._frame_ok("elevation_map", msg.header.frame_id)
            if isinstance(msg, PointCloud2):
                grid = elevation_cloud_to_grid(msg, n.map_resolution, n.map_max_cells)
            else:
                grid = grid_map_to_grid(msg, n.map_layer, n.map_max_cells)
        except MessageError as exc:
            self._drop("elevation_map", exc)
            return
        height_map = grid_height_map(grid.heights, grid.origin, grid.resolution)
        with self._lock:
            self.grid, self.height_map = grid, height_map

    def _on_goal(self, msg: PoseStamped) -> None:
        try:
            frame, goal = pose_stamped_to_xyyaw(msg)
            self._frame_ok("goal_pose", frame)
        except MessageError as exc:
            self._drop("goal_pose", exc)
            return
        with self._lock:
            self.goal = np.array([goal[0], goal[1], math.nan])  # the planner reaches positions; heading is free
            self.carrot = None
            self._reset_requested = True  # planner and fallback plan are reset by the next cycle
        self.get_logger().info(f"new goal ({goal[0]:.2f}, {goal[1]:.2f})")

    def _on_route(self, msg: PathMsg) -> None:
        try:
            frame, xy = path_to_xy(msg)
            self._frame_ok("route", frame)
        except MessageError as exc:
            self._drop("route", exc)
            return
        if self.goal is None or self.settings is None:
            return
        # A route is only used for the goal it leads to (a route for an older goal is ignored).
        if math.hypot(xy[-1, 0] - self.goal[0], xy[-1, 1] - self.goal[1]) > max(
            1.0, self.settings.planner.goal_tolerance
        ):
            self._drop("route", MessageError("route does not end at the current goal"))
            return
        carrot = Carrot(xy.astype(np.float32), self.settings.node.lookahead)
        with self._lock:
            self.carrot = carrot

    # ------------------------------------------------------------------ control cycle

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _stale_reason(self, now: float) -> str | None:
        n = self.settings.node
        if self.odom is None:
            return "no odometry received"
        if now - self.odom.t > n.max_odom_age:
            return f"odometry is {now - self.odom.t:.2f} s old (max_odom_age {n.max_odom_age} s)"
        if self.grid is None:
            return "no elevation map received"
        if now - self.grid.t > n.max_map_age:
            return f"elevation map is {now - self.grid.t:.2f} s old (max_map_age {n.max_map_age} s)"
        if not self.history.ready:
            return "no proprio history yet"
        return None

    def _on_timer(self) -> None:
        """The 10 Hz timer: a cycle unless odometry started one in the last period (it also runs without odometry,
        so stale input is still answered)."""
        if self.settings is not None and time.monotonic() - self._last_cycle < 0.9 / self.settings.node.control_rate:
            return
        self._tick()

    def _tick(self) -> None:
        if not self._active or self.settings is None:
            return
        self._last_cycle = time.monotonic()
        busy = self._future is not None and not self._future.done()
        if self._pending is not None and not busy:
            try:
                self._apply(self._pending)
            except (
                ValueError,
                OSError,
                ModelFileError,
            ) as exc:  # e.g. a model file that went missing: keep the old planner
                self.get_logger().error(f"new parameters could not be applied: {exc}")
            self._pending = None
        if self._reset_requested and not busy:
            self._reset_requested = False
            self.planner.reset()
            self.fallback.forget()
        now = self._now()
        cmd, stop = self._decide(now, busy)
        if cmd is not None:
            self._publish_command(cmd, stop)
        self._publish_status()

    def _decide(self, now: float, busy: bool) -> tuple[np.ndarray | None, bool]:
        """(command or None for quiet, whether it is a safety stop); sets state and reason."""
        if self.goal is None:
            self.state, self.reason = ("idle", "no goal") if self.state != "goal_reached" else (self.state, self.reason)
            return None, False
        stale = self._stale_reason(now)
        if stale is not None:
            self.state, self.reason = "stale_input", stale
            self.fallback.forget()
            cmd = self.stale.stale(now)
            return cmd, True
        self.stale.fresh()
        if busy:
            return self._overrun(now, "previous plan still running")
        with self._lock:  # one consistent snapshot of the inputs
            odom, height_map, final, carrot = self.odom, self.height_map, self.goal, self.carrot
            pose = odom.pose2d
            pose_t = torch.as_tensor(pose, dtype=torch.float32)
            goal = torch.as_tensor(final, dtype=torch.float32)
            if carrot is not None:
                goal = torch.cat([carrot.goal(pose_t[:2]), goal[2:]])
            proprio, state = self.history.inputs()
            if math.hypot(final[0] - pose[0], final[1] - pose[1]) < self.settings.planner.goal_tolerance:
                self.goal, self.carrot = None, None
                reached = True
            else:
                reached = False
        if reached:
            self.state, self.reason = "goal_reached", f"within {self.settings.planner.goal_tolerance} m of the goal"
            self.planner.reset()
            return np.zeros(3), True
        scan = scan_from_map(height_map, pose, odom.position[2])
        local_map = LocalMap.from_height_map(height_map, pose)  # the FDM planner's hazard guard sees all around
        t_start = time.perf_counter()
        planner = self.planner
        self._future = self._pool.submit(self._plan_job, planner, proprio, state, scan, pose_t, goal, local_map)
        try:
            result, nominal = self._future.result(timeout=self.settings.node.plan_budget)
        except concurrent.futures.TimeoutError:
            return self._overrun(now, f"planning took longer than plan_budget {self.settings.node.plan_budget} s")
        self.last_plan_ms = 1000.0 * (time.perf_counter() - t_start)
        self.last_odom_t = odom.t  # the odometry this command was planned from (latency measurements)
        self.last_risk = result.risk
        self._publish_plan(result, pose, odom)
        if result.status == "goal_reached":
            self.state, self.reason = "goal_reached", "planner: within goal tolerance"
            with self._lock:
                self.goal, self.carrot = None, None
            return np.zeros(3), True
        if result.status == "blocked_by_risk" or result.risk > self.settings.planner.risk.threshold:
            self.state = "blocked_by_risk"
            self.reason = (
                f"best plan's failure risk {result.risk:.2f} > threshold {self.settings.planner.risk.threshold}"
            )
            self.fallback.forget()
            return np.zeros(3), True
        command = result.command.double().numpy()
        # ``nominal`` starts one replan period after now: prepend the command sent now for the fallback.
        self.fallback.store(np.concatenate([command[None], nominal]), now)
        self.state, self.reason = "ok", ""
        return command, False

    @staticmethod
    def _plan_job(planner: NavPlanner, proprio, state, scan, pose, goal, local_map):
        result = planner.plan(proprio, state, scan, pose, goal, local_map)
        return result, planner.mppi.nominal.detach().double().cpu().numpy()

    def _overrun(self, now: float, why: str) -> tuple[np.ndarray, bool]:
        cmd, stopped = self.fallback.overrun(now)
        self.state = "overrun"
        n = self.fallback.consecutive
        self.reason = f"{why}; " + (
            f"zero after {n} overrun cycles" if stopped else f"previous plan shifted ({n}/{self.fallback.max_cycles})"
        )
        return cmd, stopped

    # ------------------------------------------------------------------ outputs

    def _publish_command(self, cmd: np.ndarray, stop: bool) -> None:
        """Gate and publish, unless the node stopped meanwhile (checked under the publish lock)."""
        with self._pub_lock:
            if self._active:
                self._send(cmd, stop)

    def _send(self, cmd: np.ndarray, stop: bool) -> None:
        out = self.gate.apply(cmd, stop=stop)
        pub = self._pubs.get("cmd_vel")
        if pub is None:
            return
        n = self.settings.node if self.settings is not None else PlannerNodeCfg()
        frame = n.base_frame or (self.odom.child_frame if self.odom is not None else "")
        pub.publish(make_twist(out, n.cmd_vel_stamped, frame, self._now()))
        if not np.array_equal(out, self.cmd_now):
            self.cmd_prev, self.cmd_now = self.cmd_now, out

    def _status_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "reason": self.reason,
            "risk": None if not math.isfinite(self.last_risk) else round(self.last_risk, 4),
            "plan_ms": None if not math.isfinite(self.last_plan_ms) else round(self.last_plan_ms, 2),
            "odom_stamp": self.last_odom_t,
            "dropped": dict(self.drops.counts),
            "overruns": self.fallback.total if self.settings is not None else 0,
        }

    def _publish_status(self) -> None:
        pub = self._pubs.get("status")
        if pub is not None:
            pub.publish(String(data=json.dumps(self._status_dict())))

    def _publish_diagnostics(self) -> None:
        pub = self._pubs.get("diagnostics")
        if pub is None:
            return
        s = self._status_dict()
        level = {"ok": DiagnosticStatus.OK, "idle": DiagnosticStatus.OK, "goal_reached": DiagnosticStatus.OK}.get(
            self.state, DiagnosticStatus.WARN
        )
        values = [KeyValue(key=k, value=str(v)) for k, v in s.items() if k != "dropped"]
        values += [KeyValue(key=f"dropped_{k}", value=str(v)) for k, v in s["dropped"].items()]
        status = DiagnosticStatus(
            level=level,
            name=f"{self.get_name()}: navigation safety",
            message=f"{self.state}: {self.reason}" if self.reason else self.state,
            hardware_id="",
            values=values,
        )
        pub.publish(DiagnosticArray(header=Header(stamp=sec_to_stamp(self._now())), status=[status]))

    def _publish_plan(self, result, pose: np.ndarray, odom) -> None:
        frame = odom.frame
        poses = _to_fixed(result.plan_poses.double().numpy(), pose)
        self._pubs["plan"].publish(make_path(np.concatenate([pose[None], poses]), frame, odom.t))
        n = self.settings.node.rollout_markers
        if n == 0 or result.batch is None:
            return
        states = result.batch.states.detach().double().cpu().numpy()  # [K, T, 3]
        risk = result.batch.failure_prob.detach().amax(dim=1).double().cpu().numpy()  # [K]
        costs = result.costs.detach().double().cpu().numpy()  # [K]
        order = np.argsort(costs)
        pick = order[np.linspace(0, len(order) - 1, min(n, len(order))).round().astype(int)]
        if self.settings.node.marker_color == "risk":
            value = risk[pick]
        else:  # rank in cost: robust to the +1000 hard penalties
            value = np.searchsorted(np.sort(costs), costs[pick]) / max(1, len(costs) - 1)
        header = Header(frame_id=frame, stamp=sec_to_stamp(odom.t))
        lifetime = sec_to_stamp(3.0 / self.settings.node.control_rate)
        markers = []
        for i, (k, v) in enumerate(zip(pick, value, strict=True)):
            xy = _to_fixed(states[k], pose)
            m = Marker(header=header, ns="rollouts", id=i, type=Marker.LINE_STRIP, action=Marker.ADD)
            m.pose.orientation.w = 1.0
            m.scale.x = 0.02
            m.color = _rgba(float(v))
            m.lifetime.sec, m.lifetime.nanosec = lifetime.sec, lifetime.nanosec
            m.points = [Point(x=float(pose[0]), y=float(pose[1]), z=float(odom.position[2]))] + [
                Point(x=float(p[0]), y=float(p[1]), z=float(odom.position[2])) for p in xy
            ]
            markers.append(m)
        self._pubs["rollouts"].publish(MarkerArray(markers=markers))


def main(args: list[str] | None = None) -> None:
    """Entry point of the ``fdm_planner`` executable."""
    # Our own signal handling: rclpy's would shut the context down before the last zero command could go out.
    stop = init_with_stop_flag(args)
    node = PlannerNode()
    executor = SingleThreadedExecutor()
    try:
        if node.get_parameter("autostart").value:
            node.trigger_configure()
            if node.settings is not None:
                node.trigger_activate()
        executor.add_node(node)
        spin_until_stopped(executor, stop)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.stop_for_exit()
        executor.shutdown(timeout_sec=1.0)
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()
