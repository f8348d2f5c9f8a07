"""Episode bookkeeping shared by the embedded closed loop and the Isaac runner (sim.episode, sim.failure_rules)."""

from __future__ import annotations

import math

import pytest

from sim.episode import EPISODE_FIELDS, FAILURE_KINDS, Episode, EpisodeTracker
from sim.failure_rules import FailureMonitor, PhysicsFailureRules
from sim.platform import load_platform
from sim.terrain_sim import FAILURE_CAUSES


def _tracker(time_limit: float = 10.0) -> EpisodeTracker:
    return EpisodeTracker(Episode("s", "fdm", "isaac_sim"), (3.0, 4.0), 0.5, time_limit)


def test_success_within_tolerance_with_path_length():
    track = _tracker()
    assert not track.observe(0.0, (0.0, 0.0, 0.0))
    assert not track.observe(1.0, (3.0, 0.0, 0.0))  # 3 m along x
    assert track.observe(2.0, (3.0, 3.5, 1.0))  # 3.5 m up: exactly at the tolerance (0.5 m) counts
    ep = track.episode
    assert (ep.outcome, ep.time_s, ep.path_length_m) == ("success", 2.0, pytest.approx(6.5))
    assert ep.trajectory == [[0.0, 0.0, 0.0], [3.0, 0.0, 0.0], [3.0, 3.5, 1.0]]
    assert track.observe(3.0, (9.0, 9.0, 0.0))  # over: nothing changes any more
    assert len(ep.trajectory) == 3 and ep.outcome == "success"


def test_timeout_failure_and_abort():
    track = _tracker(time_limit=2.0)
    track.observe(0.0, (0.0, 0.0, 0.0))
    assert track.episode.outcome == "timeout" and track.episode.time_s == 2.0  # until decided otherwise
    assert track.observe(2.0, (0.5, 0.0, 0.0))  # the time limit reached without the goal
    assert (track.episode.outcome, track.episode.time_s) == ("timeout", 2.0)
    track = _tracker()
    track.observe(0.0, (0.0, 0.0, 0.0))
    track.fail(0.7, "fall", (0.0, 1.0, 0.2))
    assert (track.episode.outcome, track.episode.failure_cause, track.episode.time_s) == ("failure", "fall", 0.7)
    assert track.episode.path_length_m == pytest.approx(1.0) and track.episode.trajectory[-1] == [0.0, 1.0, 0.2]
    with pytest.raises(ValueError, match="unknown failure cause"):
        _tracker().fail(0.0, "exploded")
    track = _tracker()
    track.abort(5.0, "no progress")
    assert (track.episode.outcome, track.episode.abort_reason) == ("aborted", "no progress")


def test_summary_has_the_shared_fields_and_causes_are_the_simulators():
    assert tuple(Episode("a", "b").summary()) == EPISODE_FIELDS
    assert ("none", *FAILURE_KINDS) == FAILURE_CAUSES  # the embedded simulator numbers the same names


def test_embedded_closed_loop_reports_the_shared_fields():
    from fdm_nav.closed_loop import EpisodeResult

    summary = EpisodeResult("s", "heuristic").summary()
    assert set(EPISODE_FIELDS) <= set(summary) and summary["simulator"] == "embedded"


def test_physics_failure_rules_from_the_platform():
    rules = PhysicsFailureRules.from_platform(load_platform("anymal_d"))
    # anymal_d.yaml: max_step_down 0.35 m -> free-fall speed sqrt(2 * 9.81 * 0.35) = 2.621 m/s; base 0.6 -> 0.3 m.
    assert rules.fall_speed == pytest.approx(2.6205, abs=1e-4)
    assert rules.min_base_height == pytest.approx(0.3) and rules.max_tilt == pytest.approx(math.radians(40.0))
    ok = dict(
        base_contact_force=0.0,
        vertical_speed=-0.4,
        base_height=0.6,
        roll=0.1,
        pitch=-0.2,
        commanded_speed=0.8,
        planar_speed=0.7,
    )
    monitor = FailureMonitor(rules)
    assert monitor.check(0.02, **ok) is None  # walking down stairs at 0.4 m/s is not a fall
    assert monitor.check(0.02, **{**ok, "base_contact_force": 5.0}) == "collision"
    assert monitor.check(0.02, **{**ok, "vertical_speed": -3.0}) == "fall"
    assert monitor.check(0.02, **{**ok, "base_height": 0.2}) == "fall"
    assert monitor.check(0.02, **{**ok, "pitch": math.radians(45.0)}) == "tipping"
    assert monitor.check(0.02, **{**ok, "roll": math.nan}) == "fall"
    # Commanded but not moving: stuck after the platform's stuck_time (2.0 s) of 0.02 s steps, not before.
    monitor = FailureMonitor(rules)
    still = {**ok, "planar_speed": 0.01}
    causes = [monitor.check(0.02, **still) for _ in range(100)]
    assert causes[:99] == [None] * 99 and causes[99] == "stuck"
    assert monitor.check(0.02, **ok) is None and monitor.stuck_for == 0.0  # moving again resets the timer
