"""Shipped weights (issue 10): safetensors + a JSON manifest, used by ``train_model``
when the manifest's fingerprint matches, and checked against what evaluating them gives."""

from __future__ import annotations

import dataclasses
import logging
import pickle

import pytest
import torch

from vrashlib import paths
from vrashlib.analysis.seeds import shipped_seeds
from vrashlib.config import PROFILES, ModelConfig, TrainConfig, load_config
from vrashlib.models import KINDS
from vrashlib.models.module import read_checkpoint
from vrashlib.models.network import count_parameters
from vrashlib.models.training import (
    RETRAIN_ENV,
    TRAINING_REVISION,
    evaluate,
    export_weights,
    train_model,
)
from vrashlib.models.weights import (
    PROBE_EVENTS,
    _difference,
    find_shipped,
    load_shipped,
    probe_bits,
    read_manifest,
)

torch.set_num_threads(1)
CFG = load_config("smoke", {"train.threads": 1})
MB = 1024 * 1024


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    """A smoke VRASH trained once, exported to a temporary weights folder."""
    from tests.conftest import walk_trackset

    tracks = walk_trackset(40, seed=1)
    base = tmp_path_factory.mktemp("weights")
    res = train_model("vrash", tracks, CFG, base / "run", progress=False)
    root = base / "weights"
    dest = export_weights(
        "vrash", tracks, CFG, res.checkpoint, dataset_hash=tracks.content_hash(), root=root
    )
    return tracks, res, root, dest


def test_export_writes_safetensors_and_a_manifest_that_evaluation_confirms(shipped):
    tracks, res, root, dest = shipped
    assert dest == paths.shipped_dir("smoke", 0, "vrash", root)
    assert sorted(p.name for p in dest.iterdir()) == ["manifest.json", "model.safetensors"]
    manifest = read_manifest(dest)
    payload = read_checkpoint(res.checkpoint)
    assert manifest["fingerprint"] == payload["hparams"]["fingerprint"]
    assert manifest["dataset_hash"] == tracks.content_hash()
    assert manifest["training_revision"] == TRAINING_REVISION and manifest["seed"] == 0
    assert manifest["stop_reason"] == "max_steps" and manifest["steps"] == CFG.train.max_steps
    assert manifest["history"] == payload["history"]  # Fig. 4's curves travel with the weights
    module, _ = load_shipped(dest)
    for name, value in payload["state_dict"].items():
        assert torch.equal(module.net.state_dict()[name], value), name
    assert manifest["params"] == count_parameters(module.net) == res.params
    # the manifest's metrics are what evaluating the shipped weights gives
    scores = evaluate(module, tracks.select(split="val"), manifest["metrics"]["batch_size"])
    for key in ("ce_pc", "ce_oct", "ce_dur", "ce_total", "kl_per_event", "bound_total"):
        assert scores[key] == pytest.approx(manifest["metrics"][key], abs=1e-9), key
    probe = manifest["probe"]
    assert len(probe["events"]) == 4 and all(len(ev) <= PROBE_EVENTS for ev in probe["events"])
    assert probe_bits(module, probe) == pytest.approx(probe["bound_total"], abs=1e-9)
    assert manifest["best_val_bits"] == pytest.approx(
        res.history.query("split == 'val'")["bound_total"].min()
    )


def test_loading_shipped_weights_unpickles_nothing(shipped, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("something was unpickled")

    for module, name in ((pickle, "load"), (pickle, "loads"), (torch, "load")):
        monkeypatch.setattr(module, name, refuse)
    model, manifest = load_shipped(shipped[3])
    assert model.kind == "vrash" and manifest["dtype"] == "float32"


def test_train_model_uses_matching_shipped_weights_and_says_so(shipped, tmp_path, caplog):
    tracks, res, root, dest = shipped
    with caplog.at_level(logging.INFO, logger="vrashlib.models.training"):
        used = train_model("vrash", tracks, CFG, tmp_path, progress=False, weights_root=root)
    assert used.source == "shipped" and used.cached and used.stop_reason == "max_steps"
    assert f"using shipped weights {dest}" in caplog.text
    assert not (tmp_path / paths.RESUME_FILE).exists()  # nothing was trained
    a, b = read_checkpoint(used.checkpoint), read_checkpoint(res.checkpoint)
    assert all(torch.equal(a["state_dict"][k], v) for k, v in b["state_dict"].items())
    assert used.history.equals(res.history) and used.seconds == res.seconds
    assert (tmp_path / paths.HISTORY_FILE).read_text() == (
        res.checkpoint.parent / paths.HISTORY_FILE
    ).read_text()
    again = train_model("vrash", tracks, CFG, tmp_path, progress=False, weights_root=root)
    assert again.source == "cached"


def test_models_that_are_never_shipped_do_not_look_for_shipped_weights(shipped, tmp_path, caplog):
    """The ablation's variants (``shipped=False``) neither use nor warn about the
    shipped models, whose settings differ from theirs by design."""
    from vrashlib.models.training import ready_model

    tracks, _, root, _ = shipped
    assert ready_model("vrash", tracks, CFG, tmp_path / "a", weights_root=root) is not None
    other = load_config("smoke", {"train.threads": 1, "train.lr": 1e-3})
    caplog.clear()
    with caplog.at_level(logging.INFO):
        for cfg in (CFG, other):
            assert (
                ready_model("vrash", tracks, cfg, tmp_path / "b", weights_root=root, shipped=False)
                is None
            )
    assert "shipped" not in caplog.text


def test_other_config_force_and_retrain_request_train_instead(
    shipped, tmp_path, monkeypatch, caplog
):
    tracks, res, root, dest = shipped
    other = load_config("smoke", {"train.threads": 1, "train.lr": 1e-3})
    with caplog.at_level(logging.INFO, logger="vrashlib.models.weights"):
        trained = train_model(
            "vrash", tracks, other, tmp_path / "other", progress=False, weights_root=root
        )
    assert (
        trained.source == "trained"
        and "trained with other settings: train.lr=0.002 (here 0.001)" in caplog.text
    )
    # a manifest from before the schedule existed was trained with a constant rate
    manifest = read_manifest(dest)
    for key in ("lr_schedule", "lr_final"):
        del manifest["hparams"]["train_cfg"][key]
    cosine = load_config("smoke", {"train.lr_schedule": "cosine"})
    assert _difference(manifest, cosine, None, None) == (
        "other settings: train.lr_schedule='constant' (here 'cosine')"
    )
    # ... and one from before the conductor existed had none
    del manifest["hparams"]["model_cfg"]["conductor_segment"]
    conducted = load_config(
        "smoke", {"model.conductor_segment": 16, "train.lr_schedule": "constant"}
    )
    assert _difference(manifest, conducted, None, None) == (
        "other settings: model.conductor_segment=0 (here 16)"
    )
    forced = train_model(
        "vrash", tracks, CFG, tmp_path / "force", progress=False, force=True, weights_root=root
    )
    assert forced.source == "trained"
    monkeypatch.setenv(RETRAIN_ENV, "1")
    env = train_model("vrash", tracks, CFG, tmp_path / "env", progress=False, weights_root=root)
    assert env.source == "trained"
    # trained from scratch, the same seed gives the shipped weights back
    a, b = read_checkpoint(env.checkpoint), read_checkpoint(res.checkpoint)
    assert all(torch.equal(a["state_dict"][k], v) for k, v in b["state_dict"].items())


def test_export_refuses_a_model_of_another_config_or_kind(shipped, tmp_path):
    tracks, res, _, _ = shipped
    other = load_config("smoke", {"train.threads": 1, "train.lr": 1e-3})
    with pytest.raises(ValueError, match="not trained as vrash with this config"):
        export_weights("vrash", tracks, other, res.checkpoint, dataset_hash="x", root=tmp_path)
    with pytest.raises(ValueError, match="not trained as lm"):
        export_weights("lm", tracks, CFG, res.checkpoint, dataset_hash="x", root=tmp_path)
    assert find_shipped("vrash", CFG, "0" * 16, tmp_path) is None  # none there


def test_shipped_weights_of_another_dataset_are_named_with_the_reason(shipped, caplog):
    _, _, root, dest = shipped
    with caplog.at_level(logging.WARNING, logger="vrashlib.models.weights"):
        found = find_shipped(
            "vrash", CFG, "0" * 16, root, dataset_hash="f" * 64, revision=TRAINING_REVISION
        )
    assert found is None and f"shipped weights at {dest} not used" in caplog.text
    assert "another dataset (content hash" in caplog.text and "music21 version" in caplog.text


# ------------------------------------------------- the committed weights/ folder
SHIPPED_KINDS = [k for k in KINDS if (paths.shipped_dir("paper", 0, k) / "manifest.json").exists()]
# every profile's shipped training seeds (the paper profile's seed 0 always, when shipped
# at all, and the claims ledger's extra seeds)
SHIPPED = sorted(
    {("paper", 0)}
    | {(name, seed) for name in PROFILES for seed in shipped_seeds(load_config(name))}
)


@pytest.mark.parametrize(("profile", "seed"), SHIPPED)
@pytest.mark.parametrize("kind", KINDS)
def test_committed_weights_match_their_manifest_and_their_profile(kind, profile, seed):
    config = load_config(profile)
    folder = paths.shipped_dir(profile, seed, kind)
    if not (folder / "manifest.json").exists():
        if (profile, seed) == ("paper", 0):
            pytest.skip(
                f"no shipped weights at {folder} yet: `make figures RETRAIN=1`, `make weights`"
            )
        pytest.fail(f"training seed {seed} is shipped without its {kind} model ({folder})")
    model, manifest = load_shipped(folder)  # the SHA-256 of the file is checked here
    assert manifest["kind"] == kind and manifest["params"] == count_parameters(model.net)
    assert manifest["seed"] == seed
    # the probe: bits/event on a few validation tracks stored in the manifest (milliseconds)
    assert probe_bits(model, manifest["probe"]) == pytest.approx(
        manifest["probe"]["bound_total"], abs=1e-4
    )
    # stale weights would make `make figures` train for most of an hour, and a stale extra
    # seed would be left out of the claims ledger
    hp = manifest["hparams"]
    assert manifest["training_revision"] == TRAINING_REVISION
    # the settings this kind reads (what the fingerprint hashes) are the profile's
    model_cfg = ModelConfig(**hp["model_cfg"])
    assert model_cfg.weight_settings(kind) == config.model.weight_settings(kind)
    # (a manifest from before lr_schedule existed was trained with a constant rate)
    train_then = TrainConfig(**{"lr_schedule": "constant", **hp["train_cfg"]})
    train = dataclasses.replace(config.train, seed=seed)
    assert train_then.weight_settings() == train.weight_settings()
    assert manifest["stop_reason"] in ("patience", "max_steps")


def test_committed_weights_fit_the_size_budget():
    if not SHIPPED_KINDS:
        pytest.skip(f"no shipped weights under {paths.WEIGHTS} yet")
    seed0 = sum(
        f.stat().st_size for k in SHIPPED_KINDS for f in paths.shipped_dir("paper", 0, k).iterdir()
    )
    everything = sum(f.stat().st_size for f in paths.WEIGHTS.rglob("*") if f.is_file())
    assert seed0 <= 15 * MB, f"seed 0's models take {seed0 / MB:.1f} MB"
    assert everything <= 40 * MB, f"weights/ takes {everything / MB:.1f} MB"
