"""One CLI vocabulary: the shared argument helpers, and the same verbs in every group (old names as aliases)."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from dynamics_stack.cli import build_parser
from dynamics_stack.cli_args import add_config, add_seed, add_threads, apply_threads, config_from_args
from dynamics_stack.config import ConfigError


@dataclasses.dataclass(frozen=True, kw_only=True)
class InnerCfg:
    """A nested section."""

    width: int = 4
    """Units."""

    def __post_init__(self) -> None:
        if self.width < 1:
            raise ValueError(f"width must be >= 1, got {self.width}")


@dataclasses.dataclass(frozen=True, kw_only=True)
class DemoCfg:
    """A command's config."""

    epochs: int = 3
    """Epochs."""
    rate: float = 0.5
    """A rate."""
    inner: InnerCfg = dataclasses.field(default_factory=InnerCfg)
    """Nested."""


def _args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_config(parser, "DemoCfg fields")
    add_seed(parser, "everything", default=None)
    add_threads(parser)
    return parser.parse_args(argv)


def test_config_file_then_set_then_named_fields(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("epochs: 7\ninner:\n  width: 2\n")
    args = _args(["--config", str(path), "--set", "rate=0.25", "--set", "inner.width=9"])
    cfg = config_from_args(DemoCfg, args, "test", epochs=None)
    assert cfg == DemoCfg(epochs=7, rate=0.25, inner=InnerCfg(width=9))
    assert config_from_args(DemoCfg, args, "test", epochs=11).epochs == 11  # a shortcut like --epochs wins
    assert config_from_args(DemoCfg, _args([]), "test") == DemoCfg()


def test_bad_overrides_name_the_field():
    with pytest.raises(ConfigError, match=r"test: .*unknown field\(s\) rte"):
        config_from_args(DemoCfg, _args(["--set", "rte=1"]), "test")
    with pytest.raises(ConfigError, match="width must be >= 1"):
        config_from_args(DemoCfg, _args(["--set", "inner.width=0"]), "test")
    with pytest.raises(ConfigError, match="FIELD=VALUE"):
        config_from_args(DemoCfg, _args(["--set", "epochs"]), "test")
    with pytest.raises(ConfigError, match="--threads must be >= 0"):
        apply_threads(_args(["--threads", "-1"]))


def test_sections_take_only_their_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  epochs: 5\nmodel:\n  epochs: 1\n")
    args = _args(["--config", str(path), "--set", "train.rate=0.1", "--set", "model.rate=0.9"])
    assert config_from_args(DemoCfg, args, "test", section="train") == DemoCfg(epochs=5, rate=0.1)
    assert config_from_args(DemoCfg, args, "test", section="model") == DemoCfg(epochs=1, rate=0.9)


@pytest.mark.parametrize(
    ("new", "old"),
    [
        (["irl", "gen-data", "--out", "x"], ["irl", "gen-demos", "--out", "x"]),
        (
            ["irl", "eval-model", "--model", "m", "--train-data", "a", "--data", "b", "--json", "j"],
            ["irl", "eval", "--model", "m", "--train-demos", "a", "--test-demos", "b", "--json", "j"],
        ),
        (["irl", "train", "--data", "d", "--out", "o"], ["irl", "train", "--demos", "d", "--out", "o"]),
    ],
)
def test_old_names_are_aliases_of_the_shared_verbs(new, old):
    parser = build_parser()
    a, b = vars(parser.parse_args(new)), vars(parser.parse_args(old))
    a.pop("command"), b.pop("command")  # the name typed differs; everything else is the same
    assert a == b


def test_every_random_command_takes_a_seed_and_every_torch_command_threads():
    parser = build_parser()
    random = [["nav", "gen-data", "--out", "x"], ["manip", "gen-data", "--out", "x"], ["irl", "gen-data", "--out", "x"]]
    torch = [[group, "train", "--data", "d", "--out", "o"] for group in ("nav", "manip", "irl")]
    torch += [["nav", "gen-data", "--out", "x"], ["nav", "benchmark", "--scenarios", "s", "--json", "j"]]
    for argv in random + torch:
        args = parser.parse_args(argv)
        assert (argv not in random or hasattr(args, "seed")) and hasattr(args, "no_progress"), argv
        assert argv not in torch or args.threads == 1, argv
    assert all(hasattr(parser.parse_args(argv), "seed") for argv in torch[:3])  # training is random too
