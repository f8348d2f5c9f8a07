"""Retargeting IK on the Panda (7 joints) and UR5 (6 joints): tolerance, joint limits, posture, human-likeness."""

from __future__ import annotations

import numpy as np
import pytest

from visual_irl.demos import DemoGenCfg, generate_demo
from visual_irl.features import demo_states
from visual_irl.retarget import IkCfg, Retargeter, metrics, retarget_trajectory, solve_ik
from visual_irl.robots import load_robot

ROBOTS = ("panda", "ur5")


@pytest.fixture(scope="module", params=ROBOTS)
def robot(request):
    return load_robot(request.param)


def test_robots_have_their_joint_counts():
    assert load_robot("panda").model.nq == 7
    assert load_robot("ur5").model.nq == 6
    with pytest.raises(ValueError, match="unknown robot"):
        load_robot("kuka")


def test_ik_reaches_reachable_targets_within_limits(robot):
    rng = np.random.default_rng(0)
    cfg = IkCfg()
    lo, hi = np.maximum(robot.lower, -2.5), np.minimum(robot.upper, 2.5)
    errors = []
    for _ in range(40):
        q_true = rng.uniform(lo, hi)
        target = robot.fk(q_true)  # reachable by construction
        seed = np.clip(q_true + rng.normal(0, 0.5, robot.model.nq), robot.lower, robot.upper)
        q, err, _ = solve_ik(robot, target, seed, cfg, q_posture=seed)
        assert np.all(q >= robot.lower) and np.all(q <= robot.upper)
        errors.append(err)
    assert np.median(errors) < cfg.tolerance
    assert np.mean(np.asarray(errors) < 0.005) >= 0.95  # the 5 mm target; DLS may stall on a rare far seed


def test_ik_clamps_to_limits_for_an_unreachable_target(robot):
    q, err, _ = solve_ik(robot, np.array([3.0, 0.0, 0.5]), robot.home, IkCfg(max_iterations=50))
    assert err > 1.0  # 3 m away: no arm of these reaches it
    assert np.all(q >= robot.lower) and np.all(q <= robot.upper) and np.all(np.isfinite(q))


def test_posture_term_keeps_redundant_joints_near_the_mapped_ones(robot):
    rng = np.random.default_rng(1)
    cfg = IkCfg()
    q_map = np.clip(robot.home + rng.normal(0, 0.3, robot.model.nq), robot.lower, robot.upper)
    target = robot.fk(np.clip(q_map + rng.normal(0, 0.15, robot.model.nq), robot.lower, robot.upper))
    q_post, e_post, _ = solve_ik(robot, target, q_map, cfg, q_posture=q_map)
    q_plain, e_plain, _ = solve_ik(robot, target, robot.home, cfg)
    assert e_post < 0.005 and e_plain < 0.005
    assert np.linalg.norm(q_post - q_map) <= np.linalg.norm(q_plain - q_map) + 1e-6


def test_retargeting_a_demonstration_is_accurate_and_more_human_like_than_plain_ik(robot):
    demo = generate_demo(DemoGenCfg(), "good", seed=21)
    states, _ = demo_states(demo)
    res = retarget_trajectory(robot, states[:, :9])
    m = metrics(res, robot)
    assert m["retarget_ee_error_mm_max"] <= 5.0 and m["retarget_within_limits"]
    assert m["retarget_human_likeness"] > m["plain_ik_human_likeness"]
    assert m["retarget_mapped_joint_deviation_deg_rms"] < m["plain_ik_mapped_joint_deviation_deg_rms"]
    # the human rest posture maps onto the robot's rest posture
    rt = Retargeter(robot)
    np.testing.assert_allclose(rt.mapped(rt.q_rest), rt.home)
