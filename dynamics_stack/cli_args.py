"""The words every ``dynstack`` command uses for the same thing, declared and read in one place.

- ``--threads N``: torch CPU threads (``add_threads`` / ``apply_threads``);
- ``--seed S``: the seed of whatever the command draws at random (``add_seed``);
- ``--no-progress``: no progress bars (``add_progress`` / ``show_progress``);
- ``--config YAML`` and ``--set FIELD=VALUE`` (repeatable): a command's config
  dataclass from a file, then single fields over it (``add_config`` /
  ``config_from_args``). Command-specific shortcuts (``--epochs``) go through
  the same function, so every override is validated the same way and a bad one
  is a one-line error naming the field.

Verbs are the same in every group: ``gen-data`` makes a dataset, ``train``
trains, ``eval-model`` evaluates a model on held-out data, ``data-info``
summarises a dataset; ``--data DIR`` is the dataset a command reads. Older
names stay as aliases (``add_parser(..., aliases=[...])``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TypeVar

import yaml

from dynamics_stack.config import ConfigError, cfg_from_dict, cfg_to_dict, load_cfg_yaml

T = TypeVar("T")


def add_threads(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (default 1: on a shared 2-core machine one busy thread beats two fighting, and "
        "it is immune to the 10-20x slowdown of oversubscribed cores; 0 keeps torch's default)",
    )


def apply_threads(args: argparse.Namespace) -> None:
    """Set torch's thread count from ``--threads`` (0: leave torch's default); a negative count is refused."""
    if args.threads < 0:
        raise ConfigError(f"--threads must be >= 0, got {args.threads}")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)


def add_seed(parser: argparse.ArgumentParser, what: str, default: int | None = 0) -> None:
    """``--seed``; ``default`` None means 'the config's seed' (the value then overrides the config)."""
    suffix = " (default: the config's)" if default is None else f" (default {default})"
    parser.add_argument("--seed", type=int, default=default, help=f"seed of {what}{suffix}")


def add_progress(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def show_progress(args: argparse.Namespace) -> bool:
    return not args.no_progress


def add_config(parser: argparse.ArgumentParser, what: str) -> None:
    """``--config YAML`` (``what``: which dataclass, or its sections) and ``--set FIELD=VALUE`` over it."""
    parser.add_argument("--config", type=Path, help=f"YAML with {what}")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override one config field after --config (dotted for nested ones, value read as YAML); repeatable",
    )


def config_from_args(
    cls: type[T], args: argparse.Namespace, source: str, section: str | None = None, **fields: Any
) -> T:
    """``cls`` from ``--config`` (its ``section`` if given), then ``--set`` overrides, then ``fields`` that are not None.

    ``--set`` names are dotted (``model.use_grid=false``); with a ``section`` only
    the ones under it apply (``train.iterations=5``). Everything is validated as a
    config file is; a bad value is a ``ConfigError`` naming ``source`` and the field.
    """
    cfg = load_cfg_yaml(cls, args.config, section) if getattr(args, "config", None) else cls()
    data = cfg_to_dict(cfg)
    for item in getattr(args, "set", []):
        name, sep, text = item.partition("=")
        if not sep or not name:
            raise ConfigError(f"{source}: --set expects FIELD=VALUE, got {item!r}")
        if section is not None:
            if not name.startswith(f"{section}."):
                continue
            name = name[len(section) + 1 :]
        _put(data, name, yaml.safe_load(text), source)
    for name, value in fields.items():
        if value is not None:
            _put(data, name, value, source)
    return cfg_from_dict(cls, data, source=source)


def _put(data: dict[str, Any], dotted: str, value: Any, source: str) -> None:
    *parents, leaf = dotted.split(".")
    node = data
    for part in parents:
        if not isinstance(node.get(part), dict):
            raise ConfigError(f"{source}: no config section {part!r} in {dotted!r}")
        node = node[part]
    node[leaf] = value  # an unknown leaf is refused by cfg_from_dict, naming it
