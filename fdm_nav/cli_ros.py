"""``dynstack nav import-bag`` and ``dynstack nav record``: rosbag2 in and out for FDM fine-tuning data.

Heavy imports (rosbags, rclpy) happen inside the commands so ``dynstack --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from fdm_nav.runner_contract import CMD_VEL, ELEVATION_MAP, ODOMETRY

# Topics ``dynstack nav record`` takes by default, with their types (what import-bag reads): the runner contract's
# odometry, map and command, and the embedded simulator's failure status.
DEFAULT_TOPICS = {
    **{f"/{spec.name}": spec.type for spec in (ODOMETRY, ELEVATION_MAP, CMD_VEL)},
    "/terrain_sim/status": "std_msgs/msg/String",
}


def register_ros_commands(sub: argparse._SubParsersAction) -> None:
    imp = sub.add_parser(
        "import-bag",
        help="turn a rosbag2 (MCAP or sqlite3) of odometry, elevation maps and commands into an FDM dataset",
        description="Writes DIR/shard_00000.npz and DIR/manifest.json in the simulator's dataset format "
        "(sim/README.md); conversion rules in fdm_nav/bag_import.py.",
    )
    imp.add_argument("bag", type=Path, help="rosbag2 folder")
    imp.add_argument("--out", type=Path, required=True, help="dataset folder to write")
    imp.add_argument("--odometry-topic", default="/odometry", help="nav_msgs/Odometry topic")
    imp.add_argument("--map-topic", default="/elevation_map", help="sensor_msgs/PointCloud2 elevation topic")
    imp.add_argument("--cmd-topic", default="/cmd_vel", help="geometry_msgs/Twist or TwistStamped topic")
    imp.add_argument("--status-topic", default="/terrain_sim/status", help="optional failure status (JSON String)")
    imp.add_argument("--map-resolution", type=float, default=0.0, help="map cell size in m (0: from the cloud)")
    imp.add_argument("--platform", default="anymal_d", help="platform the data comes from")
    imp.set_defaults(func=_import_bag)

    rec = sub.add_parser(
        "record",
        help="record the navigation topics into a rosbag2 (what import-bag reads)",
        description="Subscribes raw to each topic and writes the messages unchanged. Stops --duration seconds after "
        "the first message (or after 30 s without any) or on Ctrl-C; the bag is complete only after a clean stop.",
    )
    rec.add_argument("bag", type=Path, help="rosbag2 folder to create (must not exist)")
    rec.add_argument("--storage", choices=("mcap", "sqlite3"), default="mcap")
    rec.add_argument(
        "--duration",
        type=float,
        default=0.0,
        help="seconds to record, counted from the first message (0: until Ctrl-C)",
    )
    rec.add_argument(
        "--topic",
        action="append",
        default=None,
        metavar="NAME=pkg/msg/Type",
        help="topic to record (repeatable); default: /odometry, /elevation_map, /cmd_vel, /terrain_sim/status",
    )
    rec.set_defaults(func=_record)


def _import_bag(args: argparse.Namespace) -> int:
    from dynamics_stack.config import ConfigError
    from fdm_nav.bag_import import BagImportCfg, import_bag

    try:
        cfg = BagImportCfg(
            odometry_topic=args.odometry_topic,
            map_topic=args.map_topic,
            cmd_topic=args.cmd_topic,
            status_topic=args.status_topic,
            map_resolution=args.map_resolution,
            platform=args.platform,
        )
    except ValueError as exc:
        raise ConfigError(f"import-bag arguments: {exc}") from exc
    manifest = import_bag(args.bag, args.out, cfg)
    print(json.dumps({"out": str(args.out), "totals": manifest["totals"], "import": manifest["import"]}, indent=2))
    return 0


def _record(args: argparse.Namespace) -> int:
    from dynamics_stack.config import ConfigError
    from dynamics_stack.ros.bag import record

    topics = dict(DEFAULT_TOPICS)
    if args.topic:
        topics = {}
        for item in args.topic:
            name, sep, type_name = item.partition("=")
            if not sep or type_name.count("/") != 2:
                raise ConfigError(f"record: --topic expects NAME=pkg/msg/Type, got {item!r}")
            topics[name] = type_name
    if args.bag.exists():
        raise ConfigError(f"record: {args.bag} exists already (rosbag2 writes a new folder)")
    count = record(args.bag, topics, args.storage, args.duration)
    print(json.dumps({"bag": str(args.bag), "messages": count}))
    return 0
