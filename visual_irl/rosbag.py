"""rosbag2 (sqlite3 or MCAP) <-> demonstrations, through the ``rosbags`` library (no ROS install needed).

A bag holds the ``irl_reward`` node's input topics: ``/keypoints`` and
``/objects`` (sensor_msgs/PointCloud2; layout in ``visual_irl/node.py``). Each
keypoint message becomes one frame (time = its header stamp); the onion is
taken from the objects message nearest in stamp, if within ``max_object_age``
seconds (else NaN, as a missed detection).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dynamics_stack.ros.bag import open_bag, typestore
from dynamics_stack.ros.pointcloud import FLOAT32, PointCloudError, pointcloud2_to_array
from dynamics_stack.ros.stamps import sec_to_parts, stamp_to_sec
from visual_irl.keypoints import KeypointDemo, KeypointFileError
from visual_irl.reward_cycle import KEYPOINT_FIELDS, OBJECT_FIELDS


def _cloud_array(msg, fields: tuple[str, ...], where: str) -> np.ndarray:
    """Fields of a (rosbags) PointCloud2 as [N, len(fields)] float32; KeypointFileError saying where it is bad."""
    try:
        return pointcloud2_to_array(msg, fields)
    except PointCloudError as exc:
        raise KeypointFileError(f"{where}: {exc}") from None


def load_bag(
    path: str | Path, keypoints_topic: str = "/keypoints", objects_topic: str = "/objects", max_object_age: float = 0.2
) -> KeypointDemo:
    path = Path(path)
    store = typestore()
    frames: list[tuple[float, np.ndarray]] = []
    objects: list[tuple[float, np.ndarray]] = []
    reader = open_bag(path, KeypointFileError)
    try:
        topics = {c.topic for c in reader.connections}
        if keypoints_topic not in topics:
            raise KeypointFileError(f"{path}: no topic {keypoints_topic} (topics: {sorted(topics)})")
        conns = [c for c in reader.connections if c.topic in (keypoints_topic, objects_topic)]
        for conn, _, raw in reader.messages(connections=conns):
            msg = store.deserialize_cdr(raw, conn.msgtype)
            stamp = stamp_to_sec(msg.header.stamp)
            where = f"{path} {conn.topic} at {stamp:.3f}"
            if conn.topic == keypoints_topic:
                arr = _cloud_array(msg, KEYPOINT_FIELDS, where)
                if arr.shape[0] != 17:
                    raise KeypointFileError(f"{where}: {arr.shape[0]} keypoints, expected 17 (COCO-17)")
                frames.append((stamp, arr))
            else:
                arr = _cloud_array(msg, OBJECT_FIELDS, where)
                if len(arr):
                    objects.append((stamp, arr[0]))
    except KeypointFileError:
        raise
    except Exception as exc:  # rosbags raises its own error types for damaged bags
        raise KeypointFileError(f"{path}: not a readable rosbag2 ({exc})") from exc
    finally:
        reader.close()
    if not frames:
        raise KeypointFileError(f"{path}: no messages on {keypoints_topic}")
    frames.sort(key=lambda f: f[0])
    t = np.array([f[0] for f in frames])
    kp = np.stack([f[1] for f in frames])
    obj = np.full((len(t), 1, 3), np.nan, dtype=np.float32)
    blem = []
    if objects:
        ot = np.array([o[0] for o in objects])
        ov = np.stack([o[1] for o in objects])
        idx = np.abs(t[:, None] - ot[None]).argmin(1)
        near = np.abs(ot[idx] - t) <= max_object_age
        obj[near, 0] = ov[idx[near], :3]
        blem = ov[:, 3]
    label = "onion_blemished" if len(blem) and np.mean(blem > 0.5) > 0.5 else "onion_good"
    return KeypointDemo(
        t=t - t[0],
        keypoints=kp[:, :, :3],
        confidence=np.nan_to_num(kp[:, :, 3]),
        objects=obj,
        labels=(label,),
        meta={"source": str(path), "start_stamp": float(t[0])},
    )


def write_bag(demo: KeypointDemo, path: str | Path, start_stamp: float = 1000.0) -> Path:
    """Write a demonstration as the node's input topics (sqlite3 rosbag2), e.g. to replay it to the node."""
    from rosbags.rosbag2 import Writer

    store = typestore()
    T = store.types
    Header, Time = T["std_msgs/msg/Header"], T["builtin_interfaces/msg/Time"]
    PointCloud2, PointField = T["sensor_msgs/msg/PointCloud2"], T["sensor_msgs/msg/PointField"]
    blem = 1.0 if demo.labels and "blemished" in demo.labels[0] else 0.0

    def cloud(points: np.ndarray, names: tuple[str, ...], stamp: float):
        data = np.ascontiguousarray(points, dtype="<f4")
        fields = [PointField(name=n, offset=4 * i, datatype=FLOAT32, count=1) for i, n in enumerate(names)]
        sec, nanosec = sec_to_parts(stamp)
        header = Header(stamp=Time(sec=sec, nanosec=nanosec), frame_id="camera_color_optical_frame")
        return PointCloud2(
            header=header,
            height=1,
            width=len(points),
            fields=fields,
            is_bigendian=False,
            point_step=4 * len(names),
            row_step=4 * len(names) * len(points),
            data=data.view(np.uint8).reshape(-1),
            is_dense=False,
        )

    path = Path(path)
    msgtype = "sensor_msgs/msg/PointCloud2"
    with Writer(path, version=9) as writer:
        c_kp = writer.add_connection("/keypoints", msgtype, typestore=store)
        c_obj = writer.add_connection("/objects", msgtype, typestore=store)
        for i, t in enumerate(demo.t):
            stamp = start_stamp + float(t)
            ns = round(stamp * 1e9)
            onion = demo.objects[i, 0] if demo.objects.shape[1] else np.full(3, np.nan)
            if np.all(np.isfinite(onion)):
                msg = cloud(np.append(onion, blem)[None], OBJECT_FIELDS, stamp)
                writer.write(c_obj, ns, store.serialize_cdr(msg, msgtype))
            pts = np.concatenate([demo.keypoints[i], demo.confidence[i][:, None]], axis=1)
            writer.write(c_kp, ns, store.serialize_cdr(cloud(pts, KEYPOINT_FIELDS, stamp), msgtype))
    return path
