"""rosbag2 (MCAP or sqlite3) in and out with the rosbags library; no ROS install needed.

- ``BagWriter``: messages serialised by rclpy (CDR, what ``ros2 bag record``
  stores) under the type names and definitions of rosbags' Jazzy type store,
  so ``ros2 bag`` and the importers here read the result. The bag is only
  valid after ``close()`` (the metadata file is written last); a crash leaves
  a bag that readers report as truncated.
- ``record``: a node that writes whatever arrives on some topics, unchanged.
- ``open_bag`` and ``typestore``: the reading side, with errors that name the
  bag (a folder without ``metadata.yaml``, a truncated or corrupt file).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

STORAGES = ("mcap", "sqlite3")


def typestore():
    """rosbags' type store of ROS 2 Jazzy (what the writer uses and readers deserialise with)."""
    from rosbags.typesys import Stores, get_typestore

    return get_typestore(Stores.ROS2_JAZZY)


def open_bag(bag: str | Path, error: type[Exception] = ValueError):
    """An open rosbags ``Reader`` of ``bag``; anything unreadable raises ``error`` naming the bag and why."""
    from rosbags.rosbag2 import Reader, ReaderError

    bag = Path(bag)
    if not bag.exists():
        raise error(f"{bag}: no such bag (a rosbag2 folder)")
    if bag.is_dir() and not (bag / "metadata.yaml").is_file():
        raise error(
            f"{bag}: no metadata.yaml — the recording did not finish (truncated bag) or this is not a rosbag2 folder"
        )
    try:
        reader = Reader(bag)
        reader.open()
    except (ReaderError, OSError, ValueError, KeyError) as exc:
        raise error(f"{bag}: cannot open the bag (truncated or corrupt?): {exc}") from exc
    return reader


def msg_type_name(msg_or_cls: Any) -> str:
    """'pkg/msg/Name' of an rclpy message (class or instance)."""
    cls = msg_or_cls if isinstance(msg_or_cls, type) else type(msg_or_cls)
    return f"{cls.__module__.split('.')[0]}/msg/{cls.__name__}"


class BagWriter:
    """Append messages of known types to topics of a new rosbag2 folder."""

    def __init__(self, path: str | Path, storage: str = "mcap"):
        from rosbags.rosbag2 import StoragePlugin, Writer

        if storage not in STORAGES:
            raise ValueError(f"bag storage must be one of {STORAGES}, got {storage!r}")
        self.path = Path(path)
        if self.path.exists():
            raise FileExistsError(f"{self.path}: bag folder exists already (rosbag2 writes a new folder)")
        plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
        self.typestore = typestore()
        self.writer = Writer(self.path, version=9, storage_plugin=plugin)
        self.writer.open()
        self.connections: dict[str, Any] = {}
        self.count = 0

    def add_topic(self, topic: str, msg_type: str) -> None:
        if topic not in self.connections:
            self.connections[topic] = self.writer.add_connection(topic, msg_type, typestore=self.typestore)

    def write(self, topic: str, msg: Any, t_ns: int) -> None:
        """Serialise ``msg`` with rclpy and store it at receive time ``t_ns``."""
        from rclpy.serialization import serialize_message

        self.add_topic(topic, msg_type_name(msg))
        self.writer.write(self.connections[topic], int(t_ns), serialize_message(msg))
        self.count += 1

    def write_raw(self, topic: str, msg_type: str, data: bytes, t_ns: int) -> None:
        """Store already serialised CDR bytes (from a raw subscription)."""
        self.add_topic(topic, msg_type)
        self.writer.write(self.connections[topic], int(t_ns), data)
        self.count += 1

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def record(
    path: str | Path,
    topics: dict[str, str],
    storage: str = "mcap",
    duration: float = 0.0,
    first_message_timeout: float = 30.0,
) -> int:
    """Record ``topics`` (name -> 'pkg/msg/Type') into a new bag; returns the number of messages written.

    With ``duration`` > 0 it records that many seconds counted from the first
    message (DDS discovery takes a moment, longer on a loaded machine, and those
    seconds would otherwise be lost), and gives up after ``first_message_timeout``
    seconds without any; with 0 it records until Ctrl-C. Subscriptions are raw (the
    CDR bytes go into the bag unchanged) with sensor-data QoS, which also receives
    from reliable publishers.
    """
    import importlib
    import time

    import rclpy
    from rclpy.executors import ExternalShutdownException
    from rclpy.qos import qos_profile_sensor_data

    from dynamics_stack.ros.spin import init_with_stop_flag

    writer = BagWriter(path, storage)
    first: list[float | None] = [None]  # monotonic time of the first message
    stop = init_with_stop_flag()  # Ctrl-C ends the loop below; the bag is closed either way
    node = rclpy.create_node("dynstack_record")
    try:
        for topic, type_name in topics.items():
            pkg, _, name = type_name.split("/")
            cls = getattr(importlib.import_module(f"{pkg}.msg"), name)
            writer.add_topic(topic, type_name)

            def store(data: bytes, topic=topic, type_name=type_name) -> None:
                if first[0] is None:
                    first[0] = time.monotonic()
                writer.write_raw(topic, type_name, data, node.get_clock().now().nanoseconds)

            node.create_subscription(cls, topic, store, qos_profile_sensor_data, raw=True)
        give_up = time.monotonic() + first_message_timeout
        while rclpy.ok() and not stop.is_set():
            now = time.monotonic()
            if duration > 0 and (now > first[0] + duration if first[0] is not None else now > give_up):
                break
            rclpy.spin_once(node, timeout_sec=0.1)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        writer.close()
        node.destroy_node()
        rclpy.try_shutdown()
    return writer.count
