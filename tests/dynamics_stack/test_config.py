"""Config dataclasses <-> dicts, YAML files and flat ROS parameters, with errors that name the field."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from dynamics_stack.config import (
    ConfigError,
    cfg_from_dict,
    cfg_from_ros_params,
    cfg_to_dict,
    cfg_to_ros_params,
    field_docs,
    load_cfg_yaml,
)
from dynamics_stack.mppi import MppiCfg


@dataclass(frozen=True, kw_only=True)
class LimitsCfg:
    """Nested example."""

    v_max: float = 1.0
    """Largest forward speed [m/s]."""
    mode: str = "clip"
    """How limits apply."""

    def __post_init__(self):
        if self.v_max <= 0:
            raise ValueError(f"v_max must be > 0, got {self.v_max}")


@dataclass(frozen=True, kw_only=True)
class PlannerCfg:
    """Outer example with a nested config."""

    rate_hz: float = 10.0
    """Planning rate."""
    backend: str = "torch"
    """Model backend."""
    limits: LimitsCfg = field(default_factory=LimitsCfg)
    """Command limits."""
    mppi: MppiCfg = field(default_factory=MppiCfg)
    """Sampler."""


def test_dict_round_trip_with_nesting():
    cfg = PlannerCfg(rate_hz=5.0, limits=LimitsCfg(v_max=0.5))
    assert cfg_from_dict(PlannerCfg, cfg_to_dict(cfg)) == cfg


def test_yaml_file_and_section(tmp_path):
    path = tmp_path / "planner.yaml"
    path.write_text(
        "planner:\n  rate_hz: 20\n  limits: {v_max: 0.8}\n  mppi: {num_samples: 256, noise_sigma: [0.2, 0.1]}\n"
    )
    cfg = load_cfg_yaml(PlannerCfg, path, section="planner")
    assert cfg.rate_hz == 20.0 and cfg.limits.v_max == 0.8 and cfg.mppi.noise_sigma == (0.2, 0.1)
    with pytest.raises(ConfigError, match="missing section 'robot'"):
        load_cfg_yaml(PlannerCfg, path, section="robot")


def test_ros_params_round_trip():
    cfg = PlannerCfg(limits=LimitsCfg(v_max=0.7))
    flat = cfg_to_ros_params(cfg, prefix="planner")
    assert flat["planner.limits.v_max"] == 0.7
    assert flat["planner.mppi.noise_sigma"] == [0.5, 0.3, 0.5]
    assert cfg_from_ros_params(PlannerCfg, flat, prefix="planner") == cfg


@pytest.mark.parametrize(
    "data, message",
    [
        ({"rate_hz": "fast"}, "field 'rate_hz': expected float"),
        ({"limits": {"v_max": -1.0}}, "limits: v_max must be > 0"),
        ({"limits": {"vmax": 1.0}}, r"unknown field\(s\) limits.vmax"),
        ({"mppi": {"horizon": 2.5}}, "field 'mppi.horizon': expected int"),
        ({"mppi": {"include_zero": "yes"}}, "field 'mppi.include_zero': expected bool"),
        ({"limits": 3}, "limits: expected a mapping"),
    ],
)
def test_errors_name_source_and_field(data, message):
    with pytest.raises(ConfigError, match=f"robot.yaml: .*{message}"):
        cfg_from_dict(PlannerCfg, data, source="robot.yaml")


def test_broken_yaml_names_the_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("rate_hz: [1, 2\n")
    with pytest.raises(ConfigError, match="bad.yaml: not valid YAML"):
        load_cfg_yaml(PlannerCfg, path)
    with pytest.raises(ConfigError, match="file not found"):
        load_cfg_yaml(PlannerCfg, tmp_path / "missing.yaml")


def test_field_docs_are_read_from_the_source():
    docs = field_docs(LimitsCfg)
    assert docs == {"v_max": "Largest forward speed [m/s].", "mode": "How limits apply."}
    assert "softmax temperature" in field_docs(MppiCfg)["temperature"]
