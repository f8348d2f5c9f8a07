"""Where PGND wins or loses against the baselines, episode by episode (the diagnosis in docs/experiments/pgnd.md).

    .venv/bin/python benchmarks/pgnd_episode_diag.py --data out/pgnd_data/cloth_test --split all \
        --model models/pgnd_cloth.card.json --model models/pgnd_cloth_particle_only.card.json

Same predictions and metrics as ``dynstack manip eval-model`` (30 steps from frame 2), printed as:
the mean per action (grasp / push), the EMD curve every 3 steps, the per-episode difference of the
first model to every other method on each metric with a bootstrap interval, the episodes that move most, the ratio of
the predicted clouds' nearest-neighbour spacing to the truth's (density) and, for the three episodes
that move most, one-step speeds of particles more than 8 cm from the gripper from true history.
All figures in cm (speeds in mm per step). Nothing is written.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from pgnd.data import load_episodes
from pgnd.evaluate import load_model, predict_all
from pgnd.metrics import chamfer, emd, mde

METRICS = {"mde": mde, "chamfer": chamfer, "emd": emd}


def nn_spacing(p: torch.Tensor) -> torch.Tensor:  # [..., N, 3] -> [...] mean nearest-neighbour distance
    d = torch.cdist(p, p)
    d.diagonal(dim1=-2, dim2=-1).fill_(float("inf"))
    return d.amin(-1).mean(-1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--split", default="val", choices=("val", "all"))
    ap.add_argument("--model", action="append", required=True, help="model card; the first is compared")
    ap.add_argument("--boot", type=int, default=5000, help="bootstrap resamples of the episodes")
    args = ap.parse_args()
    torch.set_num_threads(1)
    ep = load_episodes(args.data, args.split, 0.2, 0)
    models = dict(load_model(c) for c in args.model)
    truth, preds = predict_all(models, ep, 2, 30)
    truth = truth.double()
    res = {n: {k: fn(p.double(), truth).numpy() * 100 for k, fn in METRICS.items()} for n, p in preds.items()}
    act = ep.action.numpy()
    first = next(iter(models))
    print(
        f"{args.data} ({args.split}): {len(ep)} episodes, {int((act == 0).sum())} grasp / {int((act == 1).sum())} push"
    )
    for name, sel in (("all", act >= 0), ("grasp", act == 0), ("push", act == 1)):
        cells = "  ".join(f"{n} {' / '.join(f'{res[n][k][sel].mean():.3f}' for k in METRICS)}" for n in res)
        print(f"{name:5s} MDE / Chamfer / EMD: {cells}")
    for s in range(0, 30, 3):
        print(f"EMD at step {s + 1:2d}: " + "  ".join(f"{n} {res[n]['emd'][:, s].mean():.3f}" for n in res))
    rng = np.random.default_rng(0)
    pick = rng.integers(0, len(ep), (args.boot, len(ep)))  # the same resamples for every comparison
    print(f"per-episode difference {first} - other, mean over 30 steps, 95 % bootstrap interval, episodes where lower:")
    for other in (n for n in res if n != first):
        cells = []
        for k in METRICS:
            d = res[first][k].mean(1) - res[other][k].mean(1)
            lo, hi = np.percentile(d[pick].mean(1), [2.5, 97.5])
            cells.append(f"{k} {d.mean():+.3f} [{lo:+.3f}, {hi:+.3f}] {int((d < 0).sum())}/{len(d)}")
        print(f"  vs {other}: " + "  ".join(cells))
    d = res[first]["emd"].mean(1) - res["constant_velocity"]["emd"].mean(1)
    print(f"largest EMD excesses over constant velocity: {np.round(np.sort(d)[-3:], 3)}")
    x0 = ep.x[:, 2].double()
    move = (truth[:, -1] - x0).norm(dim=-1).mean(-1).numpy() * 100
    order = np.argsort(-move)
    for e in order[:8]:
        cells = "  ".join(f"{n} {res[n]['emd'][e].mean():.2f}" for n in res)
        print(f"episode {e:3d} ({'grasp' if act[e] == 0 else 'push '}) moves {move[e]:5.1f}: EMD {cells}")
    t_nn = nn_spacing(truth)
    print(
        f"true nearest-neighbour spacing: step 1 {t_nn[:, 0].mean() * 1000:.1f} mm, step 30 {t_nn[:, -1].mean() * 1000:.1f} mm"
    )
    for n, p in preds.items():
        r = (nn_spacing(p.double()) / t_nn).mean(0)
        print(f"  {n}: spacing / true at steps 1, 10, 30: {r[0]:.3f} {r[9]:.3f} {r[29]:.3f}")
    print("one step from true history, particles > 8 cm from the gripper, mm per step (|true| |last| |pred| err):")
    for e in order[:3]:
        for t0 in (6, 10, 14):
            g = ep.gripper[e : e + 1, t0]
            true_v = (ep.x[e, t0 + 1] - ep.x[e, t0]) * 1000
            last_v = (ep.x[e, t0] - ep.x[e, t0 - 1]) * 1000
            far = (ep.x[e, t0] - g[0, :3]).norm(dim=-1) > 0.08
            row = f"  ep {e} t0 {t0}: true {true_v[far].norm(dim=-1).mean():.2f} last {last_v[far].norm(dim=-1).mean():.2f}"
            with torch.inference_mode():
                for n, m in models.items():
                    pv = (m.step(ep.x[e : e + 1, t0 - 2 : t0 + 1], g)[0] - ep.x[e, t0]) * 1000
                    row += f" | {n} {pv[far].norm(dim=-1).mean():.2f} err {(pv - true_v)[far].norm(dim=-1).mean():.2f}"
            print(row + f" | constant velocity err {(last_v - true_v)[far].norm(dim=-1).mean():.2f}")


if __name__ == "__main__":
    main()
