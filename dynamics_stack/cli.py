"""The one ``dynstack`` command: subcommand groups contributed by the packages.

Each group lives in its package (``fdm_nav.cli``, ``pgnd.cli``, ...) and
exposes ``register(subparsers)``, which adds its commands with a ``func``
default taking the parsed arguments and returning an exit code. Groups are
imported only when their package is present, so the core runs alone.

Errors a user can fix (bad file, bad config, bad model) print one line naming
the problem and exit with status 2; anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from dynamics_stack import __version__
from dynamics_stack.checkpoint import ModelFileError
from dynamics_stack.config import ConfigError

# Group name -> module with register(subparsers). Core groups first, then the packages'.
GROUPS: dict[str, str] = {
    "demo": "dynamics_stack.cli_core",
    "model": "dynamics_stack.cli_core",
    "export": "dynamics_stack.cli_core",
    "nav": "fdm_nav.cli",
    "manip": "pgnd.cli",
    "irl": "visual_irl.cli",
}

USER_ERRORS = (ConfigError, ModelFileError, FileNotFoundError, NotADirectoryError)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dynstack",
        description="dynamics_stack: learned dynamics models for navigation and manipulation, on ROS 2.",
    )
    parser.add_argument("--version", action="version", version=f"dynstack {__version__}")
    subparsers = parser.add_subparsers(dest="group", metavar="COMMAND")
    seen = set()
    for module_name in GROUPS.values():
        if module_name in seen:
            continue
        seen.add(module_name)
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                continue  # that package has no CLI yet
            raise
        module.register(subparsers)
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
