"""``dynstack irl ...``: demonstrations, AIRL training, evaluation, retargeting; thin wrappers over visual_irl.

Commands: ``gen-data`` (generated demonstrations as keypoint files; alias
``gen-demos``), ``train`` (AIRL -> reward model card + ONNX), ``eval-model``
(Spearman of learned return vs true score, policy comparison, plots; alias
``eval``), ``retarget`` (robot joint trajectories of one or more
demonstrations, metrics vs plain IK, plot). ``--data`` is the folder of
demonstrations a command reads (``--demos``, ``--test-demos`` still work).
Heavy imports happen inside the commands so ``dynstack --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from dynamics_stack import cli_args
from dynamics_stack.config import ConfigError
from dynamics_stack.params import register_node

STATE_STEP = 3  # retarget every 3rd frame: 10 Hz from the 30 Hz recordings, as the node's replays


def register(subparsers: argparse._SubParsersAction) -> None:
    register_node(
        "irl_reward",
        "visual_irl.node_cfg:IrlRewardNodeCfg",
        "config/irl_reward.yaml",
        "Parameters of the irl_reward node (visual_irl/node.py).",
    )
    irl = subparsers.add_parser("irl", help="reward from human demonstrations: keypoints, AIRL, retargeting")
    irl.set_defaults(group_parser=irl)
    sub = irl.add_subparsers(dest="command", metavar="COMMAND")

    gen = sub.add_parser(
        "gen-data",
        aliases=["gen-demos"],
        help="generate sorting-task demonstrations (COCO-17 keypoints through an RGB-D camera model)",
        description="Writes DIR/demo_NNNN.{npz,json} and DIR/index.json (quality, variant, true score per file).",
    )
    gen.add_argument("--out", type=Path, required=True, help="folder to write")
    gen.add_argument("--good", type=int, default=40)
    gen.add_argument("--suboptimal", type=int, default=0)
    gen.add_argument("--failed", type=int, default=0)
    gen.add_argument("--people", type=int, default=8, help="different demonstrators (body size, swivel, speed)")
    cli_args.add_seed(gen, "demonstrators, onions and noise")
    gen.add_argument("--format", choices=("npz", "json"), default="npz")
    cli_args.add_progress(gen)
    gen.set_defaults(func=_gen_demos)

    train = sub.add_parser(
        "train",
        help="AIRL on the good demonstrations of a folder; writes the reward model (card, safetensors, ONNX)",
        description="Writes OUT.card.json, OUT.safetensors, OUT.reward.onnx and OUT.ckpt/{last.safetensors,log.csv}.",
    )
    train.add_argument(
        "--data", "--demos", type=Path, required=True, help="folder of keypoint files (gen-data or recorded)"
    )
    train.add_argument("--out", type=Path, required=True, help="model path stem, e.g. models/irl_reward")
    cli_args.add_config(train, "IrlTrainCfg fields")
    train.add_argument("--iterations", type=int, help="override IrlTrainCfg.iterations")
    cli_args.add_seed(train, "the AIRL run (IrlTrainCfg.seed; member k uses seed + k)", default=None)
    train.add_argument("--members", type=int, help="override IrlTrainCfg.members (1: a single AIRL run)")
    train.add_argument("--resume", action="store_true", help="continue from OUT.ckpt/last.safetensors")
    cli_args.add_threads(train)
    cli_args.add_progress(train)
    train.set_defaults(func=_train)

    ev = sub.add_parser(
        "eval-model", aliases=["eval"], help="learned return vs true score on held-out demos; policy vs expert and BC"
    )
    ev.add_argument("--model", type=Path, required=True, help="reward model card")
    ev.add_argument(
        "--train-data", "--train-demos", type=Path, required=True, help="the expert demos the model was trained on"
    )
    ev.add_argument("--data", "--test-demos", type=Path, required=True, help="held-out demos of mixed quality")
    ev.add_argument("--json", type=Path, required=True, help="report to write")
    ev.add_argument("--plots", type=Path, help="folder for PNGs (default: beside the JSON)")
    ev.add_argument("--ppo-iterations", type=int, default=200, help="PPO iterations on the learned reward (scratch)")
    ev.add_argument(
        "--finetune-iterations", type=int, default=800, help="PPO iterations on the learned reward from the BC policy"
    )
    ev.add_argument(
        "--action-noise",
        type=float,
        nargs="*",
        default=[0.005, 0.01],
        help="actuation-noise stds (m per step) of the extra evaluation conditions (noise-free is always run)",
    )
    ev.add_argument("--episodes", type=int, default=500, help="evaluation episodes per condition")
    ev.add_argument("--skip-policy", action="store_true", help="only the return-vs-score part")
    cli_args.add_seed(ev, "BC, PPO and the evaluation episodes")
    cli_args.add_threads(ev)
    ev.add_argument("--update-card", action="store_true", help="store the headline metrics in the model card")
    cli_args.add_progress(ev)
    ev.set_defaults(func=_eval)

    rt = sub.add_parser("retarget", help="map demonstrations onto a cobot; joint trajectories, metrics, plot")
    rt.add_argument("demos", nargs="+", type=Path, help="keypoint files or folders of them")
    rt.add_argument("--robot", choices=("panda", "ur5", "both"), default="both")
    rt.add_argument("--out", type=Path, required=True, help="folder for trajectories (NPZ), metrics JSON and plot")
    rt.add_argument("--plot", type=Path, help="PNG of the first demonstration (default OUT/retarget.png)")
    rt.add_argument("--json", type=Path, help="metrics summary (default OUT/retarget_metrics.json)")
    rt.add_argument("--quality", help="only demonstrations of this quality (from their metadata)")
    cli_args.add_config(
        rt, "JointLimitsCfg fields (velocity_scale, acceleration_scale, max_dt_s), as the node's limits.*"
    )
    rt.set_defaults(func=_retarget)


def _demo_files(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for p in paths:
        if p.is_dir() and not (p / "metadata.yaml").exists():
            files += sorted(q for q in p.iterdir() if q.suffix in (".npz", ".json") and q.name != "index.json")
        else:
            files.append(p)
    if not files:
        raise FileNotFoundError(f"no keypoint files (.npz/.json) in {', '.join(map(str, paths))}")
    return files


def load_folder(folder: Path, quality: str | None = None) -> list:
    from visual_irl.keypoints import load_demo

    demos = [load_demo(f) for f in _demo_files([folder])]
    if quality is not None:
        demos = [d for d in demos if d.meta.get("quality", quality) == quality]
        if not demos:
            raise ConfigError(f"{folder}: no demonstrations of quality '{quality}'")
    return demos


def _gen_demos(args: argparse.Namespace) -> int:
    from dynamics_stack.atomic import atomic_write_json
    from visual_irl.demos import DemoGenCfg, generate_set
    from visual_irl.keypoints import save_demo

    counts = {"good": args.good, "suboptimal": args.suboptimal, "failed": args.failed}
    if min(counts.values()) < 0 or sum(counts.values()) == 0 or args.people < 1:
        raise ConfigError("gen-demos: counts must be >= 0 with at least one demo, and --people >= 1")
    demos = generate_set(
        DemoGenCfg(), counts, seed=args.seed, people=args.people, progress=cli_args.show_progress(args)
    )
    index = []
    for i, demo in enumerate(demos):
        path = save_demo(demo, args.out / f"demo_{i:04d}.{args.format}")
        m = demo.meta
        index.append({"file": path.name, **{k: m[k] for k in ("quality", "variant", "score", "correct", "person_id")}})
    atomic_write_json(args.out / "index.json", {"seed": args.seed, "counts": counts, "demos": index})
    print(f"wrote {len(demos)} demonstrations to {args.out}")
    return 0


def _train(args: argparse.Namespace) -> int:
    from visual_irl.airl import IrlTrainCfg, train_airl

    cli_args.apply_threads(args)
    fields = {"iterations": args.iterations, "seed": args.seed, "members": args.members}
    cfg = cli_args.config_from_args(IrlTrainCfg, args, "irl train arguments", **fields)
    demos = load_folder(args.data, quality="good")
    _, _, card = train_airl(cfg, demos, args.out, resume=args.resume, progress=cli_args.show_progress(args))
    print(f"wrote {card.path}")
    return 0


def _eval(args: argparse.Namespace) -> int:
    from dynamics_stack.atomic import atomic_write_json
    from dynamics_stack.checkpoint import write_card
    from dynamics_stack.config import cfg_from_dict
    from dynamics_stack.runtime import load_runtime
    from visual_irl.airl import expert_data
    from visual_irl.evaluate import demo_state_tensors, plot_rewards, policy_comparison, return_vs_score
    from visual_irl.task import SortingTaskCfg

    cli_args.apply_threads(args)
    runtime = load_runtime(args.model, backend="torch")
    card = runtime.card
    training = card.data.get("training", {})
    task = cfg_from_dict(SortingTaskCfg, training.get("task", {}), source=f"{card.path} training.task")
    min_conf = training.get("config", {}).get("min_confidence", 0.5)
    reward = runtime.model.eval()
    test = load_folder(args.data)
    test_states = demo_state_tensors(test, task, min_conf)  # built once, for the ranking and the plots
    ranking = return_vs_score(reward, test, test_states)
    report = {"model": card.name, "test_demos": str(args.data), "return_vs_score": ranking}
    if not args.skip_policy:
        train = load_folder(args.train_data, quality="good")
        expert = expert_data(train, task, min_conf)
        if min(args.ppo_iterations, args.finetune_iterations, args.episodes) < 1 or any(
            not n >= 0 for n in args.action_noise
        ):
            raise ConfigError("eval: iterations and episodes must be >= 1 and --action-noise stds >= 0")
        report["policy"] = policy_comparison(
            reward,
            expert,
            train,
            task,
            args.ppo_iterations,
            finetune_iterations=args.finetune_iterations,
            episodes=args.episodes,
            action_noise=tuple(args.action_noise),
            seed=args.seed,
            progress=cli_args.show_progress(args),
            airl_policy=_airl_policy(card, expert, task),
        )
    plots = plot_rewards(reward, test, test_states, task, ranking, args.plots or args.json.parent)
    atomic_write_json(args.json, report)
    headline = {
        "spearman": round(ranking["spearman"], 4),
        "kendall_tau": round(ranking["kendall_tau"], 4),
        "per_quality": ranking["per_quality"],
    }
    if "policy" in report:
        p = report["policy"]
        headline["expert_replay_success"] = p["expert_replay_success"]
        headline["policy_success"] = {name: c["success"] for name, c in p["conditions"].items()}
        headline["policy_target_met"] = {
            name: {sel: t["met"] for sel, t in c["target"].items()} for name, c in p["conditions"].items()
        }
    print(json.dumps(headline, indent=2))
    print(f"wrote {args.json} and {', '.join(map(str, plots))}")
    if args.update_card:
        data = dict(card.data)
        data["metrics"] = {"heldout": headline, "report": args.json.name}
        write_card(card.path, data)
        print(f"updated metrics in {card.path}")
    return 0


def _airl_policy(card, expert, task):
    """AIRL's generator policy from the training checkpoint beside the card (None if it is not there)."""
    from dynamics_stack.checkpoint import load_training_state
    from dynamics_stack.config import cfg_from_dict
    from visual_irl.airl import IrlTrainCfg, make_modules

    cfg = cfg_from_dict(IrlTrainCfg, card.data["training"]["config"], source=str(card.path))
    ckpt = card.path.with_name(card.name + ".ckpt")
    ckpt = (ckpt / "member_0" if cfg.members > 1 else ckpt) / "last.safetensors"  # an ensemble: its first run's
    if not ckpt.is_file():
        return None
    mods, opt = make_modules(cfg, task, expert)
    load_training_state(ckpt, mods, opt)
    return mods.policy.eval().requires_grad_(False)


def _retarget(args: argparse.Namespace) -> int:
    import numpy as np

    from dynamics_stack.atomic import atomic_path, atomic_write_json
    from visual_irl.features import demo_states
    from visual_irl.joint_limits import JointLimits, JointLimitsCfg, check_stream, limit_trajectory
    from visual_irl.keypoints import load_demo
    from visual_irl.retarget import metrics, retarget_trajectory
    from visual_irl.robots import load_robot

    limits_cfg = cli_args.config_from_args(JointLimitsCfg, args, "irl retarget limits")
    robots = ("panda", "ur5") if args.robot == "both" else (args.robot,)
    files = _demo_files(args.demos)
    if args.quality:
        files = [f for f in files if load_demo(f).meta.get("quality") == args.quality]
        if not files:
            raise ConfigError(f"retarget: no demonstrations of quality {args.quality!r}")
    summary: dict = {"demos": [str(f) for f in files], "per_robot": {}}
    first: dict = {}
    for name in robots:
        robot = load_robot(name)
        limits = JointLimits.of(robot, limits_cfg)
        rows, speeds = [], []
        for f in files:
            demo = load_demo(f)
            states, _ = demo_states(demo, step=STATE_STEP)
            res = retarget_trajectory(robot, states[:, :9].astype(np.float64))
            # what the node would publish: the same limits, applied last, from rest at the rest posture
            t = demo.t[::STATE_STEP]
            restart_dt = float(np.median(np.diff(t))) if len(t) > 1 else limits_cfg.max_dt_s
            res["t"] = t
            res["q_limited"] = limit_trajectory(t, res["q"], limits, limits_cfg.max_dt_s, restart_dt, res["home"])
            lag = [np.linalg.norm(robot.fk(a) - robot.fk(b)) for a, b in zip(res["q_limited"], res["q"], strict=True)]
            rows.append({**metrics(res, robot), "limited_tool_lag_mm_mean": float(np.mean(lag) * 1e3)})
            speeds.append(
                {
                    kind: check_stream(t, res[key], limits, limits_cfg.max_dt_s, restart_dt, start=start)
                    for kind, key, start in (("retargeted", "q", None), ("published", "q_limited", res["home"]))
                }
            )
            with atomic_path(args.out / f"{f.stem}_{name}.npz") as tmp, open(tmp, "wb") as handle:
                np.savez(handle, joint_names=np.array(robot.joint_names), **{k: v for k, v in res.items()})
            first.setdefault(name, res)
        keys = rows[0].keys()
        summary["per_robot"][name] = {
            k: (float(np.mean([r[k] for r in rows])) if not isinstance(rows[0][k], bool) else all(r[k] for r in rows))
            for k in keys
        }
        summary["per_robot"][name]["ee_error_mm_max_over_demos"] = float(
            max(r["retarget_ee_error_mm_max"] for r in rows)
        )
        summary["per_robot"][name]["joint_limits"] = _limits_summary(speeds, limits_cfg, robot)
    atomic_write_json(args.json or args.out / "retarget_metrics.json", summary)
    plot = _plot_retarget(first, args.plot or args.out / "retarget.png")
    print(json.dumps(summary["per_robot"], indent=2))
    print(f"wrote {args.out}/*.npz, retarget_metrics.json and {plot}")
    return 0


def _limits_summary(speeds: list[dict], cfg, robot) -> dict:
    """Per joint, over all demonstrations: the largest speed and acceleration of the retargeted joints and of
    the limited targets (what the node publishes), beside the limits (scaled, and the robot's); pairs over a
    scaled limit in all."""
    from dataclasses import asdict

    out: dict = {"settings": asdict(cfg), "joints": {}}
    for kind in ("retargeted", "published"):
        for key in ("pairs", "pairs_over_velocity", "pairs_over_acceleration", "targets_outside_position_limits"):
            out[f"{key}_{kind}" if key != "pairs" else key] = sum(s[kind][key] for s in speeds)
    out["within_limits"] = (
        out["pairs_over_velocity_published"] == out["pairs_over_acceleration_published"] == 0
        and out["targets_outside_position_limits_published"] == 0
    )
    for j, (joint, limit) in enumerate(speeds[0]["published"]["joints"].items()):
        row = {
            "velocity_limit": limit["velocity_limit"],
            "velocity_limit_robot": float(robot.velocity[j]),  # the URDF's
            "acceleration_limit": limit["acceleration_limit"],
            "acceleration_limit_robot": float(robot.acceleration[j]),  # documented (robots.RobotSpec)
        }
        for kind in ("retargeted", "published"):
            row[f"max_speed_{kind}"] = max(s[kind]["joints"][joint]["max_speed"] for s in speeds)
            row[f"max_acceleration_{kind}"] = max(s[kind]["joints"][joint]["max_acceleration"] for s in speeds)
        out["joints"][joint] = row
    return out


def _plot_retarget(results: dict, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from visual_irl.human_arm import JOINT_NAMES
    from visual_irl.robots import ROBOTS

    fig, axes = plt.subplots(len(results), 1, figsize=(8, 3.2 * len(results)), squeeze=False)
    for ax, (name, res) in zip(axes[:, 0], results.items(), strict=True):
        t = np.arange(len(res["q"])) * 0.1
        for k, (rj, hj, _) in enumerate(ROBOTS[name].joint_map):
            i = res["map_idx"][k]
            line = ax.plot(t, res["q"][:, i], lw=2, label=f"{rj} (retarget)")[0]
            ax.plot(t, res["q_plain"][:, i], lw=1, ls=":", color=line.get_color(), label=f"{rj} (plain IK)")
            ax.plot(t, res["q_map"][:, i], lw=1, ls="--", color=line.get_color(), alpha=0.6, label=f"mapped {hj}")
        ax.set_title(f"{name}: retargeted vs plain IK; dashed: mapped from the human ({len(JOINT_NAMES)} angles)")
        ax.set_xlabel("time (s)")
        ax.set_ylabel("rad")
        ax.legend(fontsize=6, ncol=3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
