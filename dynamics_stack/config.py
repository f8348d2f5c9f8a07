"""Frozen config dataclasses <-> plain dicts <-> YAML files <-> flat ROS parameters.

Every component has a frozen, keyword-only ``*Cfg`` dataclass with a docstring
under each field and validation in ``__post_init__``. This module converts them
strictly: an unknown key, a wrong type or a failed validation is a
``ConfigError`` that names the source (file or node) and the field, so a typo in
a YAML file never silently falls back to a default.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import inspect
import itertools
import textwrap
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")


class ConfigError(ValueError):
    """A configuration value is missing, unknown, mistyped or invalid; the message says where."""


def cfg_to_dict(cfg: Any) -> dict[str, Any]:
    """Nested plain dict (tuples become lists) of a config dataclass, for YAML/JSON."""

    def plain(value: Any) -> Any:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, (tuple, list)):
            return [plain(v) for v in value]
        if isinstance(value, Mapping):
            return {k: plain(v) for k, v in value.items()}
        return value

    return plain(cfg)


def cfg_from_dict(cls: type[T], data: Mapping[str, Any] | None, source: str = "<config>") -> T:
    """Build ``cls`` from ``data`` (missing keys take defaults); errors name ``source`` and the field."""
    return _build(cls, data or {}, source, prefix="")


def read_yaml_mapping(path: str | Path, what: str) -> dict[str, Any]:
    """The mapping a YAML file holds; a ``ConfigError`` naming the file when it is missing, unreadable, not
    YAML or not a mapping (``what`` names its contents in that message, e.g. "scenario")."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: file not found") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of {what} fields, got {type(data).__name__}")
    return data


def load_cfg_yaml(cls: type[T], path: str | Path, section: str | None = None) -> T:
    """Read ``cls`` from a YAML file, optionally from one top-level ``section`` of it."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: file not found") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if section is not None:
        if not isinstance(data, Mapping) or section not in data:
            raise ConfigError(f"{path}: missing section '{section}'")
        data = data[section]
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}: expected a mapping of fields, got {type(data).__name__}")
    return cfg_from_dict(cls, data, source=str(path))


def cfg_to_ros_params(cfg: Any, prefix: str = "") -> dict[str, Any]:
    """Flatten a config into ``{"prefix.field.sub": value}`` for ``declare_parameters``."""
    flat: dict[str, Any] = {}
    for f in dataclasses.fields(cfg):
        name = f"{prefix}.{f.name}" if prefix else f.name
        value = getattr(cfg, f.name)
        if dataclasses.is_dataclass(value):
            flat.update(cfg_to_ros_params(value, name))
        elif isinstance(value, tuple):
            flat[name] = list(value)
        else:
            flat[name] = value
    return flat


def cfg_from_ros_params(cls: type[T], params: Mapping[str, Any], prefix: str = "", source: str = "ROS parameters") -> T:
    """Inverse of :func:`cfg_to_ros_params`: rebuild ``cls`` from flat dotted names."""
    nested: dict[str, Any] = {}
    lead = f"{prefix}." if prefix else ""
    for name, value in params.items():
        if not name.startswith(lead):
            continue
        node = nested
        *parents, leaf = name[len(lead) :].split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return _build(cls, nested, source, prefix=prefix)


@functools.cache
def field_docs(cls: type) -> dict[str, str]:
    """The docstring written under each field of a dataclass (used as ROS parameter descriptions)."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError):
            continue
        body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
        for stmt, nxt in itertools.pairwise(body):
            if (
                isinstance(stmt, ast.AnnAssign)
                and isinstance(stmt.target, ast.Name)
                and isinstance(nxt, ast.Expr)
                and isinstance(nxt.value, ast.Constant)
                and isinstance(nxt.value.value, str)
            ):
                docs[stmt.target.id] = " ".join(nxt.value.value.split())
    return docs


def _build(cls: type[T], data: Mapping[str, Any], source: str, prefix: str) -> T:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: {prefix or cls.__name__}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        where = f"{prefix}." if prefix else ""
        raise ConfigError(
            f"{source}: unknown field(s) {', '.join(where + u for u in unknown)} for {cls.__name__}; "
            f"known: {', '.join(sorted(fields))}"
        )
    kwargs = {}
    for name, value in data.items():
        path = f"{prefix}.{name}" if prefix else name
        kwargs[name] = _coerce(hints[name], value, source, path)
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"{source}: {prefix or cls.__name__}: {exc}") from exc


def _coerce(hint: Any, value: Any, source: str, path: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    fail = ConfigError(f"{source}: field '{path}': expected {_describe(hint)}, got {value!r}")
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, source, path)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for option in (a for a in args if a is not type(None)):
            try:
                return _coerce(option, value, source, path)
            except ConfigError:
                continue
        raise fail
    if origin is typing.Literal:
        if value in args:
            return value
        raise fail
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise fail
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(args[0], v, source, f"{path}[{i}]") for i, v in enumerate(value))
        if len(args) != len(value):
            raise fail
        return tuple(_coerce(a, v, source, f"{path}[{i}]") for i, (a, v) in enumerate(zip(args, value, strict=True)))
    if origin in (dict, Mapping) or hint in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise fail
        return dict(value)
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise fail
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
            raise fail
        return int(value)
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise fail
        return float(value)
    if hint is str:
        if isinstance(value, str):
            return value
        raise fail
    if hint is Any:
        return value
    return value


def _describe(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")
