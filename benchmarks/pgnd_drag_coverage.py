"""How large the grasp-and-drag motions in PGND datasets are: does the training data cover the test set's drags?

    .venv/bin/python benchmarks/pgnd_drag_coverage.py out/pgnd_data/cloth32:train out/pgnd_data/cloth_test:all

For each DATA:SPLIT (split train, val or all; the training split rule of ``dynstack manip train``) it
prints the episodes, the grasps, how many grasps move the object more than 6 and 10 cm over the
evaluation's 3 s (mean particle displacement from frame 2 to frame 32, as ``pgnd_episode_diag.py``
measures "moves") and the largest such motion of any episode. Nothing is written.
"""

from __future__ import annotations

import argparse

from pgnd.data import load_episodes

START, HORIZON = 2, 30  # the evaluation's true history ends at frame 2; 30 steps of 0.1 s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sets", nargs="+", metavar="DATA:SPLIT", help="dataset folder and split (train, val, all)")
    ap.add_argument("--val-fraction", type=float, default=0.2, help="must match the training split")
    args = ap.parse_args()
    print(
        f"{'dataset':40s} {'split':5s} {'episodes':>8s} {'grasps':>6s} {'> 6 cm':>6s} {'> 10 cm':>7s} {'largest (cm)':>12s}"
    )
    for item in args.sets:
        data, _, split = item.rpartition(":")
        if not data or split not in ("train", "val", "all"):
            raise SystemExit(f"expected DATA:SPLIT with split train, val or all, got {item!r}")
        ep = load_episodes(data, split, args.val_fraction, 0)
        if ep.x.shape[1] <= START + HORIZON:
            raise SystemExit(f"{data}: episodes have {ep.x.shape[1]} frames, need more than {START + HORIZON}")
        move = (ep.x[:, START + HORIZON] - ep.x[:, START]).norm(dim=-1).mean(-1) * 100
        grasp = move[ep.action == 0]
        print(
            f"{data:40s} {split:5s} {len(ep):8d} {len(grasp):6d} {int((grasp > 6).sum()):6d} "
            f"{int((grasp > 10).sum()):7d} {float(move.max()):12.1f}"
        )


if __name__ == "__main__":
    main()
