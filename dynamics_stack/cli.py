"""The one ``dynstack`` command: core commands and the groups the packages contribute.

The core commands (``demo``, ``model``, ``export``, ``params``) are in
``dynamics_stack.cli_core``. Each package's group (``nav``, ``manip``, ``irl``)
lives in the package and is listed in setup.py under the entry-point group
``dynstack.commands`` as ``name = package.cli:register``; ``register(subparsers)``
adds its commands with a ``func`` default taking the parsed arguments and
returning an exit code, and may add a demo or a node's parameters to the core's
registries. The core names no package: a group whose package is missing is skipped.

Errors a user can fix (bad file, bad config, bad model) print one line naming
the problem and exit with status 2; anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points

from dynamics_stack import __version__, cli_core
from dynamics_stack.checkpoint import ModelFileError
from dynamics_stack.config import ConfigError

GROUP_ENTRY_POINTS = "dynstack.commands"

USER_ERRORS = (ConfigError, ModelFileError, FileNotFoundError, NotADirectoryError)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dynstack",
        description="dynamics_stack: learned dynamics models for navigation and manipulation, on ROS 2.",
    )
    parser.add_argument("--version", action="version", version=f"dynstack {__version__}")
    subparsers = parser.add_subparsers(dest="group", metavar="COMMAND")
    cli_core.register(subparsers)
    for entry in entry_points(group=GROUP_ENTRY_POINTS):
        try:
            register = entry.load()
        except ModuleNotFoundError as exc:
            if exc.name and entry.value.startswith(exc.name):
                continue  # that package is not installed
            raise
        register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        # A group without its command prints the group's help (or the top-level one).
        (getattr(args, "group_parser", None) or parser).print_help()
        return 0 if args.group is None else 2
    try:
        return int(func(args) or 0)
    except USER_ERRORS as exc:
        print(f"dynstack: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("dynstack: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
