import dataclasses
import io
import logging
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from vrashlib.config import (
    HISTORY_ONLY,
    LATENT_ONLY,
    VAE_ONLY,
    Config,
    ConfigError,
    ModelConfig,
    load_config,
)
from vrashlib.data.datamodule import make_loader
from vrashlib.models import KINDS
from vrashlib.models.module import (
    AtomicCheckpointIO,
    CorruptCheckpointError,
    load_model,
    lr_scale,
    read_checkpoint,
)
from vrashlib.models.training import (
    TrainResult,
    _LastCheckpoint,
    build_module,
    evaluate,
    export_weights,
    fingerprint,
    train_model,
)

torch.set_num_threads(1)
SMOKE = load_config("smoke", {"train.threads": 1})
# 28 training tracks in batches of 8: 4 batches an epoch, a resume point every 2 steps,
# so that runs stop mid-epoch (steps 2, 6) and at an epoch's end (step 4).
OVERRIDES_RESUMABLE = {
    "train.threads": 1, "train.batch_size": 8, "train.val_every_steps": 2, "train.max_steps": 8,
}  # fmt: skip
RESUMABLE = load_config("smoke", OVERRIDES_RESUMABLE)
# the constant rate the schedules are compared with (the profiles default to "plateau")
CONSTANT = load_config("smoke", {**OVERRIDES_RESUMABLE, "train.lr_schedule": "constant"})


def assert_same_run(a: TrainResult, b: TrainResult) -> None:
    """Bit-identical weights and history (all but the wall-clock columns)."""
    wa, wb = (
        read_checkpoint(a.checkpoint)["state_dict"],
        read_checkpoint(b.checkpoint)["state_dict"],
    )
    assert wa.keys() == wb.keys()
    for name in wa:
        assert torch.equal(wa[name], wb[name]), name
    clocks = ["seconds", "val_seconds"]  # wall-clock
    ha, hb = a.history.drop(columns=clocks), b.history.drop(columns=clocks)
    assert ha.equals(hb), ha.compare(hb) if ha.shape == hb.shape else (ha, hb)
    assert a.stop_reason == b.stop_reason


def crash_at(monkeypatch, step: int) -> None:
    """Make training raise right after the resume point of ``step`` was written."""
    original = _LastCheckpoint.on_validation_end

    def crash(self, trainer, module):
        original(self, trainer, module)
        if trainer.global_step == step:
            raise RuntimeError(f"simulated crash at step {step}")

    monkeypatch.setattr(_LastCheckpoint, "on_validation_end", crash)


def test_few_steps_lower_the_loss_on_a_real_batch(tiny_trackset):
    module = build_module("vrash", tiny_trackset, SMOKE)
    batch = next(iter(make_loader(tiny_trackset, 8, max_len=40, shuffle=False)))
    opt = torch.optim.Adam(module.parameters(), lr=1e-2)
    losses = []
    for _ in range(25):
        loss, _ = module.model_step(batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.7 * losses[0]


def _perturbed(cfg: Config, names) -> Config:
    """``cfg`` with each named model setting moved off its value (ints + 1, floats + 0.25)."""
    change = {n: getattr(cfg.model, n) + (1 if isinstance(getattr(cfg.model, n), int) else 0.25)
              for n in names}  # fmt: skip
    return dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, **change))


@pytest.mark.parametrize("kind", KINDS)
def test_the_fingerprint_leaves_out_exactly_the_settings_that_do_not_change_the_weights(
    kind, tiny_trackset, tmp_path
):
    """A setting the kind never reads (VRASH's history dropout for the LM, ...) must not
    make its shipped weights stale; every other setting must."""
    cfg = load_config(
        "smoke", {"train.threads": 1, "train.max_steps": 3, "train.val_every_steps": 3}
    )
    names = [f.name for f in dataclasses.fields(ModelConfig)]
    same = cfg.model.weight_settings(kind)
    ignored = [n for n in names if _perturbed(cfg, [n]).model.weight_settings(kind) == same]
    # the VAE's own code size and floor stand in for z_dim and free_bits, and it has
    # no history to drop, no bag-of-notes head and no conductor (ModelConfig.for_kind)
    vae = {*HISTORY_ONLY, "z_dim", "free_bits", "history_dropout", "bow_weight"}
    vae.add("conductor_segment")
    expected = {"lm": {*LATENT_ONLY, *VAE_ONLY}, "vae": vae, "vrash": set(VAE_ONLY)}
    assert set(ignored) == expected[kind]
    for name in set(names) - set(ignored):  # not blind to any setting the kind reads
        changed = fingerprint(kind, tiny_trackset, _perturbed(cfg, [name]))
        assert changed != fingerprint(kind, tiny_trackset, cfg), name
    other = _perturbed(cfg, ignored)
    assert fingerprint(kind, tiny_trackset, other) == fingerprint(kind, tiny_trackset, cfg)
    # ... and the settings it leaves out, all changed at once, train the same weights
    no_weights = tmp_path / "no-weights"
    a = train_model(
        kind, tiny_trackset, cfg, tmp_path / "a", progress=False, weights_root=no_weights
    )
    b = train_model(
        kind, tiny_trackset, other, tmp_path / "b", progress=False, weights_root=no_weights
    )
    assert read_checkpoint(b.checkpoint)["hparams"]["model_cfg"] != dataclasses.asdict(cfg.model)
    assert_same_run(a, b)


def test_the_learning_rate_schedule_follows_a_half_cosine_to_its_floor():
    cosine = [lr_scale("cosine", s, steps=100, final=0.05) for s in range(0, 121, 10)]
    assert cosine[0] == 1.0 and cosine[5] == pytest.approx(0.525)  # halfway: (1 + final) / 2
    assert cosine[10] == pytest.approx(0.05) and cosine[11:] == [cosine[10]] * 2  # then flat
    assert all(a > b for a, b in zip(cosine[:10], cosine[1:11], strict=True))
    assert {lr_scale("constant", s, steps=100, final=0.05) for s in (0, 50, 200)} == {1.0}
    with pytest.raises(ConfigError, match="train.lr_schedule must be one of constant, cosine"):
        load_config("smoke", {"train.lr_schedule": "linear"})
    with pytest.raises(ConfigError, match="train.lr_final must be in"):
        load_config("smoke", {"train.lr_final": 1.5})


def test_a_cosine_schedule_trains_other_weights_and_resumes_bit_identical(
    tiny_trackset, tmp_path, monkeypatch
):
    """The schedule's position travels in the resume point: a run interrupted mid-way
    ends as the uninterrupted one. With a constant rate, lr_final is not hashed (so the
    weights shipped before the schedule existed stay valid); with the cosine it is."""
    cosine = load_config("smoke", {**OVERRIDES_RESUMABLE, "train.lr_schedule": "cosine"})
    reference = train_model("vrash", tiny_trackset, cosine, tmp_path / "ref", progress=False)
    constant = train_model("vrash", tiny_trackset, CONSTANT, tmp_path / "const", progress=False)
    a, b = (read_checkpoint(r.checkpoint)["state_dict"] for r in (reference, constant))
    assert any(not torch.equal(a[k], b[k]) for k in a)
    crash_at(monkeypatch, 4)
    with pytest.raises(RuntimeError, match="simulated crash"):
        train_model("vrash", tiny_trackset, cosine, tmp_path / "crash", progress=False)
    last = AtomicCheckpointIO().load_checkpoint(tmp_path / "crash" / "last.ckpt")
    lr = last["optimizer_states"][0]["param_groups"][0]["lr"]  # after 4 of 8 steps: halfway
    assert lr == pytest.approx(cosine.train.lr * (1 + cosine.train.lr_final) / 2)
    monkeypatch.undo()
    assert_same_run(
        train_model("vrash", tiny_trackset, cosine, tmp_path / "crash", progress=False), reference
    )
    other_floor = {"train.lr_final": 0.5}
    assert fingerprint("vrash", tiny_trackset, CONSTANT) == fingerprint(
        "vrash", tiny_trackset, dataclasses.replace(
            CONSTANT, train=dataclasses.replace(CONSTANT.train, lr_final=0.5)
        ),
    )  # fmt: skip
    changed = load_config(
        "smoke", {**OVERRIDES_RESUMABLE, "train.lr_schedule": "cosine", **other_floor}
    )
    prints = {fingerprint("vrash", tiny_trackset, c) for c in (CONSTANT, cosine, changed)}
    assert len(prints) == 3


def test_the_plateau_schedule_decays_on_stalls_to_its_floor_and_resumes_bit_identical(
    tiny_trackset, tmp_path, monkeypatch
):
    """With "plateau", every `lr_patience` validations without an improvement of
    `min_improvement` multiply the rate by `lr_decay`, down to `lr * lr_final`; the rate
    travels in the resume point, and only a schedule's own settings are hashed."""
    # an improvement of 100 bits/event is never seen: every validation after the first
    # (which improves on nothing) is a stall
    plateau = load_config(
        "smoke",
        {
            **OVERRIDES_RESUMABLE, "train.lr_schedule": "plateau", "train.lr_patience": 1,
            "train.lr_decay": 0.5, "train.lr_final": 0.3, "train.min_improvement": 100.0,
            "train.patience": 0,
        },
    )  # fmt: skip
    reference = train_model("vrash", tiny_trackset, plateau, tmp_path / "ref", progress=False)
    hist = read_checkpoint(reference.checkpoint)["history"]
    rates = [row["lr"] / plateau.train.lr for row in hist if row["split"] == "val"]
    # validations at steps 2, 4, 6, 8, with the rate trained at before each: halved
    # after the second and the third (there at its floor, 0.3 not 0.25)
    assert rates == pytest.approx([1.0, 1.0, 0.5, 0.3])
    constant = train_model("vrash", tiny_trackset, CONSTANT, tmp_path / "const", progress=False)
    a, b = (read_checkpoint(r.checkpoint)["state_dict"] for r in (reference, constant))
    assert any(not torch.equal(a[k], b[k]) for k in a)
    assert "lr" not in read_checkpoint(constant.checkpoint)["history"][0]
    crash_at(monkeypatch, 4)
    with pytest.raises(RuntimeError, match="simulated crash"):
        train_model("vrash", tiny_trackset, plateau, tmp_path / "crash", progress=False)
    last = AtomicCheckpointIO().load_checkpoint(tmp_path / "crash" / "last.ckpt")
    assert last["optimizer_states"][0]["param_groups"][0]["lr"] == pytest.approx(
        plateau.train.lr * 0.5
    )
    monkeypatch.undo()
    assert_same_run(
        train_model("vrash", tiny_trackset, plateau, tmp_path / "crash", progress=False), reference
    )
    # the decay settings are hashed under "plateau" only
    cosine = load_config("smoke", {**OVERRIDES_RESUMABLE, "train.lr_schedule": "cosine"})
    for key, value in (("lr_decay", 0.3), ("lr_patience", 3)):
        for cfg, hashed in ((CONSTANT, False), (cosine, False), (plateau, True)):
            changed = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, **{key: value}))
            same = fingerprint("vrash", tiny_trackset, changed) == fingerprint(
                "vrash", tiny_trackset, cfg
            )
            assert same != hashed, (key, cfg.train.lr_schedule)
    for bad in ({"train.lr_decay": 1.0}, {"train.lr_patience": 0}):
        with pytest.raises(ConfigError, match=next(iter(bad))):
            load_config("smoke", bad)


def test_train_writes_checkpoint_and_history_and_round_trips(tiny_trackset, tmp_path):
    res = train_model("vae", tiny_trackset, SMOKE, tmp_path, progress=False)
    assert res.checkpoint == tmp_path / "model.ckpt" and res.checkpoint.exists()
    assert not (tmp_path / "last.ckpt").exists()
    hist = (tmp_path / "history.csv").read_text().splitlines()
    assert hist[0].startswith("step,epoch,split,ce_pc,ce_oct,ce_dur,ce_total")
    assert {"train", "val"} <= set(res.history["split"])
    assert res.params > 0 and res.seconds > 0
    payload = torch.load(res.checkpoint, weights_only=True)  # plain, weights-only loadable
    model = load_model(res.checkpoint)
    assert model.kind == "vae" and model.styles == ["bach", "fiddle"] and not model.training
    assert set(model.unit_seconds) == {"bach", "fiddle"}
    for k, v in model.net.state_dict().items():
        assert torch.equal(v, payload["state_dict"][k])
    a = evaluate(model, tiny_trackset.select(split="val"))
    b = evaluate(load_model(res.checkpoint), tiny_trackset.select(split="val"))
    assert a == b and a["kl_per_event"] > 0
    # a second call with the same config and data is a no-op
    again = train_model("vae", tiny_trackset, SMOKE, tmp_path, progress=False)
    assert again.cached and again.params == res.params


def test_training_beats_the_random_network(tiny_trackset, tmp_path):
    cfg = load_config("smoke", {"train.max_steps": 40, "train.val_every_steps": 10})
    res = train_model("lm", tiny_trackset, cfg, tmp_path, progress=False)
    val = tiny_trackset.select(split="val")
    trained = evaluate(load_model(res.checkpoint), val)["ce_total"]
    random = evaluate(build_module("lm", tiny_trackset, cfg), val)["ce_total"]
    assert trained < random - 1.0  # bits/event


def test_runs_interrupted_at_several_points_end_bit_identical(tiny_trackset, tmp_path, monkeypatch):
    """Issue 13: a resumed run drew other random numbers and batches than the
    uninterrupted one (14.166 against 14.087 bits/event)."""
    reference = train_model("vrash", tiny_trackset, RESUMABLE, tmp_path / "ref", progress=False)
    assert reference.stop_reason == "max_steps" and reference.history["step"].max() == 8
    for step in (2, 4, 6):  # mid-epoch, end of an epoch, mid-epoch
        out = tmp_path / f"crash{step}"
        with monkeypatch.context() as m:
            crash_at(m, step)
            with pytest.raises(RuntimeError, match="simulated crash"):
                train_model("vrash", tiny_trackset, RESUMABLE, out, progress=False)
        assert (out / "last.ckpt").exists() and not (out / "model.ckpt").exists()
        resumed = train_model("vrash", tiny_trackset, RESUMABLE, out, progress=False)
        assert_same_run(resumed, reference)
        assert not (out / "last.ckpt").exists() and not (out / "previous.ckpt").exists()
    epochs = reference.history.drop_duplicates("step").set_index("step")["epoch"]
    assert epochs.loc[[1, 4, 5, 8]].tolist() == [0, 0, 1, 1]  # 4 batches an epoch


def test_resume_points_are_wrapped_with_their_checksum_and_load_weights_only(
    tiny_trackset, tmp_path, monkeypatch
):
    crash_at(monkeypatch, 4)
    with pytest.raises(RuntimeError):
        train_model("lm", tiny_trackset, RESUMABLE, tmp_path, progress=False)
    reader = AtomicCheckpointIO()
    last = reader.load_checkpoint(tmp_path / "last.ckpt")
    previous = reader.load_checkpoint(tmp_path / "previous.ckpt")
    assert (last["global_step"], previous["global_step"]) == (4, 2)
    assert last["vrash"]["position"] == [0, 4] and previous["vrash"]["position"] == [0, 2]
    wrapped = torch.load(tmp_path / "last.ckpt", weights_only=True)
    assert wrapped["format"] == "vrash-resume/1" and len(wrapped["sha256"]) == 64


class _Exploit:
    """A pickle that runs code when unpickled (what weights_only=True must refuse)."""

    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_checkpoints_that_would_execute_code_are_refused(tmp_path):
    buffer = io.BytesIO()
    torch.save({"format": "vrash-resume/1", "payload": _Exploit()}, buffer)
    bad_resume = tmp_path / "last.ckpt"
    bad_resume.write_bytes(buffer.getvalue())
    with pytest.raises(CorruptCheckpointError, match="last.ckpt"):
        AtomicCheckpointIO().load_checkpoint(bad_resume)
    bad_model = tmp_path / "model.ckpt"
    bad_model.write_bytes(pickle.dumps({"format": "vrash-model/1", "x": _Exploit()}, protocol=2))
    with pytest.raises(CorruptCheckpointError, match="model.ckpt"):
        read_checkpoint(bad_model)


def test_stale_resume_checkpoint_is_ignored(tiny_trackset, tmp_path, caplog):
    AtomicCheckpointIO().save_checkpoint(
        {"hyper_parameters": {"fingerprint": "other"}}, tmp_path / "last.ckpt"
    )
    with caplog.at_level(logging.INFO, logger="vrashlib.models.training"):
        res = train_model("lm", tiny_trackset, SMOKE, tmp_path, progress=False)
    assert res.history["step"].min() == 1
    assert "belongs to another config or dataset; removed" in caplog.text


def test_a_model_the_clock_cut_short_is_that_caps_model_only(tiny_trackset, tmp_path, caplog):
    """train.max_minutes is not in the fingerprint (raising it keeps shipped weights
    valid), but a model it stopped is trained again under another cap, from the run
    folder and from weights/ alike; under the same cap it is up to date."""
    capped = load_config("smoke", {"train.threads": 1, "train.max_minutes": 1e-5})
    longer = load_config("smoke", {"train.threads": 1, "train.max_minutes": 5.0})
    assert fingerprint("lm", tiny_trackset, capped) == fingerprint("lm", tiny_trackset, longer)
    with caplog.at_level(logging.WARNING, logger="vrashlib.models.training"):
        cut = train_model("lm", tiny_trackset, capped, tmp_path / "run", progress=False)
    assert cut.stop_reason == "max_minutes" and cut.history["step"].max() < capped.train.max_steps
    assert "stopped by train.max_minutes=1e-05 before it converged" in caplog.text
    root = tmp_path / "weights"
    export_weights(
        "lm", tiny_trackset, capped, cut.checkpoint, dataset_hash=tiny_trackset.content_hash(),
        root=root,
    )  # fmt: skip
    again = train_model("lm", tiny_trackset, capped, tmp_path / "run", progress=False)
    assert again.source == "cached"
    for where in ("run", "other"):  # the run's model.ckpt; weights/ into another run
        with caplog.at_level(logging.WARNING, logger="vrashlib.models.weights"):
            full = train_model(
                "lm", tiny_trackset, longer, tmp_path / where, progress=False, weights_root=root
            )
        assert full.source == "trained" and full.stop_reason == "max_steps", where
    assert "train.max_minutes=1e-05 cut them short (here 5.0); training instead" in caplog.text


def test_early_stopping_stops_after_patience_validations_and_keeps_the_best(
    tiny_trackset, tmp_path
):
    # An improvement of 100 bits/event is never reached: the 1st validation sets the
    # best, the 2nd and 3rd do not improve enough, patience 2 stops at step 6 of 40.
    cfg = load_config(
        "smoke",
        {
            "train.threads": 1, "train.val_every_steps": 2, "train.max_steps": 40,
            "train.patience": 2, "train.min_improvement": 100.0,
        },
    )  # fmt: skip
    res = train_model("lm", tiny_trackset, cfg, tmp_path, progress=False)
    val = res.history[res.history["split"] == "val"]
    assert val["step"].tolist() == [2, 4, 6] and res.history["step"].max() == 6
    assert res.stop_reason == "patience" and load_model(res.checkpoint).stop_reason == "patience"
    assert read_checkpoint(res.checkpoint)["best_val_bits"] == val["bound_total"].min()
    # patience 0 turns early stopping off: the step cap stops it
    off = load_config("smoke", {"train.threads": 1, "train.patience": 0})
    res = train_model("lm", tiny_trackset, off, tmp_path / "off", progress=False)
    assert res.stop_reason == "max_steps" and res.history["step"].max() == off.train.max_steps


def test_run_stopped_by_patience_and_killed_before_saving_resumes_to_the_same_end(
    tiny_trackset, tmp_path, monkeypatch
):
    cfg = load_config(
        "smoke",
        {
            "train.threads": 1, "train.batch_size": 8, "train.val_every_steps": 2,
            "train.max_steps": 40, "train.patience": 1, "train.min_improvement": 100.0,
        },
    )  # fmt: skip
    reference = train_model("vrash", tiny_trackset, cfg, tmp_path / "ref", progress=False)
    assert reference.stop_reason == "patience" and reference.history["step"].max() == 4
    crash_at(monkeypatch, 4)  # the validation that stops it, after its resume point
    with pytest.raises(RuntimeError):
        train_model("vrash", tiny_trackset, cfg, tmp_path / "run", progress=False)
    monkeypatch.undo()
    resumed = train_model("vrash", tiny_trackset, cfg, tmp_path / "run", progress=False)
    assert_same_run(resumed, reference)


def test_unreadable_checkpoint_names_the_file(tmp_path):
    bad = tmp_path / "model.ckpt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="model.ckpt"):
        read_checkpoint(bad)
    with pytest.raises(FileNotFoundError, match="nothere"):
        load_model(tmp_path / "nothere.ckpt")


def test_training_without_validation_split_says_so(tiny_trackset, tmp_path):
    train_only = tiny_trackset.select(split="train")
    with pytest.raises(ValueError, match="no 'val' tracks"):
        train_model("lm", train_only, SMOKE, tmp_path, progress=False)


DDP_SCRIPT = """
import sys
import numpy as np
import torch
sys.path.insert(0, {tests!r})
from conftest import random_walk_tracks
from vrashlib.config import load_config
from vrashlib.data.tracks import TrackSet
from vrashlib.models.training import train_model

tracks = TrackSet.from_tracks(random_walk_tracks(24, seed=2), ("bach", "fiddle"),
                              np.arange(24) % 2, split=np.array([0] * 18 + [1] * 6, np.uint8))
cfg = load_config("smoke", {{"train.strategy": "ddp", "train.devices": 2, "train.max_steps": 3,
                            "train.val_every_steps": 2, "train.threads": 1}})
res = train_model("vrash", tracks, cfg, {out!r}, progress=False)
print("RANK_DONE", torch.distributed.get_rank() if torch.distributed.is_initialized() else -1)
"""


@pytest.mark.slow
def test_ddp_on_two_cpu_processes(tmp_path):
    script = tmp_path / "ddp.py"
    out = tmp_path / "model"
    script.write_text(
        textwrap.dedent(DDP_SCRIPT.format(tests=str(Path(__file__).parent), out=str(out)))
    )
    proc = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=180, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("RANK_DONE") == 2  # both processes finished
    model = load_model(out / "model.ckpt")
    steps = model.history[-1]["step"]
    assert model.kind == "vrash" and steps == 3
    assert np.isfinite(model.history[-1]["ce_total"])
