"""Declare and read a node's ROS parameters from its config dataclass: the one way every node here does it.

    declare_parameters(node, MyNodeCfg)          # in __init__: one parameter per leaf field, described by its docstring
    cfg = read_parameters(node, MyNodeCfg)       # at configure: validated, or ConfigError naming the field
    cfg = read_parameters(node, MyNodeCfg, changed)  # in an on-set-parameters callback: the values as they would be

Nested dataclass fields are dotted prefixes (``gate.vx_max``); names, defaults
and descriptions come from ``dynamics_stack.params``, which also writes the
parameter files and docs tables, so what a node declares, what its YAML file
sets and what the docs say are one list.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node
from rclpy.parameter import Parameter

from dynamics_stack.params import cfg_from_parameters, parameter_docs, ros_parameters

T = TypeVar("T")


def declare_parameters(node: Node, cls: type) -> None:
    """Declare every leaf field of ``cls`` as a parameter of ``node`` (its default and field docstring)."""
    docs = parameter_docs(cls)
    for name, value in ros_parameters(cls()).items():
        node.declare_parameter(name, value, ParameterDescriptor(description=docs.get(name, "")))


def read_parameters(node: Node, cls: type[T], changed: Sequence[Parameter] = ()) -> T:
    """The node's parameters of ``cls`` (with ``changed`` applied on top) as a validated config.

    Raises ``ConfigError`` naming the node and the field; nothing on the node changes.
    """
    values: dict[str, Any] = {name: node.get_parameter(name).value for name in ros_parameters(cls())}
    values.update({p.name: p.value for p in changed if p.name in values})
    return cfg_from_parameters(cls, values, source=f"{node.get_name()} parameters")
