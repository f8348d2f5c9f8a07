"""The ROS 2 bridge wiring of the Isaac runner as data: an OmniGraph action graph built from the runner contract.

Isaac Sim 5.x (extension ``isaacsim.ros2.bridge``) publishes and subscribes
through OmniGraph nodes. ``graph_spec`` returns the arguments of
``og.Controller.edit`` (nodes, connections, values) derived from
``fdm_nav.runner_contract``, so the topic names, types and frames cannot
drift from the embedded simulator's; the runner passes it to OmniGraph
unchanged and tests check it here as data.

Who writes what: the graph ticks once per app update (``OnPlaybackTick``;
the runner steps the world by one policy step of 0.02 s per update, so 50 Hz)
and then publishes /clock and odometry and polls cmd_vel. The runner writes
the values (``WRITES``) before each update, stamps included (simulated time
of the state it publishes), and reads the command (``READS``) after it. The
elevation map goes out only when the runner fires ``MapImpulse`` (at the
contract's 5 Hz). Node types and attribute names: Isaac Sim 5.x
``isaacsim.ros2.bridge`` node definitions (OgnROS2*.ogn) and OmniGraph's
action nodes; not run here.
"""

from __future__ import annotations

from typing import Any

from fdm_nav.runner_contract import BASE_FRAME, CLOCK, CMD_VEL, ELEVATION_MAP, ODOM_FRAME, ODOMETRY, TopicSpec

GRAPH_PATH = "/World/DynstackRos2Graph"
BRIDGE_EXTENSION = "isaacsim.ros2.bridge"  # Isaac Sim 5.x; 6.x split it into ros2.core / nodes / bridge

# Node name -> OmniGraph node type.
NODES = {
    "Tick": "omni.graph.action.OnPlaybackTick",
    "Context": "isaacsim.ros2.bridge.ROS2Context",
    "PublishClock": "isaacsim.ros2.bridge.ROS2PublishClock",
    "PublishOdometry": "isaacsim.ros2.bridge.ROS2PublishOdometry",
    "MapImpulse": "omni.graph.action.OnImpulseEvent",
    "PublishMap": "isaacsim.ros2.bridge.ROS2PublishPointCloud",
    "SubscribeTwist": "isaacsim.ros2.bridge.ROS2SubscribeTwist",
    "CmdCounter": "omni.graph.action.Counter",  # counts received Twists: tells a repeated command from none
}

# The attributes this graph touches, per node type, as the 5.x node definitions name them.
NODE_ATTRIBUTES = {
    "omni.graph.action.OnPlaybackTick": {"outputs:tick"},
    "omni.graph.action.OnImpulseEvent": {"outputs:execOut", "state:enableImpulse"},
    "omni.graph.action.Counter": {"inputs:execIn", "outputs:count"},
    "isaacsim.ros2.bridge.ROS2Context": {"outputs:context"},
    "isaacsim.ros2.bridge.ROS2PublishClock": {
        "inputs:execIn",
        "inputs:context",
        "inputs:topicName",
        "inputs:timeStamp",
    },
    "isaacsim.ros2.bridge.ROS2PublishOdometry": {
        "inputs:execIn",
        "inputs:context",
        "inputs:topicName",
        "inputs:timeStamp",
        "inputs:odomFrameId",
        "inputs:chassisFrameId",
        "inputs:publishRawVelocities",
        "inputs:position",
        "inputs:orientation",
        "inputs:linearVelocity",
        "inputs:angularVelocity",
    },
    "isaacsim.ros2.bridge.ROS2PublishPointCloud": {
        "inputs:execIn",
        "inputs:context",
        "inputs:topicName",
        "inputs:timeStamp",
        "inputs:frameId",
        "inputs:data",
        "inputs:bufferSize",
    },
    "isaacsim.ros2.bridge.ROS2SubscribeTwist": {
        "inputs:execIn",
        "inputs:context",
        "inputs:topicName",
        "outputs:execOut",
        "outputs:linearVelocity",
        "outputs:angularVelocity",
    },
}

# Which node carries which contract topic.
TOPIC_NODES = {
    "PublishClock": CLOCK,
    "PublishOdometry": ODOMETRY,
    "PublishMap": ELEVATION_MAP,
    "SubscribeTwist": CMD_VEL,
}

# Attributes the runner sets before each update / reads after it.
WRITES = {
    "clock_stamp": "PublishClock.inputs:timeStamp",
    "odom_stamp": "PublishOdometry.inputs:timeStamp",
    "odom_position": "PublishOdometry.inputs:position",
    "odom_orientation": "PublishOdometry.inputs:orientation",  # IJKR (x, y, z, w) order
    "odom_linear": "PublishOdometry.inputs:linearVelocity",  # body frame (publishRawVelocities)
    "odom_angular": "PublishOdometry.inputs:angularVelocity",
    "map_stamp": "PublishMap.inputs:timeStamp",
    "map_points": "PublishMap.inputs:data",
    "map_bytes": "PublishMap.inputs:bufferSize",
    "map_fire": "MapImpulse.state:enableImpulse",
}
READS = {
    "cmd_count": "CmdCounter.outputs:count",
    "cmd_linear": "SubscribeTwist.outputs:linearVelocity",
    "cmd_angular": "SubscribeTwist.outputs:angularVelocity",
}


def bridge_topic(spec: TopicSpec) -> str:
    """The bridge's topicName for a contract topic (the bridge node has no namespace: '/clock' and 'clock' agree)."""
    return spec.name.lstrip("/")


def graph_spec() -> dict[str, list[tuple[str, Any]]]:
    """``og.Controller.edit`` arguments by key name: ``create_nodes``, ``connect``, ``set_values``."""
    ros_nodes = [n for n in NODES if NODES[n].startswith("isaacsim.ros2.bridge.") and n != "Context"]
    connect = [
        ("Tick.outputs:tick", f"{n}.inputs:execIn") for n in ("PublishClock", "PublishOdometry", "SubscribeTwist")
    ]
    connect += [
        ("MapImpulse.outputs:execOut", "PublishMap.inputs:execIn"),
        ("SubscribeTwist.outputs:execOut", "CmdCounter.inputs:execIn"),
    ]
    connect += [("Context.outputs:context", f"{n}.inputs:context") for n in ros_nodes]
    set_values: list[tuple[str, Any]] = [(f"{n}.inputs:topicName", bridge_topic(s)) for n, s in TOPIC_NODES.items()]
    set_values += [
        ("PublishOdometry.inputs:odomFrameId", ODOM_FRAME),
        ("PublishOdometry.inputs:chassisFrameId", BASE_FRAME),
        # The runner hands body-frame velocities (the contract's twist in base_link): publish them as given.
        ("PublishOdometry.inputs:publishRawVelocities", True),
        ("PublishMap.inputs:frameId", ELEVATION_MAP.frame),
    ]
    return {"create_nodes": list(NODES.items()), "connect": connect, "set_values": set_values}


def build_graph(og) -> None:
    """Create the graph in the open stage (``og`` is ``omni.graph.core``; only inside Isaac Sim)."""
    spec = graph_spec()
    keys = og.Controller.Keys
    og.Controller.edit(
        {"graph_path": GRAPH_PATH, "evaluator_name": "execution"},
        {keys.CREATE_NODES: spec["create_nodes"], keys.CONNECT: spec["connect"], keys.SET_VALUES: spec["set_values"]},
    )


def attribute_path(ref: str) -> str:
    """Full attribute path of a ``Node.inputs:name`` reference in this graph."""
    return f"{GRAPH_PATH}/{ref}"
