"""FDM inference latency: context encoding once, then the batched rollout for K = 256, 1024, 4096 (T = 10).

Backends: torch on CPU, ONNX Runtime on CPU (the Jetson path), torch on CUDA
when a GPU is present. Runs the shipped model (``--model``, default
models/fdm_anymal_d.card.json). Prints a table and writes
benchmarks/results/fdm.json with the median milliseconds per call; the ratio
column is ONNX Runtime's time over torch's in the same process.

Run: ``.venv/bin/python benchmarks/bench_fdm.py [--reps 20] [--threads 2]``.
"""

from __future__ import annotations

import argparse
import platform
import statistics
from pathlib import Path

import torch
from timing import time_calls  # benchmarks/timing.py (the script's folder is on sys.path)

from dynamics_stack.atomic import atomic_write_json
from dynamics_stack.paths import resolve_package_file
from dynamics_stack.runtime import load_runtime

RESULTS = Path(__file__).with_name("results") / "fdm.json"


def median_ms(fn, reps: int) -> float:
    return statistics.median(time_calls(fn, reps))


def bench_backend(card: Path, backend: str, device: str, ks: list[int], reps: int) -> dict:
    rt = load_runtime(card, backend=backend, device=device)
    cfg = rt.card.config
    g = torch.Generator().manual_seed(0)
    proprio = torch.randn(1, cfg["history"], cfg["proprio_dim"], generator=g).to(device)
    state = torch.randn(1, cfg["history"], cfg["state_dim"], generator=g).to(device)
    scan = (torch.rand(1, *cfg["scan_shape"], generator=g) * 0.5).to(device)

    def sync():
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    def encode():
        out = rt.run_torch("encode_context", proprio, state, scan)
        sync()
        return out

    (context,) = encode()
    row = {"encode_ms": median_ms(encode, reps)}
    for K in ks:
        commands = (torch.rand(K, cfg["horizon"], 3, generator=g) - 0.5).to(device)

        def rollout(commands=commands):
            out = rt.run_torch("rollout", context, commands)
            sync()
            return out

        row[f"rollout_K{K}_ms"] = median_ms(rollout, reps)
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=resolve_package_file("models/fdm_anymal_d.card.json"))
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    parser.add_argument("--ks", type=int, nargs="+", default=[256, 1024, 4096])
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    runs = {
        "torch_cpu": bench_backend(args.model, "torch", "cpu", args.ks, args.reps),
        "onnxruntime_cpu": bench_backend(args.model, "onnx", "cpu", args.ks, args.reps),
    }
    if torch.cuda.is_available():
        runs["torch_cuda"] = bench_backend(args.model, "torch", "cuda", args.ks, args.reps)
    print(f"FDM latency, median of {args.reps} calls, model {args.model.name}, {torch.get_num_threads()} torch threads")
    cols = ["encode_ms"] + [f"rollout_K{k}_ms" for k in args.ks]
    print(f"{'backend':<18}" + "".join(f"{c:>18}" for c in cols))
    for name, row in runs.items():
        print(f"{name:<18}" + "".join(f"{row[c]:>18.2f}" for c in cols))
    ratio = {c: runs["onnxruntime_cpu"][c] / runs["torch_cpu"][c] for c in cols}
    print(f"{'ORT / torch (CPU)':<18}" + "".join(f"{ratio[c]:>18.2f}" for c in cols))
    result = {
        "model": args.model.name,
        "horizon": 10,
        "reps": args.reps,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "ms": {k: {c: round(v, 3) for c, v in row.items()} for k, row in runs.items()},
        "onnx_over_torch_cpu": {c: round(v, 3) for c, v in ratio.items()},
    }
    atomic_write_json(args.out, result)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
