import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from vrashlib.config import load_config
from vrashlib.data.datamodule import make_loader
from vrashlib.models.module import load_model, read_checkpoint
from vrashlib.models.training import _LastCheckpoint, build_module, evaluate, train_model

torch.set_num_threads(1)
SMOKE = load_config("smoke", {"train.threads": 1})


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


def test_interrupted_run_resumes_from_last_checkpoint(tiny_trackset, tmp_path, monkeypatch):
    original = _LastCheckpoint.on_validation_end

    def crash_after_step_4(self, trainer, module):
        original(self, trainer, module)
        if trainer.global_step == 4:
            raise RuntimeError("simulated crash")

    monkeypatch.setattr(_LastCheckpoint, "on_validation_end", crash_after_step_4)
    with pytest.raises(RuntimeError, match="simulated crash"):
        train_model("lm", tiny_trackset, SMOKE, tmp_path, progress=False)
    assert (tmp_path / "last.ckpt").exists() and not (tmp_path / "model.ckpt").exists()
    monkeypatch.setattr(_LastCheckpoint, "on_validation_end", original)
    res = train_model("lm", tiny_trackset, SMOKE, tmp_path, progress=False)
    steps = res.history[res.history["split"] == "train"]["step"].tolist()
    assert steps == sorted(set(steps)) and max(steps) == SMOKE.train.max_steps
    assert res.history[res.history["split"] == "val"]["step"].tolist() == [4, 8]


def test_stale_resume_checkpoint_is_ignored(tiny_trackset, tmp_path):
    (tmp_path / "last.ckpt").write_bytes(b"")
    torch.save({"hyper_parameters": {"fingerprint": "other"}}, tmp_path / "last.ckpt")
    res = train_model("lm", tiny_trackset, SMOKE, tmp_path, progress=False)
    assert res.history["step"].min() == 1


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
