"""One interface to run a shipped model: torch weights or its ONNX export, chosen by a flag.

A model class exposes its graphs (``export_graphs() -> {name: GraphSpec}``):
each is a module with fixed input and output names and dummy inputs, so the
same spec drives ONNX export and torch execution. ``load_runtime(card,
backend)`` verifies the model card's hashes and returns a runtime whose
``run(graph, inputs)`` takes and returns numpy arrays (or torch tensors with
``run_torch``) whichever backend sits behind it; tests hold the two backends
to the same outputs.

Model kinds map to builder functions (``kind -> "module:function"``) imported
lazily, so loading an FDM never imports the manipulation code.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from dynamics_stack.atomic import atomic_path
from dynamics_stack.checkpoint import (
    ModelCard,
    ModelFileError,
    card_path_for,
    load_card,
    load_weights,
    save_weights,
    write_card,
)

BACKENDS = ("torch", "onnx")
ONNX_OPSET = 17

# kind -> "module:function"; the function takes the card's config dict and returns an Exportable module.
MODEL_KINDS: dict[str, str | Callable[[dict[str, Any]], nn.Module]] = {
    "fdm": "fdm_nav.model:build_from_config",
    "pgnd": "pgnd.model:build_from_config",
    "irl_reward": "visual_irl.reward:build_from_config",
}


@dataclass(frozen=True)
class GraphSpec:
    """Export contract of one graph: a module plus fixed names and example inputs."""

    module: nn.Module
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    dummy_inputs: tuple[torch.Tensor, ...]
    dynamic_axes: dict[str, dict[int, str]] = field(default_factory=dict)  # name -> {axis: symbol}


class BoundMethod(nn.Module):
    """One method of a model exposed as ``forward``: the module a ``GraphSpec`` exports and runs."""

    def __init__(self, model: nn.Module, method: str):
        super().__init__()
        self.model, self.method = model, method

    def forward(self, *inputs: torch.Tensor):
        return getattr(self.model, self.method)(*inputs)


class Exportable(Protocol):
    """What a model class provides to be saved, exported and run by the runtime."""

    def export_graphs(self) -> dict[str, GraphSpec]: ...


def register_model_kind(kind: str, builder: str | Callable[[dict[str, Any]], nn.Module]) -> None:
    """Make ``kind`` loadable; ``builder`` is a callable or a lazy ``"module:function"`` string."""
    MODEL_KINDS[kind] = builder


def build_model(card: ModelCard) -> nn.Module:
    """Instantiate the model class of a card from its config (weights not loaded)."""
    builder = MODEL_KINDS.get(card.kind)
    if builder is None:
        raise ModelFileError(f"{card.path}: unknown model kind {card.kind!r}; known: {sorted(MODEL_KINDS)}")
    if isinstance(builder, str):
        module_name, func = builder.split(":")
        builder = getattr(importlib.import_module(module_name), func)
    return builder(card.config)


def graph_io(spec: GraphSpec) -> dict[str, Any]:
    """Card entry describing a graph's inputs and outputs (symbolic names for dynamic axes)."""
    with torch.no_grad():
        outputs = spec.module(*spec.dummy_inputs)
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)

    def describe(names: Sequence[str], tensors: Sequence[torch.Tensor]) -> list[dict[str, Any]]:
        rows = []
        for name, tensor in zip(names, tensors, strict=True):
            dyn = spec.dynamic_axes.get(name, {})
            shape = [dyn.get(i, int(s)) for i, s in enumerate(tensor.shape)]
            rows.append({"name": name, "shape": shape, "dtype": str(tensor.dtype).removeprefix("torch.")})
        return rows

    return {"inputs": describe(spec.input_names, spec.dummy_inputs), "outputs": describe(spec.output_names, outputs)}


def export_onnx(spec: GraphSpec, path: str | Path, opset: int = ONNX_OPSET) -> Path:
    """Export one graph to ONNX atomically, with its fixed names and dynamic axes."""
    path = Path(path)
    spec.module.eval()
    with atomic_path(path) as tmp, warnings.catch_warnings():
        # The TorchScript-based exporter handles GRUs and grid ops without onnxscript; torch
        # warns that it is deprecated, which is known and not the user's concern.
        warnings.simplefilter("ignore", category=DeprecationWarning)
        # Its GRU note concerns exporting nn.GRU with a dynamic batch; our recurrent graphs have fixed batch 1.
        warnings.filterwarnings("ignore", message="Exporting a model to ONNX with a batch_size other than 1")
        # nn.GRU's Python-side size checks trigger tracer notes; they hold for every input we export.
        warnings.simplefilter("ignore", category=torch.jit.TracerWarning)
        torch.onnx.export(
            spec.module,
            spec.dummy_inputs,
            str(tmp),
            input_names=list(spec.input_names),
            output_names=list(spec.output_names),
            dynamic_axes=spec.dynamic_axes or None,
            opset_version=opset,
            dynamo=False,
        )
    return path


class ModelRuntime:
    """Run the graphs of one model; subclasses supply the backend."""

    backend: str = ""

    def __init__(self, card: ModelCard) -> None:
        self.card = card
        self.graphs: dict[str, Any] = card.graphs

    def input_names(self, graph: str) -> list[str]:
        return [row["name"] for row in self._graph(graph)["inputs"]]

    def output_names(self, graph: str) -> list[str]:
        return [row["name"] for row in self._graph(graph)["outputs"]]

    def run(self, graph: str, inputs: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Run ``graph`` on named inputs (numpy or torch); returns named numpy outputs."""
        arrays = self._check_inputs(graph, inputs)
        outs = self._run_arrays(graph, arrays)
        return dict(zip(self.output_names(graph), outs, strict=True))

    def run_torch(self, graph: str, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Positional torch in, torch out (the planners' hot path); default goes through numpy."""
        named = dict(zip(self.input_names(graph), tensors, strict=True))
        device = tensors[0].device if tensors else torch.device("cpu")
        return tuple(torch.from_numpy(o).to(device) for o in self.run(graph, named).values())

    def _graph(self, graph: str) -> dict[str, Any]:
        if graph not in self.graphs:
            raise KeyError(f"model {self.card.name} has no graph {graph!r}; graphs: {sorted(self.graphs)}")
        return self.graphs[graph]

    def _check_inputs(self, graph: str, inputs: Mapping[str, Any]) -> list[np.ndarray]:
        spec = self._graph(graph)["inputs"]
        names = [row["name"] for row in spec]
        missing = [n for n in names if n not in inputs]
        extra = sorted(set(inputs) - set(names))
        if missing or extra:
            raise ValueError(f"{self.card.name}.{graph}: missing inputs {missing}, unexpected {extra}; expects {names}")
        arrays = []
        for row in spec:
            value = inputs[row["name"]]
            array = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
            array = array.astype(row["dtype"], copy=False)
            expected = row["shape"]
            ok = array.ndim == len(expected) and all(
                isinstance(e, str) or e == a for e, a in zip(expected, array.shape, strict=False)
            )
            if not ok:
                raise ValueError(
                    f"{self.card.name}.{graph}: input '{row['name']}' has shape {array.shape}, expected {expected}"
                )
            arrays.append(array)
        return arrays

    def _run_arrays(self, graph: str, arrays: list[np.ndarray]) -> list[np.ndarray]:
        raise NotImplementedError


class TorchRuntime(ModelRuntime):
    """The model as a torch module with its safetensors weights, on CPU or CUDA."""

    backend = "torch"

    def __init__(self, card: ModelCard, device: str | torch.device = "cpu") -> None:
        super().__init__(card)
        self.device = torch.device(device)
        self.model = build_model(card)
        weights_path = card.file("weights")
        state = load_weights(weights_path)
        try:
            self.model.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise ModelFileError(f"{weights_path}: weights do not match the card's config ({exc})") from exc
        # The graphs' example inputs are made on the CPU (they serve the ONNX export), so build them first.
        self.specs = self.model.eval().export_graphs()
        self.model.to(self.device)

    def run_torch(self, graph: str, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
        self._graph(graph)
        with torch.inference_mode():
            out = self.specs[graph].module(*(t.to(self.device) for t in tensors))
        return out if isinstance(out, tuple) else (out,)

    def _run_arrays(self, graph: str, arrays: list[np.ndarray]) -> list[np.ndarray]:
        outs = self.run_torch(graph, *(torch.from_numpy(np.ascontiguousarray(a)) for a in arrays))
        return [o.detach().cpu().numpy() for o in outs]


class OnnxRuntime(ModelRuntime):
    """The model's ONNX graphs under ONNX Runtime (what runs on the robot's Jetson)."""

    backend = "onnx"

    def __init__(self, card: ModelCard, providers: Sequence[str] | None = None, threads: int = 0) -> None:
        super().__init__(card)
        import onnxruntime as ort  # imported here: the torch path must not need it

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads  # 0 lets ORT choose
        # Spinning worker threads would steal the cores torch needs between ORT calls (the planner
        # interleaves both); measured: planning cycle K=1024 68 ms with spinning, see bench_planner.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        available = ort.get_available_providers()
        providers = [p for p in (providers or ("CUDAExecutionProvider", "CPUExecutionProvider")) if p in available]
        self.sessions = {}
        for name, entry in self.graphs.items():
            if "onnx" not in entry:
                raise ModelFileError(f"{card.path}: graph '{name}' has no ONNX file; run `dynstack export onnx`")
            onnx_path = card.file(entry["onnx"])
            try:
                self.sessions[name] = ort.InferenceSession(str(onnx_path), options, providers=providers)
            except Exception as exc:  # ORT raises its own exception types for bad files
                raise ModelFileError(f"{onnx_path}: ONNX Runtime cannot load it ({exc})") from exc
        self.session_inputs = {name: {i.name for i in s.get_inputs()} for name, s in self.sessions.items()}

    def _run_arrays(self, graph: str, arrays: list[np.ndarray]) -> list[np.ndarray]:
        # The exporter prunes inputs a graph does not use (e.g. the scan of a proprio-only
        # model); the card keeps the full contract, the session gets what it declares.
        used = self.session_inputs[graph]
        feeds = {n: a for n, a in zip(self.input_names(graph), arrays, strict=True) if n in used}
        return self.sessions[graph].run(self.output_names(graph), feeds)


def load_runtime(card_path: str | Path, backend: str = "torch", device: str = "cpu") -> ModelRuntime:
    """Verify a model card and open it with ``backend`` ('torch' or 'onnx')."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    card = load_card(card_path)
    if backend == "torch":
        return TorchRuntime(card, device=device)
    return OnnxRuntime(card)


def save_model(
    stem: str | Path,
    model: nn.Module,
    *,
    kind: str,
    config: Mapping[str, Any],
    export: bool = True,
    **card_fields: Any,
) -> ModelCard:
    """Save weights (+ ONNX graphs with ``export``) and a card for ``model`` under ``stem``.

    ``card_fields`` go into the card as they are (``normalization``, ``training``,
    ``metrics``, ``description``...). Returns the verified card.
    """
    stem = Path(stem)
    name = stem.name.removesuffix(".card.json")
    weights = stem.with_name(f"{name}.safetensors")
    save_weights(weights, model.state_dict())
    files = {"weights": {"path": weights.name}}
    graphs = {}
    model.eval()
    for graph, spec in model.export_graphs().items():
        graphs[graph] = graph_io(spec)
        if export:
            onnx_path = export_onnx(spec, stem.with_name(f"{name}.{graph}.onnx"))
            files[f"onnx:{graph}"] = {"path": onnx_path.name}
            graphs[graph]["onnx"] = f"onnx:{graph}"
    card = {"format": "", "name": name, "kind": kind, "config": dict(config), "files": files, "graphs": graphs}
    card.update(card_fields)
    return write_card(card_path_for(stem.with_name(name)), card)
