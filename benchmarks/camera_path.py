"""The camera path of the reward (``keypoint_detector`` -> ``irl_reward``): accuracy and speed, for bench_irl.py.

Three measurements, each a dict for benchmarks/results/irl.json:

- ``photos``: MediaPipe Pose on the photographs of ``visual_irl.photos`` (no downloads): whether a person
  is found, the COCO-17 points with visibility > 0.5, the error of each labelled point (px and in
  inter-ocular distances, IOD), the first frame's time (the person detector runs) and a tracked frame's;
- ``lifting``: ``lift_keypoints`` on a synthetic depth image of known geometry (a plane 1.5 m away, tilted
  30 deg, as a D435 at 640x480 sees it): 1 mm quantisation (16UC1), 20 % of the pixels without depth and
  Gaussian depth noise; the 3-D error of 400 pixels against the true plane points, for a single-pixel
  depth and the node's median window;
- ``latency``: one 640x480 frame (the astronaut photograph, a wall at 2 m: ``frame_640x480``) through
  ``DetectorCycle.frame`` + ``RewardCycle.frame`` in this process, pinned to one core; then the two nodes
  as separate processes, both pinned to one CPU core, over loopback DDS: this process publishes colour,
  depth (16UC1, as a RealSense), camera_info and the onion at ``rate_hz`` stamped with the system clock, and
  the latency of each reward is its arrival time minus its stamp (= the image's stamp; all processes read the
  same clock): two DDS hops, detection, lifting, features, reward, retargeting. Then again with one core
  for each node, and both again with a detector that costs nothing (``FixedPoints``: the transport floor).

Needs MediaPipe (``make detector``); without it each part says so.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from dynamics_stack.camera import PinholeCamera
from dynamics_stack.paths import PACKAGE_ROOT
from visual_irl.keypoints import COCO17
from visual_irl.lifting import lift_keypoints
from visual_irl.photos import LABELS, NO_PERSON, PEOPLE, interocular_px, load_photo

WIDTH, HEIGHT, F = 640, 480, 615.0  # RealSense D435 colour at 640x480 (the demonstration generator's camera)
WALL_M = 2.0
MIN_CONFIDENCE = 0.1  # the reward node's, for this frame (frame_640x480)
ONION = (0.0, 0.2, 1.0, 0.0)  # x, y, z (m, optical frame), blemished: the rgbd_player's default stand-in


def d435() -> PinholeCamera:
    eye = tuple(tuple(float(x) for x in row) for row in np.eye(4))
    return PinholeCamera(
        name="camera_color_optical_frame",
        width=WIDTH,
        height=HEIGHT,
        fx=F,
        fy=F,
        cx=319.5,
        cy=239.5,
        T_world_camera=eye,
    )


def _ms(samples: list[float]) -> dict:
    return {
        "median_ms": round(statistics.median(samples), 2),
        "p95_ms": round(float(np.percentile(samples, 95)), 2),
        "n": len(samples),
    }


def mediapipe_missing() -> str | None:
    try:
        from mediapipe.python.solutions import pose  # noqa: F401
    except ImportError:
        return "skipped: MediaPipe not installed (make detector)"
    return None


def photos() -> dict:
    """MediaPipe Pose on each photograph: what it finds, where, and how fast (see the module docstring)."""
    from visual_irl.pose_detectors import MediaPipePoseDetector

    out = {}
    for name in PEOPLE + NO_PERSON:
        image = load_photo(name)
        det = MediaPipePoseDetector()
        t0 = time.perf_counter()
        found = det.detect(image)
        first = 1e3 * (time.perf_counter() - t0)
        tracked = []
        for _ in range(10):
            t0 = time.perf_counter()
            det.detect(image)
            tracked.append(1e3 * (time.perf_counter() - t0))
        row: dict = {
            "size": f"{image.shape[1]}x{image.shape[0]}",
            "person_found": found is not None,
            "first_frame_ms": round(first, 1),
            "tracked_frame_ms_median": round(statistics.median(tracked), 1),
        }
        if found is not None:
            row["visible"] = {
                COCO17[k]: [round(float(found.uv[k, 0])), round(float(found.uv[k, 1])), round(float(found.score[k]), 2)]
                for k in range(len(COCO17))
                if found.score[k] > 0.5
            }
        if found is not None and name in LABELS:
            iod = interocular_px(name)
            row["labelled_error"] = {
                point: {
                    "px": round(float(np.hypot(*(found.uv[COCO17.index(point)] - ref))), 1),
                    "iod": round(float(np.hypot(*(found.uv[COCO17.index(point)] - ref))) / iod, 2),
                }
                for point, ref in LABELS[name].items()
            }
            row["interocular_px"] = round(iod, 1)
        out[name] = row
    return out


def lifting(seed: int = 0) -> dict:
    """3-D error of lifting on a tilted plane with holes, 1 mm steps and depth noise (see the module docstring)."""
    rng = np.random.default_rng(seed)
    cam = d435()
    n = np.array([np.sin(np.pi / 6), 0.0, np.cos(np.pi / 6)])  # plane n . p = d, 1.5 m along the axis
    d = 1.5 * np.cos(np.pi / 6)
    vv, uu = np.mgrid[0:HEIGHT, 0:WIDTH]
    rays = cam.pixel_to_camera(np.stack((uu, vv), axis=-1), np.ones((HEIGHT, WIDTH)))
    z_true = d / (rays @ n)  # [H, W] depth along the axis of the plane point each pixel sees
    uv = np.stack((rng.uniform(20, WIDTH - 21, 400), rng.uniform(20, HEIGHT - 21, 400)), axis=1)
    truth = cam.pixel_to_camera(uv, d / (cam.pixel_to_camera(uv, np.ones(400)) @ n))
    out = {"plane": "1.5 m, tilted 30 deg", "holes": 0.2, "quantisation_mm": 1, "pixels": 400}
    for noise_mm in (0.0, 5.0):
        z = z_true + rng.normal(0.0, noise_mm * 1e-3, z_true.shape)
        depth_mm = np.rint(z * 1000).astype(np.uint16)
        depth_mm[rng.random(depth_mm.shape) < 0.2] = 0
        depth = depth_mm.astype(np.float32) / 1000.0
        for window in (1, 5):
            pts, conf = lift_keypoints(uv, np.ones(400), depth, cam, window=window)
            ok = conf > 0
            err = 1e3 * np.linalg.norm(pts[ok] - truth[ok], axis=1)
            out[f"noise_{noise_mm:g}mm_window_{window}"] = {
                "lifted": int(ok.sum()),
                "error_mm_median": round(float(np.median(err)), 2),
                "error_mm_p95": round(float(np.percentile(err, 95)), 2),
                "error_mm_max": round(float(np.max(err)), 2),
            }
    return out


def frame_640x480() -> tuple[np.ndarray, np.ndarray]:
    """The astronaut scaled to 360 x 360 px at the top centre of a grey 640x480 frame, and a wall at 2 m.

    Small enough that MediaPipe places every point the state needs (shoulders, hips, right elbow and wrist)
    inside the frame, so each frame goes the whole way to a reward; the hips lie below the photograph's
    edge (guessed, not seen) and the right wrist scores 0.35 falling to ~0.2 as MediaPipe smooths, hence the reward node's ``min_confidence``
    of ``MIN_CONFIDENCE`` in this benchmark. The timing does not depend on where the points are.
    """
    import cv2

    rgb = np.full((HEIGHT, WIDTH, 3), 114, np.uint8)
    rgb[20:380, 140:500] = cv2.resize(load_photo("astronaut"), (360, 360), interpolation=cv2.INTER_AREA)
    return rgb, np.full((HEIGHT, WIDTH), WALL_M, np.float32)


def in_process(reps: int, model: Path) -> dict:
    """Detector cycle and reward cycle on one 640x480 frame, this process pinned to one core."""
    from dynamics_stack.runtime import load_runtime
    from visual_irl.detector_cycle import DetectorCycle
    from visual_irl.detector_node_cfg import KeypointDetectorNodeCfg
    from visual_irl.node_cfg import IrlRewardNodeCfg
    from visual_irl.pose_detectors import MediaPipePoseDetector
    from visual_irl.retarget import Retargeter
    from visual_irl.reward_cycle import RewardCycle
    from visual_irl.robots import load_robot

    affinity = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(affinity)})
    try:
        rgb, depth = frame_640x480()
        det = DetectorCycle(KeypointDetectorNodeCfg(), MediaPipePoseDetector())
        det.take_camera(d435())
        node_cfg = IrlRewardNodeCfg(min_confidence=MIN_CONFIDENCE)
        rew = RewardCycle(node_cfg, load_runtime(model, "onnx"), Retargeter(load_robot(node_cfg.robot)))
        det_ms, rew_ms, why, first = [], [], set(), None
        for i in range(reps + 1):
            stamp = 1.0 + i / 30.0
            t0 = time.perf_counter()
            out = det.frame(stamp, "rgb8", rgb, "32FC1", depth)
            t1 = time.perf_counter()
            if out.keypoints is None:
                why.add(out.why)
                continue
            rew.take_objects(stamp, np.array([ONION]))
            result = rew.frame(stamp, out.keypoints)
            t2 = time.perf_counter()
            if result.reward is None:
                why.add(result.why)
            if first is None:  # the first frame runs the person detector: reported apart
                first = 1e3 * (t2 - t0)
            else:
                det_ms.append(1e3 * (t1 - t0))
                rew_ms.append(1e3 * (t2 - t1))
        if not det_ms:
            raise RuntimeError(f"no frame went through the detector: {sorted(why)}")
        return {
            "cores": 1,
            "frame": f"{WIDTH}x{HEIGHT}: the astronaut at 360 px, wall at {WALL_M} m",
            "messages": message_cost(rgb, depth, reps),
            "first_frame_ms": round(first, 1),
            "detector_cycle": _ms(det_ms),
            "reward_cycle": _ms(rew_ms),
            "frames_rewarded": rew.counts["rewarded"],
            "reward_min_confidence": MIN_CONFIDENCE,
            "not_rewarded_why": sorted(why),
        }
    finally:
        os.sched_setaffinity(0, affinity)


def message_cost(rgb: np.ndarray, depth: np.ndarray, reps: int) -> dict:
    """What the ROS side of one frame costs in Python, no DDS: colour (rgb8) and depth (16UC1) to messages,
    serialised and deserialised (the bytes DDS carries), back to arrays (the detector node's conversion)."""
    from rclpy.serialization import deserialize_message, serialize_message
    from sensor_msgs.msg import Image

    from dynamics_stack.ros.image_convert import array_to_image, image_to_array

    depth_mm = np.rint(depth * 1000).astype(np.uint16)
    ms = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for array, encoding in ((rgb, "rgb8"), (depth_mm, "16UC1")):
            image_to_array(deserialize_message(serialize_message(array_to_image(array, encoding)), Image))
        ms.append(1e3 * (time.perf_counter() - t0))
    return _ms(ms)


class FixedPoints:
    """A detector plug-in that costs nothing (``detector: camera_path:FixedPoints``): all 17 keypoints at the image
    centre. With it, image -> keypoints is the transport floor: DDS, the conversions and the executors alone."""

    def detect(self, rgb: np.ndarray):
        from visual_irl.pose_detectors import Landmarks2D

        h, w = rgb.shape[:2]
        return Landmarks2D(uv=np.tile([(w - 1) / 2, (h - 1) / 2], (len(COCO17), 1)), score=np.ones(len(COCO17)))

    def reset(self) -> None:
        pass


def over_ros(frames: int, rate_hz: float, model: Path, two_cores: bool = False, no_detector: bool = False) -> dict:
    """keypoint_detector and irl_reward as two processes on one core (``two_cores``: one core each); this process
    is the camera (module docstring). ``no_detector``: the ``FixedPoints`` plug-in instead of MediaPipe (the
    reward node then finds no body in the points: only image -> keypoints is timed)."""
    from dynamics_stack.ros.env import configure_loopback_dds

    configure_loopback_dds()
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from geometry_msgs.msg import Vector3Stamped
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node
    from sensor_msgs.msg import CameraInfo, Image, PointCloud2
    from std_msgs.msg import Header

    from dynamics_stack.ros.image_convert import array_to_image, camera_info
    from dynamics_stack.ros.pointcloud import array_to_pointcloud2
    from dynamics_stack.ros.stamps import stamp_to_sec

    cores = sorted(os.sched_getaffinity(0))
    if two_cores and len(cores) < 2:
        return {"skipped": "one core only"}
    procs = [
        _start("visual_irl.detector_node", {"detector": "camera_path:FixedPoints"} if no_detector else {}, cores[0]),
        _start(
            "visual_irl.node",
            {"model": str(model), "expected_rate_hz": rate_hz, "min_confidence": MIN_CONFIDENCE},
            cores[1] if two_cores else cores[0],
        ),
    ]
    rgb, depth = frame_640x480()
    depth_mm = np.rint(depth * 1000).astype(np.uint16)
    cam = d435()
    rclpy.init()
    node = Node("bench_camera")
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    pubs = {
        # reliable, keep last 5: a RealSense driver's default (the detector subscribes best effort)
        "color": node.create_publisher(Image, "color/image_raw", 5),
        "depth": node.create_publisher(Image, "depth/image_raw", 5),
        "info": node.create_publisher(CameraInfo, "color/camera_info", 5),
        "objects": node.create_publisher(PointCloud2, "objects", 10),
    }
    arrivals: list[tuple[float, float]] = []  # (stamp, arrival) of each reward
    kp_arrivals: list[tuple[float, float]] = []  # (stamp, arrival) of each keypoint cloud
    reports: dict[str, dict] = {}  # the last /diagnostics values of each node
    detect_ms: list[float] = []  # the detector node's own median detection time of each report period

    def on_diagnostics(msg: DiagnosticArray) -> None:
        for status in msg.status:
            values = {kv.key: kv.value for kv in status.values}
            reports[status.name] = values
            if values.get("detect_ms_median_last_period"):
                detect_ms.append(float(values["detect_ms_median_last_period"]))

    node.create_subscription(DiagnosticArray, "/diagnostics", on_diagnostics, 10)
    node.create_subscription(
        PointCloud2, "keypoints", lambda m: kp_arrivals.append((stamp_to_sec(m.header.stamp), time.time())), 50
    )
    node.create_subscription(
        Vector3Stamped, "reward", lambda m: arrivals.append((stamp_to_sec(m.header.stamp), time.time())), 50
    )
    try:
        deadline = time.monotonic() + 120.0  # MediaPipe and the reward model load at configure
        while time.monotonic() < deadline and not (
            all(p.get_subscription_count() > 0 for p in pubs.values()) and node.count_publishers("reward") > 0
        ):
            executor.spin_once(timeout_sec=0.1)
        # the nodes are up: a few frames until the first reward, then the timed ones at rate_hz
        sent: list[float] = []
        start = time.monotonic()
        for i in range(frames + 20):
            now = time.time()
            header = Header(frame_id=cam.name)
            header.stamp.sec, header.stamp.nanosec = int(now), int((now % 1) * 1e9)
            pubs["info"].publish(camera_info(cam, header))
            pubs["objects"].publish(array_to_pointcloud2(np.array([ONION]), ("x", "y", "z", "blemished"), header))
            pubs["depth"].publish(array_to_image(depth_mm, "16UC1", header))
            pubs["color"].publish(array_to_image(rgb, "rgb8", header))
            sent.append(stamp_to_sec(header.stamp))
            next_t = start + (i + 1) / rate_hz
            while time.monotonic() < next_t:
                executor.spin_once(timeout_sec=max(0.0, next_t - time.monotonic()))
        end = time.monotonic() + 2.0
        while time.monotonic() < end:
            executor.spin_once(timeout_sec=0.05)
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.shutdown()
        for proc, _log in procs:
            _stop(proc)
    warm = set(sent[20:])  # the first 20 frames: tracking starts, the reward's input rate settles
    lat = [1e3 * (arrival - stamp) for stamp, arrival in arrivals if stamp in warm]
    kp_lat = [1e3 * (arrival - stamp) for stamp, arrival in kp_arrivals if stamp in warm]
    logs = ", ".join(str(p[1]) for p in procs)
    return {
        "cores": 2 if two_cores else 1,
        "rate_hz": rate_hz,
        "frames_timed": len(warm),
        "keypoint_clouds": len(kp_lat),
        "rewards": len(lat),
        "latency_to_keypoints": _ms(kp_lat) if kp_lat else f"no keypoints arrived: see the node logs {logs}",
        "latency": (
            "not timed: FixedPoints gives no body to reward"
            if no_detector
            else _ms(lat)
            if lat
            else f"no reward arrived: see the node logs {logs}"
        ),
        "detect_ms_in_node_per_second_median": round(statistics.median(detect_ms), 1) if detect_ms else None,
        "diagnostics": reports,
    }


def _start(module: str, params: dict, core: int) -> tuple[subprocess.Popen, Path]:
    args = [sys.executable, "-m", module, "--ros-args"]
    for key, value in params.items():
        args += ["-p", f"{key}:={value}"]
    log = Path(tempfile.mkstemp(prefix=f"bench-{module}-", suffix=".log")[1])
    path = os.pathsep.join(filter(None, [str(Path(__file__).parent), os.environ.get("PYTHONPATH")]))  # FixedPoints
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1", "PYTHONPATH": path}
    with log.open("w") as out:
        proc = subprocess.Popen(
            args,
            cwd=PACKAGE_ROOT,
            env=env,
            stdout=out,
            stderr=out,
            preexec_fn=lambda: os.sched_setaffinity(0, {core}),
        )
    return proc, log


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def measure(reps: int, frames: int, rate_hz: float, model: Path) -> dict:
    missing = mediapipe_missing()
    out: dict = {"lifting": lifting()}
    if missing:
        return {**out, "photos": missing, "latency": missing}
    out["photos"] = photos()
    out["latency"] = {
        "in_process": in_process(reps, model),
        "over_ros": over_ros(frames, rate_hz, model),
        "over_ros_two_cores": over_ros(frames, rate_hz, model, two_cores=True),
        "over_ros_no_detector": over_ros(frames, rate_hz, model, no_detector=True),
        "over_ros_no_detector_two_cores": over_ros(frames, rate_hz, model, two_cores=True, no_detector=True),
    }
    return out


def print_tables(res: dict) -> None:
    print("\nkeypoint detector (MediaPipe Pose) on photographs")
    if isinstance(res["photos"], str):
        print(res["photos"])
    else:
        print(f"{'photo':14s} {'size':9s} {'person':6s} {'first ms':>8s} {'tracked ms':>10s}  labelled error px (IOD)")
        for name, row in res["photos"].items():
            errs = ", ".join(f"{p} {e['px']} ({e['iod']})" for p, e in row.get("labelled_error", {}).items())
            print(
                f"{name:14s} {row['size']:9s} {row['person_found']!s:6s} {row['first_frame_ms']:8.1f} "
                f"{row['tracked_frame_ms_median']:10.1f}  {errs}"
            )
    print("\nlifting on a tilted plane (holes 20 %, 1 mm steps), 3-D error mm: median / p95 / max")
    for key, row in res["lifting"].items():
        if isinstance(row, dict):
            print(f"{key:26s} {row['error_mm_median']:6.2f} {row['error_mm_p95']:6.2f} {row['error_mm_max']:6.2f}")
    lat = res["latency"]
    print("\nimage -> reward at 640x480, one CPU core")
    if isinstance(lat, str):
        print(lat)
        return
    ip = lat["in_process"]
    print(
        f"detector cycle (MediaPipe + lifting)   median {ip['detector_cycle']['median_ms']:7.1f}  p95 {ip['detector_cycle']['p95_ms']:7.1f}"
    )
    print(
        f"reward cycle (features..limits, ORT)   median {ip['reward_cycle']['median_ms']:7.1f}  p95 {ip['reward_cycle']['p95_ms']:7.1f}"
    )
    print(
        f"colour + depth messages (to, serialise, from) median {ip['messages']['median_ms']:7.1f}  p95 {ip['messages']['p95_ms']:7.1f}"
    )
    for name in ("over_ros", "over_ros_two_cores", "over_ros_no_detector", "over_ros_no_detector_two_cores"):
        ros = lat[name]
        if "skipped" in ros:
            print(f"{name}: skipped ({ros['skipped']})")
            continue
        where = "one core" if ros["cores"] == 1 else "a core each"
        what = "no detector (FixedPoints)" if "no_detector" in name else "MediaPipe"
        print(f"nodes on {where}, {what}: the node's own detection {ros['detect_ms_in_node_per_second_median']} ms")
        for key, label in (("latency_to_keypoints", "image -> keypoints"), ("latency", "image -> reward")):
            row = ros[key]
            if isinstance(row, dict):
                print(
                    f"  over DDS, {ros['rate_hz']:g} Hz, {label:18s} median {row['median_ms']:7.1f}  "
                    f"p95 {row['p95_ms']:7.1f}  ({row['n']} of {ros['frames_timed']} frames)"
                )
            else:
                print(row)


def main(argv=None) -> int:
    """Run alone: ``python benchmarks/camera_path.py`` prints the tables (bench_irl.py --camera-only writes JSON)."""
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", type=Path, default=PACKAGE_ROOT / "models/irl_reward.card.json")
    ap.add_argument("--reps", type=int, default=100)
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--rate-hz", type=float, default=10.0)
    args = ap.parse_args(argv)
    print_tables(measure(args.reps, args.frames, args.rate_hz, args.model))
    return 0


if __name__ == "__main__":
    sys.exit(main())
