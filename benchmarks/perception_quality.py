"""How close perceived particles are to the simulator's vertices, per perceived dataset (``dynstack manip perceive``).

For each dataset: the mean over episodes of the per-frame Chamfer distance
between the perceived particles and the vertices (and of each episode's worst
frame), the track drift at 1, 2 and 3 s (mean distance of each particle to
where the material it started on really is), the share of particles a camera
saw, and the **sampling floor**: the Chamfer of an ideal perceiver, N
farthest-point samples of the exact object surface (vertices densified by
interpolation along the rope or over the cloth's grid), against the vertices.
N particles cannot come closer to M vertices than that, whatever the cameras.

Prints a table and writes benchmarks/results/perception_quality.json.
Run: ``.venv/bin/python benchmarks/perception_quality.py out/pgnd_perceived/rope_test out/pgnd_perceived/cloth_test``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from dynamics_stack.atomic import atomic_write_json
from dynamics_stack.pointsets import chamfer
from pgnd.perception.fusion import sample_particles
from sim.deformable_datagen import load_shard, read_manifest
from sim.deformable_scene import SHAPES

RESULTS = Path(__file__).with_name("results") / "perception_quality.json"
UPSAMPLE = 8  # dense surface points per vertex spacing


def dense_surface(vertices: np.ndarray, category: str) -> np.ndarray:  # [M, 3] -> [D, 3]
    """The object's surface (centre line / mid-surface) densified by linear interpolation between vertices."""
    nx, ny, _ = SHAPES[category]["count"]
    s = np.linspace(0, 1, UPSAMPLE + 1)[:-1]
    if ny == 1:
        a, b = vertices[:-1], vertices[1:]
        pts = (a[:, None] * (1 - s)[None, :, None] + b[:, None] * s[None, :, None]).reshape(-1, 3)
        return np.concatenate((pts, vertices[-1:]))
    g = vertices.reshape(nx, ny, 3)
    u = np.linspace(0, nx - 1, (nx - 1) * UPSAMPLE + 1)
    v = np.linspace(0, ny - 1, (ny - 1) * UPSAMPLE + 1)
    i0, j0 = np.clip(np.floor(u).astype(int), 0, nx - 2), np.clip(np.floor(v).astype(int), 0, ny - 2)
    a, b = (u - i0)[:, None, None], (v - j0)[None, :, None]
    return (
        g[i0][:, j0] * (1 - a) * (1 - b)
        + g[i0 + 1][:, j0] * a * (1 - b)
        + g[i0][:, j0 + 1] * (1 - a) * b
        + g[i0 + 1][:, j0 + 1] * a * b
    ).reshape(-1, 3)


def summarise(folder: Path) -> dict:
    manifest = read_manifest(folder)
    perception = manifest.get("perception")
    if perception is None:
        raise SystemExit(f"{folder}: not a perceived dataset (dynstack manip perceive)")
    source = Path(perception["source"])
    src = read_manifest(source)
    quality = [q for s in manifest["shards"] for q in s["quality"]]
    floors = []
    for shard in src["shards"][:2]:  # the floor depends on the object's sampling, not the episode: a few suffice
        x = load_shard(source / shard["file"], src["num_particles"])["x"]
        for e in range(min(5, len(x))):
            dense = dense_surface(x[e, 0].astype(np.float64), manifest["category"])
            ideal = sample_particles(dense, manifest["num_particles"])
            floors.append(float(chamfer(torch.from_numpy(ideal), torch.from_numpy(x[e, 0].astype(np.float64)))))
    out = {"data": str(folder), "category": manifest["category"], "episodes": len(quality)}
    out["particles"] = manifest["num_particles"]
    for key in ("chamfer_mean", "chamfer_max", "drift_1s", "drift_2s", "drift_3s"):
        out[key] = float(np.mean([q[key] for q in quality]))
    out["drift_3s_p90"] = float(np.percentile([q["drift_3s"] for q in quality], 90))
    out["sampling_floor"] = float(np.mean(floors))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folders", type=Path, nargs="+")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    rows = [summarise(f) for f in args.folders]
    print(
        f"{'dataset':<34}{'N':>5}{'Chamfer':>9}{'worst':>8}{'floor':>8}{'drift 1s':>10}{'2s':>7}{'3s':>7}{'3s p90':>8}  (cm)"
    )
    for r in rows:
        print(
            f"{Path(r['data']).name:<34}{r['particles']:>5}{100 * r['chamfer_mean']:>9.2f}{100 * r['chamfer_max']:>8.2f}"
            f"{100 * r['sampling_floor']:>8.2f}{100 * r['drift_1s']:>10.2f}{100 * r['drift_2s']:>7.2f}"
            f"{100 * r['drift_3s']:>7.2f}{100 * r['drift_3s_p90']:>8.2f}"
        )
    atomic_write_json(args.out, {"benchmark": "perception_quality", "rows": rows})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
