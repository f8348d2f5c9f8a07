"""How much the AIRL recipe's held-out Spearman depends on the seed: single runs and every ensemble of k of them.

The shipped reward averages g over ``members`` runs of one recipe, so its learned return on a demonstration
is the mean of its members' returns. Given the cards of single runs of the recipe (``dynstack irl train
--seed S --members 1``), this prints and writes, per demonstration set, the Spearman rank correlation of
each run's return with the true task score and of the mean return of every k-subset of the runs (min /
mean / max, and how many reach the target).

Run: ``.venv/bin/python benchmarks/irl_seed_spread.py --cards /tmp/irl_S/irl_reward.card.json ...
--demos data/irl_test data/irl_val`` -> benchmarks/results/irl_seed_spread.json.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr

from dynamics_stack.atomic import atomic_write_json
from dynamics_stack.runtime import load_runtime
from visual_irl.cli import load_folder
from visual_irl.evaluate import demo_state_tensors, reward_traces
from visual_irl.task import SortingTaskCfg

RESULTS = Path(__file__).with_name("results") / "irl_seed_spread.json"


def spread(returns: np.ndarray, scores: np.ndarray, k: int, target: float) -> dict:
    """returns [runs, demos] -> Spearman of each run and of the mean of every k-subset of runs."""
    single = [float(spearmanr(r, scores).statistic) for r in returns]
    subsets = {
        ",".join(map(str, c)): float(spearmanr(returns[list(c)].mean(0), scores).statistic)
        for c in itertools.combinations(range(len(returns)), k)
    }
    values = np.array(list(subsets.values()))
    return {
        "single": single,
        f"mean_of_{k}": subsets,
        f"mean_of_{k}_min_mean_max": [float(values.min()), float(values.mean()), float(values.max())],
        f"mean_of_{k}_at_or_above_target": f"{int((values >= target).sum())} of {len(values)}",
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cards", type=Path, nargs="+", required=True, help="cards of single AIRL runs, one per seed")
    ap.add_argument("--demos", type=Path, nargs="+", required=True, help="held-out demonstration folders")
    ap.add_argument("--k", type=int, default=3, help="ensemble size (the recipe's members)")
    ap.add_argument("--target", type=float, default=0.9)
    ap.add_argument("--json", type=Path, default=RESULTS)
    args = ap.parse_args()
    if not 1 <= args.k <= len(args.cards):
        sys.exit(f"--k must be between 1 and the number of cards ({len(args.cards)}), got {args.k}")
    torch.set_num_threads(1)
    task = SortingTaskCfg()
    nets = [load_runtime(card, "torch").model for card in args.cards]
    report = {"cards": [str(c) for c in args.cards], "k": args.k, "target": args.target, "sets": {}}
    for folder in args.demos:
        demos = load_folder(folder)
        scores = np.array([float(d.meta["score"]) for d in demos])
        states = demo_state_tensors(demos, task, 0.5)  # once for every run
        returns = np.array([[float(t.sum()) for t in reward_traces(net, states)] for net in nets])
        row = spread(returns, scores, args.k, args.target)
        report["sets"][str(folder)] = row
        lo, mean, hi = row[f"mean_of_{args.k}_min_mean_max"]
        print(f"{folder}: single runs {' '.join(f'{s:.3f}' for s in row['single'])}")
        print(f"  mean of {args.k}: min {lo:.3f} mean {mean:.3f} max {hi:.3f}, ", end="")
        print(f">= {args.target}: {row[f'mean_of_{args.k}_at_or_above_target']}")
    atomic_write_json(args.json, report)
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
