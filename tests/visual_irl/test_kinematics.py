"""Camera projection/deprojection, the human arm model's IK, the task rules and the keypoint file format."""

from __future__ import annotations

import json

import numpy as np
import pytest

from visual_irl import human_arm
from visual_irl.camera import CameraCfg, deproject, look_at, observe, project, world_to_camera
from visual_irl.demos import DemoGenCfg, generate_demo
from visual_irl.features import frame_states, torso_frame
from visual_irl.keypoints import KeypointDemo, KeypointFileError, load_demo, save_demo
from visual_irl.task import SortingTaskCfg, outcome, simulate_onion


def test_projection_deprojection_round_trip_and_a_hand_computed_pixel():
    cfg = CameraCfg()
    rng = np.random.default_rng(0)
    pts = rng.uniform([-0.8, -0.6, 0.5], [0.8, 0.6, 4.0], (500, 3))
    pix, z = project(cfg, pts)
    np.testing.assert_allclose(deproject(cfg, pix, z), pts, atol=1e-12)
    # hand-computed: a point 2 m ahead, 0.5 m right, 0.25 m down lands at (320 + 615*0.25, 240 + 615*0.125)
    pix, z = project(cfg, np.array([0.5, 0.25, 2.0]))
    np.testing.assert_allclose(pix, [473.75, 316.875])
    assert z == 2.0


def test_camera_frame_looks_at_its_target_and_noise_grows_with_depth():
    T = look_at(np.array([2.0, 0.0, 1.5]), np.array([0.0, 0.0, 1.5]))
    centre = world_to_camera(T, np.array([0.0, 0.0, 1.5]))
    np.testing.assert_allclose(centre, [0.0, 0.0, 2.0], atol=1e-12)  # straight ahead, on the optical axis
    up = world_to_camera(T, np.array([0.0, 0.0, 2.0]))
    assert up[1] < 0  # world up is image up (optical y points down)
    cfg = CameraCfg(dropout=0.0, depth_hole=0.0, pixel_noise_px=0.0)
    rng = np.random.default_rng(1)
    near = np.tile([[0.0, 0.0, 1.0]], (4000, 1))[:, None]
    far = np.tile([[0.0, 0.0, 3.0]], (4000, 1))[:, None]
    e_near = observe(cfg, near, rng)[0][..., 2] - 1.0
    e_far = observe(cfg, far, rng)[0][..., 2] - 3.0
    assert e_far.std() > 6 * e_near.std()  # z^2 law: 9x in theory
    np.testing.assert_allclose(e_near.std(), cfg.depth_noise_coeff, rtol=0.1)


def test_missing_detections_are_nan_with_low_confidence():
    cfg = CameraCfg(dropout=0.3)
    pts = np.tile([[0.0, 0.0, 2.0]], (2000, 17, 1))
    out, conf = observe(cfg, pts, np.random.default_rng(2))
    missing = np.isnan(out).any(-1)
    assert 0.25 < missing.mean() < 0.36
    assert np.all(conf[missing] <= 0.1) and np.median(conf[~missing]) > 0.8


def test_human_arm_ik_recovers_known_joint_angles():
    rng = np.random.default_rng(3)
    q = np.stack(
        [
            rng.uniform(-0.5, 2.0, 1000),  # flexion
            rng.uniform(-1.2, 1.2, 1000),  # adduction (away from +-90 deg, the sideways singularity)
            rng.uniform(-2.5, 2.5, 1000),  # humeral rotation
            rng.uniform(human_arm.MIN_ELBOW_FLEXION, 2.4, 1000),  # elbow bent (straight = singular)
        ],
        axis=1,
    )
    person = human_arm.Person(stature=1.7)
    elbow, wrist = human_arm.forward(q, person.right_shoulder, person.upper_arm, person.forearm)
    np.testing.assert_allclose(np.linalg.norm(elbow - person.right_shoulder, axis=1), person.upper_arm)
    q_back = human_arm.inverse(person.right_shoulder, elbow, wrist)
    np.testing.assert_allclose(q_back, q, atol=1e-9)


def test_hand_computed_arm_posture():
    # flexion 90 deg, elbow 90 deg, no adduction/rotation: upper arm forward, forearm points up
    elbow, wrist = human_arm.forward(np.array([np.pi / 2, 0, 0, np.pi / 2]), np.zeros(3), 0.3, 0.25)
    np.testing.assert_allclose(elbow, [0.3, 0, 0], atol=1e-12)
    np.testing.assert_allclose(wrist, [0.3, 0, 0.25], atol=1e-12)


def test_elbow_placement_respects_segment_lengths():
    person = human_arm.Person()
    s = person.right_shoulder
    wrist = s + np.array([[0.3, 0.05, -0.3], [0.2, 0.1, 0.0], [0.1, -0.1, -0.45]])
    elbow = human_arm.place_elbow(s, wrist, person.upper_arm, person.forearm, 0.1)
    np.testing.assert_allclose(np.linalg.norm(elbow - s, axis=1), person.upper_arm, atol=1e-9)
    np.testing.assert_allclose(np.linalg.norm(wrist - elbow, axis=1), person.forearm, atol=1e-9)


def test_torso_frame_of_a_hand_built_skeleton():
    kp = np.zeros((1, 17, 3))
    kp[0, 5], kp[0, 6] = [0.2, 0, 2], [-0.2, 0, 2]  # left/right shoulder in the camera frame (person faces camera)
    kp[0, 11], kp[0, 12] = [0.15, 0.5, 2], [-0.15, 0.5, 2]  # hips below (optical y down)
    R, origin = torso_frame(kp)
    np.testing.assert_allclose(origin[0], [0, 0, 2])
    np.testing.assert_allclose(R[0][:, 1], [1, 0, 0], atol=1e-12)  # torso left = image right (facing camera)
    np.testing.assert_allclose(R[0][:, 2], [0, -1, 0], atol=1e-12)  # torso up = image up
    np.testing.assert_allclose(R[0][:, 0], [0, 0, -1], atol=1e-12)  # torso forward = towards the camera


def test_state_is_invalid_for_low_confidence_or_non_finite_keypoints():
    demo = generate_demo(DemoGenCfg(camera=CameraCfg(dropout=0.0, depth_hole=0.0)), "good", seed=4)
    kp, conf, onion = demo.keypoints[:5].copy(), demo.confidence[:5].copy(), demo.objects[:5, 0].copy()
    conf[:] = 0.9
    onion[:] = np.nan_to_num(onion)
    _, valid = frame_states(kp, conf, onion, 0.0, 0.5)
    assert valid.all()
    conf[1, 10] = 0.2  # right wrist unsure
    kp[2, 6, 0] = np.inf  # right shoulder non-finite
    kp[3, 11] = np.nan  # left hip missing
    onion[4, 1] = np.nan  # onion missing
    states, valid = frame_states(kp, conf, onion, 0.0, 0.5)
    assert valid.tolist() == [True, False, False, False, False]
    assert np.all(np.isfinite(states[0]))


def test_task_rules_and_score():
    task = SortingTaskCfg()
    T = task.horizon
    onion0 = np.array([0.3, -0.2, -0.32])
    wrist = np.tile(np.asarray(task.rest), (T, 1))
    wrist[10:20] = onion0
    wrist[20:30] = task.inspect
    wrist[30:] = task.conveyor_center
    onion, held = simulate_onion(task, wrist, onion0)
    good = outcome(task, onion, held, blemished=False)
    assert good.picked and good.inspected and good.placed == "conveyor" and good.correct and good.t_place == 30
    assert good.score == pytest.approx(0.2 + 0.1 + 0.4 + 0.3 * (1 - 30 / T))
    wrong = outcome(task, onion, held, blemished=True)
    assert not wrong.correct and wrong.score == pytest.approx(0.3)


def test_generated_demos_score_by_quality_and_round_trip_through_files(tmp_path):
    cfg = DemoGenCfg()
    good = generate_demo(cfg, "good", seed=10)
    failed = generate_demo(cfg, "failed", seed=11)
    assert good.meta["correct"] and good.meta["score"] > 0.8
    assert failed.meta["score"] <= 0.3 + 1e-9 and not failed.meta["correct"]
    assert good.keypoints.shape == (240, 17, 3) and good.objects.shape == (240, 1, 3)
    for suffix in (".json", ".npz"):
        path = save_demo(good, tmp_path / f"demo{suffix}")
        back = load_demo(path)
        np.testing.assert_allclose(back.keypoints, good.keypoints, atol=1e-6, equal_nan=True)
        np.testing.assert_allclose(back.confidence, good.confidence, atol=1e-6)
        assert back.labels == good.labels and back.meta["score"] == good.meta["score"]
    data = json.loads((tmp_path / "demo.json").read_text())
    data["keypoints"] = data["keypoints"][:-1]
    (tmp_path / "bad.json").write_text(json.dumps(data))
    with pytest.raises(KeypointFileError, match=r"bad.json.*keypoints"):
        load_demo(tmp_path / "bad.json")
    with pytest.raises(KeypointFileError, match="strictly increasing"):
        KeypointDemo(t=[0.0, 0.0], keypoints=np.zeros((2, 17, 3)), confidence=np.zeros((2, 17)),
                     objects=np.zeros((2, 0, 3)), labels=())  # fmt: skip


def test_rosbag2_of_the_node_topics_round_trips(tmp_path):
    from visual_irl.rosbag import write_bag

    demo = generate_demo(DemoGenCfg(), "good", seed=12)
    bag = write_bag(demo, tmp_path / "demo_bag")
    back = load_demo(bag)
    np.testing.assert_allclose(back.t, demo.t, atol=1e-6)
    np.testing.assert_allclose(back.keypoints, demo.keypoints, atol=1e-6, equal_nan=True)
    np.testing.assert_allclose(back.confidence, demo.confidence, atol=1e-6)
    seen = np.isfinite(demo.objects[:, 0, 0])
    np.testing.assert_allclose(back.objects[seen], demo.objects[seen], atol=1e-6)
    assert back.labels == demo.labels
    with pytest.raises(KeypointFileError, match="no topic /people"):
        from visual_irl.rosbag import load_bag

        load_bag(bag, keypoints_topic="/people")
