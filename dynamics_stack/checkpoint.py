"""Model files on disk: safetensors weights + a JSON model card that lists every file with its SHA-256.

A model named ``fdm_anymal_d`` lives as::

    models/fdm_anymal_d.card.json           the card (config, graphs, metrics, hashes)
    models/fdm_anymal_d.safetensors         weights (no pickle: loading runs no code)
    models/fdm_anymal_d.<graph>.onnx        one ONNX file per exported graph

Loading checks the card's format, that each listed file exists and that its
SHA-256 matches, before anything is parsed; a truncated, altered or swapped
file is refused with a ``ModelFileError`` naming the file. Every write is
atomic (see ``dynamics_stack.atomic``), and the card is written last, so a
crash mid-save leaves the previous model intact.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from dynamics_stack.atomic import atomic_path, atomic_write_json

CARD_FORMAT = "dynamics_stack.model_card/1"
CARD_SUFFIX = ".card.json"
REQUIRED_KEYS = ("format", "name", "kind", "config", "files")


class ModelFileError(RuntimeError):
    """A model file or card is missing, corrupted, altered or inconsistent; the message names the file."""


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def card_path_for(stem: str | Path) -> Path:
    """``models/fdm`` -> ``models/fdm.card.json`` (a path already ending in the suffix is kept)."""
    stem = Path(stem)
    return stem if stem.name.endswith(CARD_SUFFIX) else stem.with_name(stem.name + CARD_SUFFIX)


def save_weights(
    path: str | Path, state_dict: Mapping[str, torch.Tensor], metadata: Mapping[str, str] | None = None
) -> str:
    """Write tensors to ``path`` as safetensors, atomically; returns the file's SHA-256."""
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state_dict.items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=dict(metadata) if metadata else None)
    return sha256_file(path)


def load_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """Read safetensors weights; a damaged file is a ``ModelFileError`` naming it."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: weights file not found")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFileError(f"{path}: not a readable safetensors file ({exc})") from exc


@dataclass(frozen=True)
class ModelCard:
    """A parsed, verified model card; ``data`` is the JSON content."""

    path: Path
    data: dict[str, Any]

    @property
    def name(self) -> str:
        return self.data["name"]

    @property
    def kind(self) -> str:
        return self.data["kind"]

    @property
    def config(self) -> dict[str, Any]:
        return self.data["config"]

    @property
    def graphs(self) -> dict[str, Any]:
        """Exported graphs: name -> {inputs, outputs, onnx (file label)}."""
        return self.data.get("graphs", {})

    def file(self, label: str) -> Path:
        """Absolute path of the file the card lists under ``label``."""
        files = self.data["files"]
        if label not in files:
            raise ModelFileError(f"{self.path}: card lists no file '{label}' (has: {sorted(files)})")
        return self.path.parent / files[label]["path"]


def write_card(card_path: str | Path, card: Mapping[str, Any]) -> ModelCard:
    """Hash every file the card lists (paths relative to the card) and write the card atomically.

    ``card["files"]`` maps a label to ``{"path": relative_path}``; this fills in
    ``sha256`` and ``bytes``. Returns the written, verified card.
    """
    card_path = Path(card_path)
    data = json.loads(json.dumps(card))  # deep copy; also proves it is JSON-serialisable
    data["format"] = CARD_FORMAT
    missing = [k for k in REQUIRED_KEYS if k not in data]
    if missing:
        raise ValueError(f"model card for {card_path} lacks {missing}")
    for label, entry in data["files"].items():
        target = card_path.parent / entry["path"]
        if not target.is_file():
            raise ModelFileError(f"{target}: listed in card as '{label}' but not found")
        entry["sha256"] = sha256_file(target)
        entry["bytes"] = target.stat().st_size
    atomic_write_json(card_path, data)
    return load_card(card_path)


def load_card(path: str | Path, verify: bool = True) -> ModelCard:
    """Parse a model card and, with ``verify``, check every listed file's SHA-256."""
    path = card_path_for(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: model card not found")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{path}: model card is not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ModelFileError(f"{path}: model card must be a JSON object")
    missing = [k for k in REQUIRED_KEYS if k not in data]
    if missing:
        raise ModelFileError(f"{path}: model card lacks field(s) {missing}")
    if data["format"] != CARD_FORMAT:
        raise ModelFileError(f"{path}: unsupported card format {data['format']!r} (expected {CARD_FORMAT!r})")
    card = ModelCard(path=path, data=data)
    if verify:
        for label, entry in data["files"].items():
            target = card.file(label)
            if not target.is_file():
                raise ModelFileError(f"{target}: file '{label}' of model card {path.name} not found")
            if "sha256" not in entry:
                raise ModelFileError(f"{path}: file '{label}' has no sha256 in the card")
            actual = sha256_file(target)
            if actual != entry["sha256"]:
                raise ModelFileError(
                    f"{target}: SHA-256 mismatch with model card {path.name} "
                    f"(card {entry['sha256'][:12]}..., file {actual[:12]}...): the file is corrupted or was replaced"
                )
    return card


def save_training_state(
    path: str | Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, extra: Mapping[str, Any]
) -> None:
    """One atomic safetensors file holding model, optimizer tensors and JSON-able ``extra`` (epoch, scheduler...).

    Written as a single file so a crash can never pair new weights with an old epoch count.
    """
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    opt = optimizer.state_dict()
    opt_plain: dict[str, Any] = {"param_groups": opt["param_groups"], "state": {}}
    for idx, entry in opt["state"].items():
        plain = {}
        for key, value in entry.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{idx}.{key}"] = value
            else:
                plain[key] = value
        opt_plain["state"][str(idx)] = plain
    meta = {"extra": json.dumps(dict(extra)), "optimizer": json.dumps(opt_plain)}
    save_weights(path, tensors, metadata=meta)


def load_training_state(path: str | Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """Restore what :func:`save_training_state` wrote; returns ``extra``. Errors name the file."""
    path = Path(path)
    tensors = load_weights(path)
    try:
        with safe_open(str(path), framework="pt") as handle:
            meta = handle.metadata() or {}
        extra, opt_plain = json.loads(meta["extra"]), json.loads(meta["optimizer"])
    except (KeyError, json.JSONDecodeError, SafetensorError) as exc:
        raise ModelFileError(f"{path}: not a training checkpoint of this project ({exc})") from exc
    model_state = {k.removeprefix("model."): v for k, v in tensors.items() if k.startswith("model.")}
    try:
        model.load_state_dict(model_state, strict=True)
    except RuntimeError as exc:
        raise ModelFileError(f"{path}: checkpoint does not fit the model ({exc})") from exc
    state: dict[int, dict[str, Any]] = {int(i): dict(v) for i, v in opt_plain["state"].items()}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, idx, name = key.split(".", 2)
            state.setdefault(int(idx), {})[name] = value
    optimizer.load_state_dict({"state": state, "param_groups": opt_plain["param_groups"]})
    return extra
