"""One FDM planning cycle (context encode + K rollouts + critics + update), and the same FDM through pytorch_mppi.

Ours: ``FdmPlanner.plan`` at K = 512, 1024, 2048 (T = 10) with the torch and the
ONNX Runtime backends on the CPU (and torch on CUDA when a GPU is present). Baseline: the same shipped FDM driven through
pytorch_mppi's per-step dynamics interface at K = 1024, in the same process, two
ways (see ``theirs``): ``hidden`` carries the GRU hidden states in pytorch_mppi's
state (one GRU step per call; needs the model's internals) and ``public`` uses the
model's exported rollout interface (the commands so far in the state, the prefix
rolled out per call). Both score goal distance and risk. Prints a table and writes
benchmarks/results/planner.json (``cycle_ms`` per backend and K;
``pytorch_mppi_ms_K1024`` and ``ratio_vs_pytorch_mppi`` = pytorch_mppi / ours at
K = 1024, torch backend, per driver).

Run: ``make bench`` or ``.venv/bin/python benchmarks/bench_planner.py [--cycles 20] [--threads 2]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import statistics
from pathlib import Path

import torch
from timing import time_calls  # benchmarks/timing.py (the script's folder is on sys.path)

from dynamics_stack.atomic import atomic_write_json
from dynamics_stack.paths import resolve_package_file
from dynamics_stack.runtime import load_runtime
from fdm_nav.model import _gru_step
from fdm_nav.planner import FdmPlanner, PlannerCfg
from fdm_nav.se2 import twist_displacement

RESULTS = Path(__file__).with_name("results") / "planner.json"


def inputs(cfg: dict, device: str = "cpu"):
    g = torch.Generator().manual_seed(0)
    return (
        (torch.randn(cfg["history"], cfg["proprio_dim"], generator=g) * 0.1).to(device),
        torch.zeros(cfg["history"], cfg["state_dim"]).index_fill_(1, torch.tensor([3]), 1.0).to(device),
        torch.full((60, 46), 0.1, device=device),
    )


def time_ms(fn, cycles: int) -> float:
    return statistics.median(time_calls(fn, cycles))


def ours(card: Path, backend: str, K: int, cycles: int, device: str = "cpu") -> float:
    runtime = load_runtime(card, backend=backend, device=device)
    cfg = PlannerCfg()
    planner = FdmPlanner(
        runtime, dataclasses.replace(cfg, mppi=dataclasses.replace(cfg.mppi, num_samples=K)), device=device
    )
    proprio, state, scan = inputs(runtime.card.config, device)
    pose, goal = torch.zeros(3), torch.tensor([6.0, 2.0, float("nan")])
    # plan() returns its command on the CPU, so every timed call ends synchronised with the GPU.
    return time_ms(lambda: planner.plan(proprio, state, scan, pose, goal), cycles)


def _se2_step(pose: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """pose [K, 3] moved by the body-frame displacement d [K, 3]."""
    cy, sy = torch.cos(pose[:, 2]), torch.sin(pose[:, 2])
    return torch.stack(
        [pose[:, 0] + cy * d[:, 0] - sy * d[:, 1], pose[:, 1] + sy * d[:, 0] + cy * d[:, 1], pose[:, 2] + d[:, 2]],
        dim=1,
    )


def theirs(card: Path, K: int, cycles: int, device: str = "cpu", driver: str = "hidden") -> float:
    """The same FDM through pytorch_mppi's per-step ``dynamics(state, u, t)``; one ``command()`` per cycle, timed.

    Both drivers give pytorch_mppi what our rollout gives our critics (pose and failure
    probability per step) and score goal distance plus risk (hard penalty above 0.5 and
    expected risk, as our risk critic); the context is encoded once per cycle outside.

    - ``hidden``: the rollout GRU split open: pytorch_mppi's state carries the pose, the
      failure probability and both GRU hidden states, and each step runs one GRU step
      (the same arithmetic as our batched rollout; needs the model's internals).
    - ``public``: the model through its exported interface (``rollout(context, commands)``,
      the graph the planner and the robot run): the state carries the commands so far,
      and step t rolls out the t + 1-step prefix and keeps its last pose (what a per-step
      interface costs a sequence model that is used as shipped: 55 GRU steps for T = 10).
    """
    from pytorch_mppi import MPPI

    model = load_runtime(card, backend="torch", device=device).model
    c = model.cfg
    Hr, A, T = c.rollout_hidden, c.action_features, c.horizon
    proprio, state, scan = inputs(model.cfg.__dict__, device)
    goal = torch.tensor([6.0, 2.0], device=device)
    with torch.inference_mode():
        packed = model.encode_context(proprio[None], state[None], scan[None])
    ctx_gates, h1_0, h2_0 = packed[0, : 3 * Hr], packed[0, 3 * Hr : 4 * Hr], packed[0, 4 * Hr :]

    def hidden(s, a, t):  # s [K, 4 + 2 Hr]: pose, failure probability, both hidden states; a [K, 3]
        with torch.inference_mode():
            pose, h1, h2 = s[:, :3], s[:, 4 : 4 + Hr], s[:, 4 + Hr :]
            feats = model.action_encoder(a / model.command_scale)
            gates = torch.nn.functional.linear(feats, model.w_ih1.weight[:, :A]) + ctx_gates
            h1 = _gru_step(gates, model.w_hh1(h1), h1)
            h2 = _gru_step(model.w_ih2(h1), model.w_hh2(h2), h2)
            vel = a + model.velocity_head(h2) * model.command_scale
            fail = torch.sigmoid(model.failure_head(h2))
            return torch.cat([_se2_step(pose, twist_displacement(vel, c.step_dt)), fail, h1, h2], dim=1)

    def public(s, a, t):  # s [K, 4 + 3 T]: pose, failure probability, the commands so far; a [K, 3]
        with torch.inference_mode():
            commands = s[:, 4:].clone()
            commands[:, 3 * t : 3 * t + 3] = a
            poses, fail = model.rollout(packed, commands[:, : 3 * (t + 1)].reshape(-1, t + 1, 3))
            return torch.cat([poses[:, -1], fail[:, -1:], commands], dim=1)

    def running_cost(s, a, t):
        risk = s[:, 3]
        return torch.linalg.vector_norm(s[:, :2] - goal, dim=1) / T + 1000.0 * (risk > 0.5) + 10.0 * risk / T

    def terminal(states, actions):
        return 10.0 * torch.linalg.vector_norm(states[0, :, -1, :2] - goal, dim=1)

    if driver == "hidden":
        dynamics, start = hidden, torch.cat([torch.zeros(4, device=device), h1_0, h2_0])
    else:
        dynamics, start = public, torch.zeros(4 + 3 * T, device=device)
    mppi = MPPI(
        dynamics,
        running_cost,
        nx=start.numel(),
        noise_sigma=torch.diag(torch.tensor([0.5, 0.2, 0.6], device=device) ** 2),
        num_samples=K,
        horizon=T,
        device=device,
        lambda_=0.3,
        u_min=torch.tensor([-0.5, -0.4, -1.0], device=device),
        u_max=torch.tensor([1.0, 0.4, 1.0], device=device),
        terminal_state_cost=terminal,
        step_dependent_dynamics=True,
    )
    return time_ms(lambda: mppi.command(start).cpu(), cycles)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=resolve_package_file("models/fdm_anymal_d.card.json"))
    parser.add_argument("--cycles", type=int, default=20)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch default)")
    parser.add_argument("--ks", type=int, nargs="+", default=[512, 1024, 2048])
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cycle = {b: {str(K): round(ours(args.model, b, K, args.cycles), 2) for K in args.ks} for b in ("torch", "onnx")}
    drivers = ("hidden", "public")
    baseline = {d: round(theirs(args.model, 1024, args.cycles, driver=d), 2) for d in drivers}
    ratio = {d: round(baseline[d] / cycle["torch"]["1024"], 2) for d in drivers} if "1024" in cycle["torch"] else None
    cuda = None
    if torch.cuda.is_available():  # the same cycle and the same baselines on the GPU, in this process
        cycle["torch_cuda"] = {str(K): round(ours(args.model, "torch", K, args.cycles, "cuda"), 2) for K in args.ks}
        base_cuda = {d: round(theirs(args.model, 1024, args.cycles, "cuda", d), 2) for d in drivers}
        cuda = {
            "device": torch.cuda.get_device_name(0),
            "pytorch_mppi_ms_K1024": base_cuda,
            "ratio_vs_pytorch_mppi": {d: round(base_cuda[d] / cycle["torch_cuda"]["1024"], 2) for d in drivers},
        }
    print(f"FDM planning cycle (encode + K rollouts + critics + guard + update), median of {args.cycles}")
    print(f"{'backend':<26}" + "".join(f"{'K=' + str(K):>12}" for K in args.ks))
    for b, row in cycle.items():
        print(f"{'ours, ' + b:<26}" + "".join(f"{row[str(K)]:>10.1f}ms" for K in args.ks))
    for where, base, r in [("CPU", baseline, ratio)] + (
        [("CUDA", cuda["pytorch_mppi_ms_K1024"], cuda["ratio_vs_pytorch_mppi"])] if cuda else []
    ):
        for d in drivers:
            label = f"pytorch_mppi, {d}"
            print(f"{label:<26}{'':>12}{base[d]:>10.1f}ms  (K=1024, {where}; ratio to ours, torch: {r[d]}x)")
    atomic_write_json(
        args.out,
        {
            "model": args.model.name,
            "horizon": 10,
            "cycles": args.cycles,
            "torch_threads": torch.get_num_threads(),
            "cpu": platform.processor() or platform.machine(),
            "cycle_ms": cycle,
            "pytorch_mppi_ms_K1024": baseline,
            "ratio_vs_pytorch_mppi": ratio,
            "pytorch_mppi_drivers": {
                "hidden": "GRU hidden states carried in pytorch_mppi's state, one GRU step per dynamics call",
                "public": "the model's rollout interface as exported: commands so far in the state, prefix rolled out",
            },
            "cuda": cuda,
        },
    )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
