"""PGND training on a tiny simulated dataset: the loss falls, resume reproduces, bad files are refused."""

from __future__ import annotations

import pytest
import torch

from dynamics_stack.checkpoint import ModelFileError
from dynamics_stack.config import ConfigError
from pgnd.data import gather_windows, is_validation, load_episodes, random_yaw, window_index
from pgnd.evaluate import evaluate, load_model
from pgnd.model import Pgnd, PgndCfg
from pgnd.train import PgndTrainCfg, rollout_loss, train
from sim.deformable_datagen import DeformGenCfg, generate

MODEL = PgndCfg(encoder=(16, 16), global_dim=16, grid_channels=8, velocity_mlp=(16, 16), gripper_points=8)
VAL = 0.5


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    """9 rope episodes of 3.5 s (enough for a 30-step evaluation); 3 train, 6 validation."""
    out = tmp_path_factory.mktemp("rope")
    generate(DeformGenCfg(category="rope", shards=3, episodes_per_shard=3, seconds=3.5, seed=1), out, progress=False)
    split = [is_validation(s, e, VAL) for s in range(3) for e in range(3)]
    assert any(split) and not all(split)
    return out


def _cfg(**kw) -> PgndTrainCfg:
    # no yaw augmentation and a high rate: a few steps must visibly fit 3 episodes
    base = {"iterations": 60, "batch_size": 4, "lr": 1e-2, "val_fraction": VAL, "val_every": 60, "ckpt_every": 10}
    base["augment_yaw"] = False
    return PgndTrainCfg(**{**base, **kw})


def test_few_training_steps_lower_the_loss(tiny_data, tmp_path):
    torch.manual_seed(0)
    ep = load_episodes(tiny_data, "train", VAL)
    batch = gather_windows(ep, window_index(ep, 2, 5), 2, 5)
    untrained = Pgnd(MODEL)  # starts as "nothing moves"
    with torch.no_grad():
        before = float(rollout_loss(untrained, batch))
    card = train(MODEL, _cfg(), tiny_data, tmp_path / "m", progress=False)
    _, model = load_model(card.path)
    with torch.no_grad():
        after = float(rollout_loss(model, batch))
    assert after < 0.8 * before  # measured: 0.0285 -> 0.0177
    assert card.config["num_particles"] == 40  # taken from the data


def test_distance_loss_is_the_mean_particle_distance_in_the_unit_cube(tiny_data):
    ep = load_episodes(tiny_data, "train", VAL)
    batch = gather_windows(ep, window_index(ep, 2, 3)[:4], 2, 3)
    model = Pgnd(MODEL).eval()  # untrained: nothing moves, the prediction is the last known frame
    with torch.no_grad():
        got = float(rollout_loss(model, batch, PgndTrainCfg(loss="distance")))
        mse = float(rollout_loss(model, batch, PgndTrainCfg(loss="mse")))
    pred = model.rollout(batch["x_hist"], batch["gripper"]).detach()
    err = (pred - batch["target"]) / MODEL.workspace
    by_hand = 100.0 * sum(float(e.norm()) for e in err.reshape(-1, 3)) / (err.numel() // 3)
    assert got == pytest.approx(by_hand, rel=1e-5)
    assert mse == pytest.approx(100.0 * float(err.pow(2).mean()), rel=1e-5)
    with pytest.raises(ValueError, match="loss must be one of"):
        PgndTrainCfg(loss="huber")


def test_large_error_adds_the_squared_distance_over_the_knee(tiny_data):
    ep = load_episodes(tiny_data, "train", VAL)
    batch = gather_windows(ep, window_index(ep, 2, 3)[:4], 2, 3)
    model = Pgnd(MODEL).eval()
    knee = 0.002  # m
    with torch.no_grad():
        got = float(rollout_loss(model, batch, PgndTrainCfg(loss="distance", large_error=knee)))
        plain = float(rollout_loss(model, batch, PgndTrainCfg(loss="distance")))
    pred = model.rollout(batch["x_hist"], batch["gripper"]).detach()
    d = ((pred - batch["target"]) / MODEL.workspace).norm(dim=-1).double()
    by_hand = 100.0 * float((d + d**2 / (knee / MODEL.workspace)).mean())
    assert got == pytest.approx(by_hand, rel=1e-5)
    assert got > plain * 1.01  # the episodes move more than a few tenths of the knee somewhere
    with pytest.raises(ValueError, match="large_error"):
        PgndTrainCfg(loss="mse", large_error=0.002)
    with pytest.raises(ValueError, match="large_error"):
        PgndTrainCfg(loss="distance", large_error=-1.0)


def test_chamfer_weight_adds_the_chamfer_distance_of_every_frame(tiny_data):
    ep = load_episodes(tiny_data, "train", VAL)
    batch = gather_windows(ep, window_index(ep, 2, 3)[:4], 2, 3)
    model = Pgnd(MODEL).eval()
    with torch.no_grad():
        got = float(rollout_loss(model, batch, PgndTrainCfg(loss="distance", chamfer_weight=0.5)))
        plain = float(rollout_loss(model, batch, PgndTrainCfg(loss="distance")))
        pred = model.rollout(batch["x_hist"], batch["gripper"]) / MODEL.workspace
    true = batch["target"] / MODEL.workspace
    by_hand = 0.0  # nearest neighbours by brute force, frame by frame
    frames = zip(pred.reshape(-1, *pred.shape[-2:]).double(), true.reshape(-1, *true.shape[-2:]).double(), strict=True)
    for p, t in frames:
        d = ((p[:, None] - t[None]) ** 2).sum(-1).sqrt()
        by_hand += float(d.min(1).values.mean() + d.min(0).values.mean())
    by_hand /= pred.shape[0] * pred.shape[1]
    assert got - plain == pytest.approx(0.5 * 100.0 * by_hand, rel=1e-4)
    with pytest.raises(ValueError, match="chamfer_weight"):
        PgndTrainCfg(chamfer_weight=-1.0)


def test_resume_continues_the_same_run(tiny_data, tmp_path):
    cfg = _cfg(iterations=20, val_every=10, augment_yaw=True)
    straight = train(MODEL, cfg, tiny_data, tmp_path / "a", progress=False)
    stopped = train(MODEL, cfg, tiny_data, tmp_path / "b", progress=False, stop_after=10)  # "killed" at 10
    assert stopped is None and not (tmp_path / "b.card.json").exists()
    # resume: the checkpoint of iteration 10 is continued to 20 with the same batches
    resumed = train(MODEL, cfg, tiny_data, tmp_path / "b", resume=True, progress=False)
    _, a = load_model(straight.path)
    _, b = load_model(resumed.path)
    for (name, pa), (_, pb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert torch.allclose(pa, pb, atol=1e-6), name


def test_yaw_augmentation_is_a_rigid_rotation(tiny_data):
    ep = load_episodes(tiny_data, "all", VAL)
    batch = gather_windows(ep, window_index(ep, 2, 5)[:6], 2, 5)
    rot = random_yaw(batch, torch.Generator().manual_seed(0))

    def dist(x):  # exact pairwise distances (cdist's matrix-product shortcut loses ~1e-4 in float32)
        return torch.cdist(x, x, compute_mode="donot_use_mm_for_euclid_dist")

    assert torch.allclose(dist(rot["x_hist"][:, -1]), dist(batch["x_hist"][:, -1]), atol=1e-5)
    assert torch.allclose(rot["gripper"][..., 6:10].norm(dim=-1), torch.ones(6, 5), atol=1e-5)
    assert torch.allclose(rot["gripper"][..., 3:6].norm(dim=-1), batch["gripper"][..., 3:6].norm(dim=-1), atol=1e-5)
    assert torch.allclose(rot["target"][..., 2], batch["target"][..., 2])


def test_evaluation_reports_anchor_metrics_for_all_methods(tiny_data, tmp_path):
    card = train(MODEL, _cfg(iterations=5), tiny_data, tmp_path / "m", progress=False)
    result = evaluate([card.path], tiny_data, val_fraction=VAL, plots=tmp_path / "img" / "pgnd_tiny")
    assert set(result["methods"]) == {"m", "constant_velocity", "rest"}
    rest = result["methods"]["rest"]
    assert len(rest["mde"]["curve"]) == 30
    assert rest["mde"]["curve"][0] <= rest["mde"]["curve"][-1] + 1e-9  # error grows from the known start
    assert (tmp_path / "img" / "pgnd_tiny_error_vs_horizon.png").stat().st_size > 0
    assert (tmp_path / "img" / "pgnd_tiny_snapshots.png").stat().st_size > 0


def test_evaluation_on_every_episode_of_a_test_dataset(tiny_data, tmp_path):
    card = train(MODEL, _cfg(iterations=2, loss="distance"), tiny_data, tmp_path / "m", progress=False)
    val = evaluate([card.path], tiny_data, val_fraction=VAL)
    every = evaluate([card.path], tiny_data, val_fraction=VAL, split="all")
    assert (val["split"], every["split"]) == ("val", "all")
    assert every["episodes"] == 9 and val["episodes"] < 9


def test_corrupted_model_files_get_clear_errors(tiny_data, tmp_path):
    card = train(MODEL, _cfg(iterations=2), tiny_data, tmp_path / "m", progress=False)
    weights = tmp_path / "m.safetensors"
    weights.write_bytes(weights.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(ModelFileError, match="m.safetensors"):
        load_model(card.path)
    card.path.write_text("{broken")
    with pytest.raises(ModelFileError, match="m.card.json"):
        load_model(card.path)
    with pytest.raises(ConfigError, match="no dataset manifest"):
        load_episodes(tmp_path / "nowhere")


def test_farthest_point_sampled_particles_follow_the_same_vertices(tiny_data):
    full = load_episodes(tiny_data, "all", VAL)
    sub = load_episodes(tiny_data, "all", VAL, particles=10)
    assert sub.x.shape == (*full.x.shape[:2], 10, 3)
    # every sampled particle is one vertex of the object, the same one in every frame
    e = 0
    match = (sub.x[e, 0][:, None] - full.x[e, 0][None]).norm(dim=-1).argmin(dim=1)
    assert torch.allclose(sub.x[e], full.x[e][:, match])
    with pytest.raises(ConfigError, match="particles asked"):
        load_episodes(tiny_data, "all", VAL, particles=1000)
