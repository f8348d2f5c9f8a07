"""Every decision of the navigation control cycle, without ROS or DDS: inputs in, command and reason out.

The cycle runs the real planners (the heuristic one, small K, for speed; the
FDM for the time-base refusals). Planning goes through a runner the test
controls: ``Inline`` plans in the caller, ``Late`` reports that the plan did
not come within the budget, so overruns are decided without waiting for time.
Times are passed in (``now``, ``mono``); nothing here reads a clock.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from dynamics_stack.ros.nav_types import ElevationGrid, OdomSample
from fdm_nav.control_cycle import ControlCycle, InputRefused
from fdm_nav.node_cfg import PlannerNodeCfg
from fdm_nav.planner import PlannerCfg, default_mppi
from fdm_nav.recovery import RecoveryCfg

ZERO = [0.0, 0.0, 0.0]


class Inline:
    """Plans in the caller: every plan is in time."""

    busy = False

    def run(self, job, budget):
        return job()

    def close(self):
        pass


class Late(Inline):
    """Every plan misses its budget (the job is not even run); ``busy`` says whether one is still 'running'."""

    def __init__(self, busy: bool = False):
        self.busy = busy

    def run(self, job, budget):
        return None


def node_cfg(**overrides) -> PlannerNodeCfg:
    settings = {
        "planner_type": "heuristic",
        "planner": PlannerCfg(mppi=dataclasses.replace(default_mppi(), num_samples=32)),
        "stale_hold": 0.3,
        **overrides,
    }
    return PlannerNodeCfg(**settings)


def odom(t: float, x: float = 0.0, frame: str = "odom") -> OdomSample:
    return OdomSample(
        t, frame, "base_link", np.array([x, 0.0, 0.6]), np.array([0, 0, 0, 1.0]), np.zeros(3), np.zeros(3)
    )


def flat_map(t: float, heights: np.ndarray | None = None) -> ElevationGrid:
    h = np.zeros((121, 121), np.float32) if heights is None else heights
    return ElevationGrid(t, "odom", h, 0.1, (-6.0, -6.0))


def ready_cycle(runner=None, **overrides) -> ControlCycle:
    """Configured, a standing robot with fresh odometry and map at t = 100 s, a goal 5 m ahead."""
    cycle = ControlCycle(runner or Inline())
    cycle.configure(node_cfg(**overrides))
    cycle.take_map(flat_map(100.0))
    cycle.take_odometry(odom(100.0))
    cycle.set_goal("odom", np.array([5.0, 0.0, 0.0]))
    return cycle


def test_no_goal_is_quiet_and_idle():
    cycle = ControlCycle(Inline())
    cycle.configure(node_cfg())
    decision = cycle.tick(now=100.0, mono=0.0)
    assert decision.command is None and cycle.status == "idle" and cycle.reason == "no goal"


def test_fresh_inputs_give_a_planned_command_inside_the_gate():
    cycle = ready_cycle()
    decision = cycle.tick(now=100.05, mono=0.0)
    assert cycle.status == "ok" and not decision.stop and decision.plan is not None
    out = cycle.gate(decision.command, decision.stop)
    step = 0.1 * np.array([2.0, 2.0, 4.0])  # the gate's acceleration bounds for one 10 Hz cycle from rest
    assert np.isfinite(out).all() and (np.abs(out) <= step + 1e-12).all()
    assert np.array_equal(cycle.cmd_now, out)  # the next proprio sample says this is the command being tracked
    assert cycle.report()["odom_stamp"] == 100.0 and cycle.report()["risk"] is not None


@pytest.mark.parametrize(
    ("what", "words"),
    [
        ("no odometry", "no odometry received"),
        ("old odometry", "odometry is 0.60 s old (max_odom_age 0.5 s)"),
        ("no map", "no elevation map received"),
        ("old map", "elevation map is 1.10 s old (max_map_age 1.0 s)"),
    ],
)
def test_stale_input_gives_zero_for_the_hold_then_nothing(what, words):
    cycle = ControlCycle(Inline())
    cycle.configure(node_cfg())
    if what != "no map":
        cycle.take_map(flat_map(99.5 if what != "old map" else 98.9))
    if what != "no odometry":
        cycle.take_odometry(odom(99.4 if what == "old odometry" else 99.95))
    cycle.set_goal("odom", np.array([5.0, 0.0, 0.0]))
    first = cycle.tick(now=100.0)
    assert cycle.status == "stale_input" and cycle.reason == words
    assert first.command.tolist() == ZERO and first.stop
    assert cycle.tick(now=100.3).command.tolist() == ZERO  # within stale_hold (0.3 s)
    assert cycle.tick(now=100.31).command is None  # then quiet, still saying why
    assert cycle.status == "stale_input"


def test_input_fresh_again_resumes_planning_and_a_new_stale_period_holds_again():
    cycle = ready_cycle()
    cycle.tick(now=101.0)  # odometry 1 s old
    assert cycle.tick(now=101.5).command is None  # quiet after the hold
    cycle.take_odometry(odom(101.5))
    cycle.take_map(flat_map(101.5))
    assert cycle.tick(now=101.55).command is not None and cycle.status == "ok"
    assert cycle.tick(now=103.0).command.tolist() == ZERO  # stale again: a fresh hold of zeros


def test_overrun_replays_the_shifted_plan_then_stops():
    runner = Inline()
    cycle = ready_cycle(runner, max_overrun_cycles=2)
    planned = cycle.tick(now=100.05)
    assert cycle.status == "ok"
    cycle.runner = Late()
    replays = [cycle.tick(now=100.05 + 0.1 * k) for k in (1, 2)]
    assert cycle.status == "overrun" and cycle.reason.endswith("previous plan shifted (2/2)")
    for replay in replays:
        assert not replay.stop and np.isfinite(replay.command).all()
    # 0.1 and 0.2 s after the plan are still inside its first 0.5 s step: the command sent then.
    assert replays[0].command.tolist() == planned.command.tolist()
    stopped = cycle.tick(now=100.35)
    assert stopped.stop and stopped.command.tolist() == ZERO
    assert cycle.status == "overrun" and cycle.reason.endswith("zero after 3 overrun cycles")
    assert "plan_budget" in cycle.reason and cycle.report()["overruns"] == 3


def test_a_plan_still_running_is_an_overrun_without_a_new_plan():
    cycle = ready_cycle(Late(busy=True))
    decision = cycle.tick(now=100.05)
    assert cycle.status == "overrun" and cycle.reason.startswith("previous plan still running")
    assert decision.stop and decision.command.tolist() == ZERO  # no plan yet to replay


def test_goal_reached_stops_once_and_clears_the_goal():
    cycle = ready_cycle()
    cycle.set_goal("odom", np.array([0.3, 0.0, 0.0]))  # within goal_tolerance (0.5 m)
    decision = cycle.tick(now=100.05)
    assert decision.stop and decision.command.tolist() == ZERO and decision.plan is None
    assert cycle.status == "goal_reached" and cycle.goal is None
    assert cycle.tick(now=100.15).command is None and cycle.status == "goal_reached"  # quiet, still shown


def test_no_safe_plan_is_blocked_by_risk_with_zero():
    walls = np.zeros((121, 121), np.float32)
    ii, jj = np.meshgrid(np.arange(121), np.arange(121), indexing="ij")
    r = np.hypot(ii * 0.1 - 6.0, jj * 0.1 - 6.0)
    walls[(r > 0.3) & (r < 0.6)] = 1.0  # a 1 m wall all around the robot
    cycle = ready_cycle()
    cycle.take_map(flat_map(100.0, walls))
    decision = cycle.tick(now=100.05)
    assert cycle.status == "blocked_by_risk" and "threshold 0.2" in cycle.reason
    assert decision.stop and decision.command.tolist() == ZERO and decision.plan is not None


def test_inputs_in_another_frame_are_refused():
    cycle = ready_cycle()
    with pytest.raises(InputRefused, match="goal_pose frame 'map' is not the odometry frame 'odom'"):
        cycle.set_goal("map", np.array([1.0, 0.0, 0.0]))
    with pytest.raises(InputRefused, match="elevation_map frame 'map'"):
        cycle.check_frame("elevation_map", "map")
    with pytest.raises(InputRefused, match="route frame 'map'"):
        cycle.set_route("map", np.array([[0.0, 0.0], [5.0, 0.0]]))
    cycle.check_frame("elevation_map", "")  # an empty frame is taken as the odometry's


DETOUR = np.array([[0.0, 0.0], [0.0, 3.0], [3.0, 3.0], [3.0, 0.0]])  # to (3, 0) by way of y = 3


def _follows_detour(cycle: ControlCycle, now: float) -> bool:
    """The cycle chases the detour's carrot, 3 m along it at (0, 3), not the goal straight ahead."""
    decision = cycle.tick(now=now)
    carrot = cycle.carrot.goal(torch.zeros(2)).tolist() if cycle.carrot is not None else None
    return cycle.report()["route"] and carrot == pytest.approx([0.0, 3.0]) and decision.command is not None


@pytest.mark.parametrize("order", ["goal_then_route", "route_then_goal", "route_for_the_next_goal_first"])
def test_a_route_is_followed_whichever_of_route_and_goal_comes_first(order):
    cycle = ready_cycle()  # a goal at (5, 0) is already set
    if order == "goal_then_route":
        cycle.set_goal("odom", np.array([3.0, 0.0, 0.0]))
        cycle.set_route("odom", DETOUR)
    elif order == "route_then_goal":
        cycle = ControlCycle(Inline())
        cycle.configure(node_cfg())
        cycle.take_map(flat_map(100.0))
        cycle.take_odometry(odom(100.0))
        cycle.set_route("odom", DETOUR)  # before any goal: kept
        assert cycle.carrot is None and cycle.tick(now=100.05).command is None and cycle.status == "idle"
        cycle.set_goal("odom", np.array([3.0, 0.0, 0.0]))
    else:  # the route to the next goal overtakes that goal: kept, not used for the goal at (5, 0)
        cycle.set_route("odom", DETOUR)
        assert cycle.carrot is None and not cycle.report()["route"]
        cycle.set_goal("odom", np.array([3.0, 0.2, 0.0]))  # within 1 m of the route's end: its goal
    assert _follows_detour(cycle, 100.05)
    cycle.set_goal("odom", np.array([-3.0, 0.0, 0.0]))  # a goal the held route does not lead to: straight there
    assert cycle.carrot is None and not cycle.report()["route"]


def test_the_same_route_again_keeps_the_carrots_progress():
    """The node subscribes to the route twice (latched and volatile), so one route can come twice."""
    cycle = ready_cycle()
    cycle.set_goal("odom", np.array([3.0, 0.0, 0.0]))
    cycle.set_route("odom", DETOUR)
    carrot = cycle.carrot
    carrot.goal(torch.tensor([0.0, 2.9]))  # the robot reached the route's corner at (0, 3), 3 m along it
    assert carrot.progress == pytest.approx(3.0)
    cycle.set_route("odom", DETOUR.copy())
    assert cycle.carrot is carrot and carrot.progress == pytest.approx(3.0)
    cycle.set_route("odom", DETOUR[::-1].copy())  # a route to (0, 0): kept, not followed to (3, 0)
    assert cycle.carrot is carrot
    cycle.set_route("odom", np.array([[0.0, 0.0], [1.5, 1.0], [3.0, 0.0]]))  # a new route to the goal: new carrot
    assert cycle.carrot is not carrot and cycle.carrot.progress == 0.0


def _blocked_cycle(**recovery) -> ControlCycle:
    """A robot that never moves (its odometry stays at the origin), a goal 5 m ahead, a 1 s progress window."""
    settings = {"window": 1.0, "wait_time": 0.3, "backup_distance": 0.15, "rotate_angle": 0.25, **recovery}
    return ready_cycle(recovery=RecoveryCfg(**settings))


def _run(cycle: ControlCycle, t0: float, t1: float) -> list[tuple[float, str, str, list[float] | None]]:
    """Ticks every 0.1 s from t0 to t1 with fresh odometry at the same place: (time, state, reason, command)."""
    out = []
    for k in range(round((t1 - t0) / 0.1) + 1):
        now = t0 + 0.1 * k
        cycle.take_odometry(odom(now))
        cycle.take_map(flat_map(now))
        decision = cycle.tick(now=now)
        command = None if decision.command is None else cycle.gate(decision.command, decision.stop).tolist()
        out.append((now, cycle.status, cycle.reason, command))
    return out


def test_a_blocked_robot_goes_through_no_progress_and_each_recovery_to_aborted():
    cycle = _blocked_cycle()
    log = _run(cycle, 100.0, 108.0)
    states = [s for _, s, _, _ in log]
    first = states.index("no_progress")
    assert set(states[:first]) == {"ok"} and log[first][0] == pytest.approx(101.0)  # ok no longer than the window
    assert "0.00 m of progress in 1.0 s (needs 0.5 m); recovery 1/3: wait 0.3 s" in log[first][2]
    behaviours = [r.split(": ")[-1] for _, s, r, _ in log if s == "no_progress"]
    assert behaviours == ["wait 0.3 s", "back up 0.15 m", "rotate left 0.25 rad"]
    by_behaviour = {}
    for _, s, r, c in log:
        if s in ("no_progress", "recovering"):
            by_behaviour.setdefault(r.split("recovery ")[1][:3], []).append(c)
    assert all(c == ZERO for c in by_behaviour["1/3"])  # wait: zero
    assert all(c == ZERO for c in (by_behaviour["2/3"][0], by_behaviour["3/3"][0]))  # each starts from a stop
    assert all(c[0] < 0 and c[1] == 0 and c[2] == 0 for c in by_behaviour["2/3"][1:])  # back up: straight back
    assert all(c[0] == 0 and c[2] > 0 for c in by_behaviour["3/3"][1:])  # rotate in place, toward the goal's side
    end = states.index("aborted")
    assert log[end][3] == ZERO and cycle.goal is None
    assert log[end][2].endswith("after 3 recoveries (wait, backup, rotate): goal given up")
    assert set(states[end + 1 :]) == {"aborted"} and all(c is None for *_, c in log[end + 1 :])  # quiet, still shown
    assert cycle.report()["recoveries"] == 3


def test_progress_keeps_the_planner_in_charge():
    cycle = _blocked_cycle()
    for k in range(40):  # 0.6 m/s toward the goal: more than the 0.5 m per 1 s window the checker needs
        now = 100.0 + 0.1 * k
        cycle.take_odometry(odom(now, x=0.06 * k))
        cycle.take_map(flat_map(now))
        cycle.tick(now=now)
        assert cycle.status == "ok", (k, cycle.reason)


def test_a_behaviour_the_model_judges_unsafe_is_refused_and_the_next_one_tried():
    walls = np.zeros((121, 121), np.float32)
    walls[:58, :] = 1.0  # a wall 0.2 m behind the robot's centre (x <= -0.3 m): backing up would hit it
    cycle = _blocked_cycle(behaviours=("backup", "rotate"), max_recoveries=2)
    cycle.take_map(flat_map(100.0, walls))
    log = []
    for k in range(30):
        now = 100.0 + 0.1 * k
        cycle.take_odometry(odom(now))
        cycle.take_map(flat_map(now, walls))
        decision = cycle.tick(now=now)
        log.append((cycle.status, cycle.reason, decision.command.tolist() if decision.command is not None else None))
    refused = [r for s, r, _ in log if s == "recovering" and "refused" in r]
    assert refused and refused[0].startswith("back up 0.15 m (recovery 1/2): refused, predicted failure risk 1.00")
    assert any(s == "no_progress" and "rotate" in r for s, r, _ in log)  # the next behaviour
    assert all(c is None or c[0] >= 0 for _, _, c in log)  # never backed into the wall


def test_recovery_disabled_plans_on_without_progress():
    cycle = _blocked_cycle(enabled=False)
    assert {s for _, s, _, _ in _run(cycle, 100.0, 103.0)} == {"ok"}


def test_the_gate_passes_stops_as_zero_and_refuses_non_finite_commands():
    cycle = ready_cycle()
    assert cycle.gate(np.array([math.nan, 0.0, 0.0]), stop=False).tolist() == ZERO
    assert cycle.gate(np.array([0.1, 0.0, 0.0]), stop=False).tolist() == pytest.approx([0.1, 0.0, 0.0])
    assert cycle.gate(np.array([0.9, 0.0, 0.0]), stop=False).tolist() == pytest.approx([0.3, 0.0, 0.0])  # +0.2/cycle
    assert cycle.gate(np.array([0.9, 0.0, 0.0]), stop=True).tolist() == ZERO  # a stop is never rate-limited
    assert cycle.cmd_prev.tolist() == pytest.approx([0.3, 0.0, 0.0]) and cycle.cmd_now.tolist() == ZERO


def test_when_cycles_run():
    cycle = ready_cycle()
    cycle.tick(now=100.0, mono=50.0)
    assert not cycle.due_on_timer(50.05) and cycle.due_on_timer(50.09)  # 0.9 of a 0.1 s period
    assert not cycle.due_on_odometry(50.08, now=100.08, stamp=100.08)  # before 0.85 of a period
    assert cycle.due_on_odometry(50.09, now=100.09, stamp=100.08)
    assert not cycle.due_on_odometry(50.09, now=100.09, stamp=100.0)  # odometry that waited in a queue


def test_live_updates_keep_the_safety_state_and_the_rate_moves_the_warm_start():
    cycle = ready_cycle()
    cycle.tick(now=100.05)
    last, planner = cycle.gate_rule.last.copy(), cycle.planner
    cycle.configure(dataclasses.replace(cycle.cfg, stale_hold=0.5))
    assert cycle.planner is planner and cycle.gate_rule.last.tolist() == last.tolist()
    cycle.configure(dataclasses.replace(cycle.cfg, control_rate=20.0))
    assert cycle.planner is not planner and cycle.planner.period == pytest.approx(0.05) and cycle.period == 0.05
    assert cycle.gate_rule.step.tolist() == pytest.approx([0.1, 0.1, 0.2])  # acceleration bounds per 20 Hz cycle
    with pytest.raises(ValueError, match=r"control_rate must be >= 2 Hz"):
        cycle.check(dataclasses.replace(cycle.cfg, control_rate=1.5))


def test_settings_that_do_not_fit_the_model_are_refused_at_configure_with_the_reason():
    fdm = dict(planner_type="fdm", backend="onnx")
    cfg = node_cfg(**fdm)
    with pytest.raises(ValueError, match=r"fdm_anymal_d.card.json: planner.mppi.horizon 12 != the model's horizon 10"):
        ControlCycle(Inline()).configure(
            dataclasses.replace(cfg, planner=PlannerCfg(mppi=dataclasses.replace(default_mppi(), horizon=12)))
        )
    with pytest.raises(ValueError, match=r"planning period 0.667 s .* control_rate must be >= 2 Hz"):
        ControlCycle(Inline()).configure(dataclasses.replace(cfg, control_rate=1.5))
    cycle = ControlCycle(Inline())
    cycle.configure(cfg)  # the shipped model: history, horizon and step from its card
    assert (cycle.planner.time_base.history, cycle.planner.time_base.horizon) == (10, 10)
    assert cycle.history.buffer.length == 10 and cycle.fallback.step_dt == 0.5
