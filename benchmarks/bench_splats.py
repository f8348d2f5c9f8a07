"""Splat speed: fit, linear-blend skinning (LBS) and rendering, CPU (1 and 2 threads) and CUDA when present.

Scene: G Gaussians (5k and 20k) covering a 0.3 m square sheet on the table,
carried by 400 particles (the cloth's count), seen by camera 0 of the default
rig at 320x240 and 640x480. Timed:

- ``lbs``: one skinning step of the G Gaussians on bent particles;
- ``render``: one frame (torch compositor on the CPU, gsplat on CUDA);
- ``frame``: both, i.e. one predicted frame; the issue's CPU goal is < 300 ms for
  20k Gaussians at 320x240 with 2 threads, the GPU goal < 5 ms at 640x480;
- ``fit_iter``: one fitting iteration (render + loss + backward + Adam) on a
  MuJoCo-rendered cloth frame of the same size, G Gaussians at most;
- ``rollout_30``: the shipped cloth PGND predicting 30 steps (B = 1) plus LBS and
  rendering of all 30 frames (20k Gaussians, 320x240); goal < 10 s on the CPU.

Prints a table and writes benchmarks/results/splats.json.
Run: ``.venv/bin/python benchmarks/bench_splats.py [--reps 5] [--threads 1 2]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from timing import time_calls  # benchmarks/timing.py (the script's folder is on sys.path)

from dynamics_stack.atomic import atomic_write_json
from pgnd.splats import render_gsplat
from pgnd.splats.fit import SplatFitCfg, fit_splats
from pgnd.splats.gaussians import Gaussians
from pgnd.splats.render import render_view
from pgnd.splats.skinning import bind, deform
from sim.deformable_cameras import RenderCfg, RgbdRenderer, RigCfg, default_rig

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).with_name("results") / "splats.json"
SIZES = ((320, 240), (640, 480))
COUNTS = (5000, 20000)


def sheet(G: int, device: str) -> tuple[Gaussians, torch.Tensor, torch.Tensor]:
    """Splats on a 0.3 m sheet, its 20x20 particles, and the particles bent (a fold lifted 5 cm)."""
    g = torch.Generator().manual_seed(0)
    xy = (torch.rand(G, 2, generator=g) - 0.5) * 0.3
    means = torch.cat((xy, torch.full((G, 1), 0.005)), dim=1)
    spacing = math.sqrt(0.09 / G)
    gauss = Gaussians(
        means=means,
        quats=torch.randn(G, 4, generator=g),
        log_scales=torch.log(torch.full((G, 3), 0.6 * spacing)) + 0.2 * torch.randn(G, 3, generator=g),
        colors=torch.rand(G, 3, generator=g),
        opacity_logits=torch.full((G,), 2.0),
    ).to(device)
    u = torch.linspace(-0.15, 0.15, 20)
    bones = torch.stack(torch.meshgrid(u, u, indexing="ij"), dim=-1).reshape(-1, 2)
    bones = torch.cat((bones, torch.full((400, 1), 0.005)), dim=1).to(device)
    bent = bones.clone()
    bent[:, 2] += 0.05 * torch.clamp(bones[:, 0] / 0.15, min=0) ** 2
    return gauss, bones, bent


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def cloth_frame(width: int, height: int) -> dict[str, np.ndarray]:
    """One MuJoCo frame of a cloth from all rig cameras at the given size (for the fit timing)."""
    from sim.deformable_scene import DeformableScene, sample_params

    rig = default_rig(RigCfg(width=width, height=height))
    scene = DeformableScene("cloth", sample_params("cloth", np.random.default_rng(0)), rig)
    scene.step(200)
    renderer = RgbdRenderer(scene.model, rig, RenderCfg().antialias)
    frame = renderer.render(scene.data)
    renderer.close()
    return {**frame, "rig": rig}


def bench_device(device: str, threads: int, reps: int) -> list[dict]:
    rows = []
    if device == "cpu":
        torch.set_num_threads(threads)
    for width, height in SIZES:
        cam = default_rig(RigCfg(width=width, height=height))[0]
        frame = cloth_frame(width, height) if device == "cpu" else None
        for G in COUNTS:
            gauss, bones, bent = sheet(G, device)
            skin = bind(gauss, bones)

            def lbs(gauss=gauss, skin=skin, bent=bent):
                out = deform(gauss, skin, bent)
                sync(device)
                return out

            moved = lbs()

            def render(moved=moved, cam=cam):
                out = render_view(moved, cam)
                sync(device)
                return out

            def frame_fn(gauss=gauss, skin=skin, bent=bent, cam=cam):
                out = render_view(deform(gauss, skin, bent), cam)
                sync(device)
                return out

            row = {"device": device, "threads": threads if device == "cpu" else None, "width": width, "height": height}
            row.update({"gaussians": G, "drawn_pixels": int((render()["alpha"] > 0.5).sum())})
            for name, fn in (("lbs", lbs), ("render", render), ("frame", frame_fn)):
                samples = time_calls(fn, reps, warmup=1)
                row[f"{name}_ms"] = round(statistics.median(samples), 2)
            if frame is not None:
                fit_reps = max(3, reps)
                cfg = SplatFitCfg(gaussians=G, iterations=fit_reps)
                t0 = time.perf_counter()
                fitted, _ = fit_splats(frame["rgb"], frame["depth"], frame["labels"] == 1, frame["rig"], cfg)
                row["fit_iter_ms"] = round(1000 * (time.perf_counter() - t0) / fit_reps, 1)
                row["fit_gaussians"] = len(fitted)
            rows.append(row)
            print(
                f"{device:<5}{row['threads'] or '':>3} {width}x{height} G={G:>6}: lbs {row['lbs_ms']:>8.2f} ms"
                f"  render {row['render_ms']:>8.2f} ms  frame {row['frame_ms']:>8.2f} ms"
                + (
                    f"  fit/iter {row['fit_iter_ms']:>7.1f} ms (G={row['fit_gaussians']})"
                    if "fit_iter_ms" in row
                    else ""
                ),
                flush=True,
            )
    return rows


def bench_rollout(threads: int) -> dict:
    """30 PGND steps of the shipped cloth model + LBS + render of each frame, 20k Gaussians, 320x240."""
    from dynamics_stack.runtime import TorchRuntime, load_card

    torch.set_num_threads(threads)
    model = TorchRuntime(load_card(ROOT / "models" / "pgnd_cloth.card.json")).model.eval()
    gauss, bones, _ = sheet(20000, "cpu")
    skin = bind(gauss, bones)
    cam = default_rig(RigCfg(width=320, height=240))[0]
    hist = bones[None, None].repeat(1, model.cfg.history + 1, 1, 1)
    grip = torch.zeros(1, 30, 15)
    grip[:, :, 0:3] = bones[0]
    grip[:, :, 3] = 0.1
    grip[:, :, 6] = 1.0
    grip[:, :, 13] = 0.02
    t0 = time.perf_counter()
    with torch.inference_mode():
        pred = model.rollout(hist, grip)[0]
        t1 = time.perf_counter()
        for s in range(30):
            render_view(deform(gauss, skin, pred[s]), cam)
    t2 = time.perf_counter()
    row = {
        "threads": threads,
        "model_s": round(t1 - t0, 2),
        "lbs_render_s": round(t2 - t1, 2),
        "total_s": round(t2 - t0, 2),
    }
    print(
        f"rollout_30 (threads {threads}): model {row['model_s']} s + LBS/render {row['lbs_render_s']} s = {row['total_s']} s"
    )
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    rows = []
    for threads in args.threads:
        rows += bench_device("cpu", threads, args.reps)
    cuda = torch.cuda.is_available()
    if cuda:
        rows += bench_device("cuda", 0, args.reps)
    rollouts = [bench_rollout(t) for t in args.threads]
    result = {
        "benchmark": "splats",
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "torch": torch.__version__,
        },
        "cuda": torch.cuda.get_device_name(0) if cuda else None,
        "gsplat": render_gsplat.available(),
        "render_cfg": dataclasses.asdict(RenderCfg()),
        "rows": rows,
        "rollout_30": rollouts,
    }
    atomic_write_json(args.out, result)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
