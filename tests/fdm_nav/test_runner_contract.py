"""The runner contract (fdm_nav.runner_contract) against what the planner needs and what terrain_sim really offers."""

from __future__ import annotations

import importlib

import pytest

from fdm_nav.node_cfg import PlannerNodeCfg
from fdm_nav.runner_contract import (
    CMD_TIMEOUT,
    CMD_VEL,
    ELEVATION_MAP,
    ODOMETRY,
    REQUIRED,
    TOPICS,
    TopicSpec,
    topic,
)
from sim.terrain_node_cfg import TerrainSimNodeCfg

pytestmark = pytest.mark.timeout(120)


def test_every_type_names_a_message_class_that_exists():
    for spec in TOPICS:
        module, name = spec.msg_class
        assert hasattr(importlib.import_module(module), name), spec.type


def test_rates_fit_the_planners_input_ages():
    planner = PlannerNodeCfg()
    # A message arrives at least once per max age at the contract's slowest rate, with room for one lost message.
    assert 2.0 / ODOMETRY.min_rate_hz <= planner.max_odom_age
    assert 1.0 / ELEVATION_MAP.min_rate_hz <= planner.max_map_age
    assert ELEVATION_MAP.rate_hz >= 2 * ELEVATION_MAP.min_rate_hz
    assert CMD_VEL.rate_hz == planner.control_rate  # the planner publishes at its control rate
    assert 1.0 / CMD_VEL.rate_hz < CMD_TIMEOUT  # a command arrives before the last one times out


def test_terrain_sim_defaults_are_the_contracts():
    cfg = TerrainSimNodeCfg()
    assert cfg.map_rate == ELEVATION_MAP.rate_hz and cfg.cmd_timeout == CMD_TIMEOUT
    assert (cfg.odom_frame, cfg.base_frame) == (ELEVATION_MAP.frame, PlannerNodeCfg().base_frame)


def test_lookup_and_validation():
    assert topic("/cmd_vel") is CMD_VEL and topic("odometry") is ODOMETRY
    assert {t.name for t in REQUIRED} == {"/clock", "odometry", "elevation_map", "cmd_vel"}
    with pytest.raises(KeyError, match="not in the runner contract"):
        topic("scan")
    with pytest.raises(ValueError, match="package/msg/Type"):
        TopicSpec(
            name="x", type="Odometry", direction="out", frame="", rate_hz=1, min_rate_hz=0, reliable=True, content=""
        )
    with pytest.raises(ValueError, match="min_rate_hz"):
        TopicSpec(
            name="x", type="a/msg/B", direction="in", frame="", rate_hz=1, min_rate_hz=2, reliable=True, content=""
        )


def test_terrain_sim_offers_the_contract_on_the_graph(ros_context):
    """The real node, on loopback DDS: every 'out' topic published and every 'in' topic subscribed, with its type."""
    from rclpy.parameter import Parameter

    from sim.terrain_node import TerrainSimNode

    node = TerrainSimNode(
        context=ros_context,
        parameter_overrides=[Parameter("scenario", value="flat_01"), Parameter("publish_clock", value=True)],
    )
    try:
        ns = node.get_namespace()
        pubs = dict(node.get_publisher_names_and_types_by_node(node.get_name(), ns))
        subs = dict(node.get_subscriber_names_and_types_by_node(node.get_name(), ns))
        for spec in TOPICS:
            full = spec.name if spec.name.startswith("/") else f"{ns.rstrip('/')}/{spec.name}"
            offered = pubs if spec.direction == "out" else subs
            assert spec.type in offered.get(full, []), (spec.name, offered)
    finally:
        node.destroy_node()
