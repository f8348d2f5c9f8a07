"""One source per setting: every node's parameter file and docs table equal what its config dataclass gives.

``dynstack params --write`` regenerates them; this is the drift test that fails
when a default, a field or a docstring changed in code but not in the
committed files (or the other way round).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from dynamics_stack.cli import build_parser, main
from dynamics_stack.config import ConfigError
from dynamics_stack.params import (
    NODES,
    cfg_from_parameters,
    parameter_docs,
    parameters_yaml,
    ros_parameters,
    stale_files,
    yaml_scalar,
)

ROOT = Path(__file__).resolve().parents[2]
build_parser()  # the packages' command groups register their nodes


def test_every_node_is_registered():
    assert {"fdm_planner", "terrain_sim", "irl_reward"} <= set(NODES)


def test_committed_parameter_files_and_docs_tables_equal_the_dataclasses():
    stale = [str(p.relative_to(ROOT)) for p in stale_files(ROOT)]
    assert not stale, f"out of date (run `dynstack params --write`): {stale}"
    assert main(["params", "--check"]) == 0


@pytest.mark.parametrize("node", sorted(NODES))
def test_parameter_file_reads_back_as_the_defaults_with_their_types(node):
    spec = NODES[node]
    declared = ros_parameters(spec.cfg_class()())
    section = yaml.safe_load(parameters_yaml(spec))[node]["ros__parameters"]
    assert list(section) == list(declared)
    for name, value in section.items():
        assert value == declared[name] and type(value) is type(declared[name]), name
    docs = parameter_docs(spec.cfg_class())
    assert set(docs) == set(declared) and all(docs.values()), [k for k, v in docs.items() if not v]


def test_scalars_keep_their_type_in_yaml():
    for value in (1e-05, 0.0, 10.0, 3, True, "a: b", [0.5, -1.0], ["goal", "risk"]):
        assert yaml.safe_load(f"x: {yaml_scalar(value)}")["x"] == value
    assert type(yaml.safe_load(f"x: {yaml_scalar(1e-05)}")["x"]) is float


def test_parameters_are_validated_with_the_field_named():
    cls = NODES["fdm_planner"].cfg_class()
    values = ros_parameters(cls())
    cfg = cfg_from_parameters(cls, {**values, "planner.mppi.noise_sigma": (0.1, 0.1, 0.1)}, "test")
    assert cfg.planner.mppi.noise_sigma == (0.1, 0.1, 0.1)
    with pytest.raises(ConfigError, match="test: .*gate.*vx_max must be finite"):
        cfg_from_parameters(cls, {**values, "gate.vx_max": math.nan}, "test")
    with pytest.raises(ConfigError, match=r"unknown field\(s\) planner.step_dt"):
        cfg_from_parameters(cls, {**values, "planner.step_dt": 0.5}, "test")


def test_params_command_prints_a_node(capsys):
    assert main(["params", "terrain_sim", "--markdown"]) == 0
    assert "| `cmd_timeout` | `0.5` |" in capsys.readouterr().out
    assert main(["params", "no_such_node"]) == 2
