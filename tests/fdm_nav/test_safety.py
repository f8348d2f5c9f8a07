"""The small safety rules, each alone and by hand: CommandGate, StaleHold, OverrunFallback, DropCounter."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fdm_nav.node_cfg import CommandGateCfg
from fdm_nav.safety import CommandGate, DropCounter, OverrunFallback, StaleHold


def test_gate_clamps_velocity_then_acceleration_and_stops_exactly():
    gate = CommandGate(
        CommandGateCfg(vx_min=-0.5, vx_max=1.0, vy_max=0.4, wz_max=1.0, accel_lin=2.0, accel_ang=4.0), 0.1
    )
    assert gate.step.tolist() == pytest.approx([0.2, 0.2, 0.4])  # largest change per 0.1 s cycle
    assert gate.apply([5.0, -5.0, 5.0]).tolist() == pytest.approx([0.2, -0.2, 0.4])  # acceleration from rest
    for _ in range(10):
        out = gate.apply([5.0, -5.0, 5.0])
    assert out.tolist() == pytest.approx([1.0, -0.4, 1.0])  # then the velocity bounds
    assert gate.apply([0.0, 0.0, 0.0], stop=True).tolist() == [0.0, 0.0, 0.0]  # a stop jumps to zero
    assert gate.apply([-5.0, 0.0, 0.0]).tolist() == pytest.approx([-0.2, 0.0, 0.0])


@pytest.mark.parametrize("bad", [[math.nan, 0, 0], [0, math.inf, 0], [0, 0, -math.inf], [1.0, 2.0], "x"])
def test_gate_turns_anything_unusable_into_zero(bad):
    gate = CommandGate(CommandGateCfg(), 0.1)
    gate.apply([0.1, 0.0, 0.0])
    try:
        out = gate.apply(bad)
    except ValueError:  # not even a number: never published
        return
    assert out.tolist() == [0.0, 0.0, 0.0] and gate.last.tolist() == [0.0, 0.0, 0.0]


def test_gate_settings_are_validated():
    with pytest.raises(ValueError, match="vx_min must be finite and <= 0"):
        CommandGateCfg(vx_min=0.1)
    with pytest.raises(ValueError, match="accel_lin must be finite and > 0"):
        CommandGateCfg(accel_lin=math.nan)


def test_stale_hold_is_zero_for_the_hold_then_quiet_until_fresh():
    hold = StaleHold(0.5)
    assert hold.stale(10.0).tolist() == [0.0, 0.0, 0.0]
    assert hold.stale(10.5) is not None and hold.stale(10.51) is None
    hold.fresh()
    assert hold.stale(20.0) is not None  # a new stale period starts a new hold


def test_overrun_fallback_replays_the_plan_by_its_steps_then_stops():
    fallback = OverrunFallback(max_cycles=2, step_dt=0.5)
    assert fallback.overrun(0.0) == (pytest.approx([0, 0, 0]), True)  # nothing to replay yet
    plan = np.array([[0.1, 0, 0], [0.2, 0, 0], [0.3, 0, 0]])
    fallback.store(plan, t0=10.0)
    cmd, stopped = fallback.overrun(10.6)  # 0.6 s after the plan started: its second step
    assert cmd.tolist() == [0.2, 0, 0] and not stopped
    cmd, stopped = fallback.overrun(99.0)  # long after: its last step
    assert cmd.tolist() == [0.3, 0, 0] and not stopped
    cmd, stopped = fallback.overrun(99.1)  # a third overrun in a row: zero
    assert cmd.tolist() == [0.0, 0.0, 0.0] and stopped
    assert (fallback.consecutive, fallback.total) == (3, 4)
    fallback.store(plan, t0=100.0)  # a plan in time ends the streak, not the total
    assert (fallback.consecutive, fallback.total) == (0, 4)
    fallback.forget()
    assert fallback.overrun(100.1)[1]


def test_drop_counter_counts_everything_and_logs_once_per_period():
    drops = DropCounter(period=1.0)
    logged = [drops.drop("odometry", now=t) for t in (0.0, 0.2, 0.9, 1.0, 1.5, 2.1)]
    assert logged == [True, False, False, True, False, True]
    assert drops.drop("goal_pose", now=0.3)  # each input has its own period
    assert dict(drops.counts) == {"odometry": 6, "goal_pose": 1}
