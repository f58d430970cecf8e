"""Fault injection for training (issue 13): crash, kill and damage runs of a tiny VRASH
(28 tracks, 8 steps, a resume point every 2 steps), and check that every run ends
with the weights and history of the uninterrupted run, or with a clear error that
names the damaged file.

The faults, 13 in all:

- 3 crashes at seeded random steps, inside a training step (an exception);
- 1 Ctrl-C (KeyboardInterrupt) inside a training step;
- 1 SIGKILL of a training subprocess while it writes ``last.ckpt`` (the real thing:
  no cleanup runs; a half-written temporary file is left behind);
- ``last.ckpt`` truncated, emptied, one byte flipped (3), and both resume points
  truncated (1): set aside as ``*.corrupt``, training falls back to
  ``previous.ckpt`` or to the start;
- ``model.ckpt`` truncated (1): set aside, the model is trained again;
- the shipped ``model.safetensors`` truncated, one byte flipped, and its manifest
  truncated (3): refused with the file named, and ``train_model`` trains instead.

Each test counts its faults as injected / survived / data lost (a run whose final
weights or history differ from the reference, or a fault not reported); every
test asserts survived == injected and lost == 0 and prints its count (``pytest -rP``).
Last count: 13 injected, 13 survived, 0 data lost.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from vrashlib import paths
from vrashlib.config import load_config
from vrashlib.data.tracks import TrackSet
from vrashlib.models.module import CorruptCheckpointError, MelodyModule, read_checkpoint
from vrashlib.models.training import TrainResult, _LastCheckpoint, export_weights, train_model
from vrashlib.models.weights import find_shipped, load_shipped

torch.set_num_threads(1)
CFG = load_config(
    "smoke",
    {"train.threads": 1, "train.batch_size": 8, "train.val_every_steps": 2, "train.max_steps": 8},
)
KIND = "vrash"  # both random streams (dropout, the posterior's noise) are exercised
FAULT_SEED = 2024


def make_tracks() -> TrackSet:
    from tests.conftest import walk_trackset

    return walk_trackset(40, seed=1)


@pytest.fixture(scope="module")
def tracks() -> TrackSet:
    return make_tracks()


@pytest.fixture(scope="module")
def reference(tracks, tmp_path_factory) -> TrainResult:
    """The uninterrupted run every faulty run must end like."""
    return train_model(KIND, tracks, CFG, tmp_path_factory.mktemp("reference"), progress=False)


@pytest.fixture(scope="module")
def crashed_at_6(tracks, tmp_path_factory) -> Path:
    """A run that crashed after the resume point of step 6 (last.ckpt: 6, previous: 4)."""
    out = tmp_path_factory.mktemp("crashed")
    original = _LastCheckpoint.on_validation_end

    def crash(self, trainer, module):
        original(self, trainer, module)
        if trainer.global_step == 6:
            raise RuntimeError("crash at step 6")

    _LastCheckpoint.on_validation_end = crash
    try:
        with pytest.raises(RuntimeError, match="crash at step 6"):
            train_model(KIND, tracks, CFG, out, progress=False)
    finally:
        _LastCheckpoint.on_validation_end = original
    return out


class Ledger:
    """Faults injected, survived (clean end or clear error) and runs that lost data."""

    def __init__(self) -> None:
        self.injected = self.survived = self.lost = 0

    def fault(self, survived: bool, lost: bool = False) -> None:
        self.injected += 1
        self.survived += int(survived)
        self.lost += int(lost)

    def check(self, what: str) -> None:
        line = f"{what}: {self.injected} faults injected, {self.survived} survived, {self.lost} data lost"
        print(line)
        assert self.survived == self.injected and self.lost == 0, line


def same_as(result: TrainResult, reference: TrainResult) -> bool:
    """Bit-identical final weights and history (but for the wall-clock columns)."""
    a, b = read_checkpoint(result.checkpoint), read_checkpoint(reference.checkpoint)
    weights = a["state_dict"].keys() == b["state_dict"].keys() and all(
        torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"]
    )
    drop = ["seconds", "val_seconds"]  # wall-clock
    return weights and result.history.drop(columns=drop).equals(
        reference.history.drop(columns=drop)
    )


def test_crashes_at_random_steps_resume_to_the_same_weights(
    tracks, reference, tmp_path, monkeypatch
):
    ledger = Ledger()
    steps = sorted(np.random.default_rng(FAULT_SEED).choice(np.arange(1, 8), 3, replace=False))
    original = MelodyModule.training_step
    for step in steps:
        out = tmp_path / f"step{step}"

        def crash(self, batch, batch_idx, step=int(step)):
            loss = original(self, batch, batch_idx)
            if self.global_step == step:  # after the forward pass of step + 1, before its update
                raise RuntimeError(f"killed at step {step}")
            return loss

        with monkeypatch.context() as m:
            m.setattr(MelodyModule, "training_step", crash)
            with pytest.raises(RuntimeError, match="killed at step"):
                train_model(KIND, tracks, CFG, out, progress=False)
        resumed = train_model(KIND, tracks, CFG, out, progress=False)
        ledger.fault(
            survived=resumed.stop_reason == "max_steps", lost=not same_as(resumed, reference)
        )
    ledger.check(f"crashes at steps {[int(s) for s in steps]}")


def test_ctrl_c_resumes_to_the_same_weights_and_ctrl_c_keeps_working(
    tracks, reference, tmp_path, monkeypatch
):
    ledger = Ledger()
    original = MelodyModule.training_step

    def interrupt(self, batch, batch_idx):
        if self.global_step == 5:
            raise KeyboardInterrupt  # what Ctrl-C raises in the training loop
        return original(self, batch, batch_idx)

    handler = signal.getsignal(signal.SIGINT)
    with monkeypatch.context() as m:
        m.setattr(MelodyModule, "training_step", interrupt)
        with pytest.raises(KeyboardInterrupt, match="run it again to resume"):
            train_model(KIND, tracks, CFG, tmp_path, progress=False)
    restored = signal.getsignal(signal.SIGINT) is handler  # Lightning had set SIG_IGN
    resumed = train_model(KIND, tracks, CFG, tmp_path, progress=False)
    ledger.fault(survived=restored, lost=not same_as(resumed, reference))
    ledger.check("Ctrl-C at step 5")


KILL_SCRIPT = """
import os, signal, sys
sys.path.insert(0, {root!r})
from tests.test_faults_training import CFG, KIND, make_tracks
from vrashlib.models.training import train_model

real_replace, writes = os.replace, []

def replace(src, dst):  # the atomic rename of the 3rd last.ckpt (step 6): killed before it
    if str(dst).endswith("last.ckpt"):
        writes.append(dst)
        if len(writes) == 3:
            os.kill(os.getpid(), signal.SIGKILL)
    real_replace(src, dst)

os.replace = replace
train_model(KIND, make_tracks(), CFG, {out!r}, progress=False)
"""


def test_sigkill_while_writing_last_ckpt_resumes_to_the_same_weights(tracks, reference, tmp_path):
    ledger = Ledger()
    out = tmp_path / "run"
    script = textwrap.dedent(KILL_SCRIPT.format(root=str(paths.ROOT), out=str(out)))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, env=env
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]
    left = sorted(p.name for p in out.iterdir())
    assert "previous.ckpt" in left and "last.ckpt" not in left and "model.ckpt" not in left
    assert any(name.startswith(".last.ckpt.") for name in left), left  # the unfinished write
    resumed = train_model(KIND, tracks, CFG, out, progress=False)
    ledger.fault(survived=True, lost=not same_as(resumed, reference))
    ledger.check("SIGKILL during a checkpoint write")


def _flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


DAMAGE = {
    "truncated": lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]),
    "empty": lambda p: p.write_bytes(b""),
    "flipped": _flip_byte,
}


def test_damaged_resume_points_are_set_aside_and_training_falls_back(
    tracks, reference, crashed_at_6, tmp_path, caplog
):
    ledger = Ledger()
    cases = [(name, ("last.ckpt",)) for name in DAMAGE] + [
        ("truncated", ("last.ckpt", "previous.ckpt"))
    ]
    for damage, files in cases:
        out = tmp_path / f"{damage}{len(files)}"
        shutil.copytree(crashed_at_6, out)
        for name in files:
            DAMAGE[damage](out / name)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="vrashlib.models.training"):
            resumed = train_model(KIND, tracks, CFG, out, progress=False)
        then = "training from the start" if len(files) == 2 else "resuming from previous.ckpt"
        reported = (
            all(
                f"{out / name} is damaged" in caplog.text and (out / f"{name}.corrupt").exists()
                for name in files
            )
            and then in caplog.text
        )
        ledger.fault(survived=reported, lost=not same_as(resumed, reference))
    ledger.check("damaged resume points")


def test_damaged_model_ckpt_is_set_aside_and_trained_again(tracks, reference, tmp_path, caplog):
    ledger = Ledger()
    shutil.copy(reference.checkpoint, tmp_path / "model.ckpt")
    DAMAGE["truncated"](tmp_path / "model.ckpt")
    with pytest.raises(CorruptCheckpointError, match="model.ckpt is damaged"):
        read_checkpoint(tmp_path / "model.ckpt")  # what `vrash generate` reports
    with caplog.at_level(logging.WARNING, logger="vrashlib.models.training"):
        res = train_model(KIND, tracks, CFG, tmp_path, progress=False)
    reported = "model.ckpt is damaged" in caplog.text and "training the model again" in caplog.text
    ledger.fault(
        survived=reported
        and (tmp_path / "model.ckpt.corrupt").exists()
        and res.source == "trained",
        lost=not same_as(res, reference),
    )
    ledger.check("damaged model.ckpt")


def test_damaged_shipped_weights_are_refused_by_name_and_trained_instead(
    tracks, reference, tmp_path, caplog
):
    ledger = Ledger()
    kwargs = {"dataset_hash": tracks.content_hash()}
    for damage in ("truncated", "flipped"):
        root = tmp_path / f"weights_{damage}"
        dest = export_weights(KIND, tracks, CFG, reference.checkpoint, root=root, **kwargs)
        DAMAGE[damage](dest / "model.safetensors")
        with pytest.raises(CorruptCheckpointError, match="model.safetensors is damaged"):
            load_shipped(dest)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="vrashlib.models.training"):
            res = train_model(
                KIND, tracks, CFG, tmp_path / damage, progress=False, weights_root=root
            )
        reported = "shipped weights not used" in caplog.text and "model.safetensors" in caplog.text
        ledger.fault(
            survived=reported and res.source == "trained", lost=not same_as(res, reference)
        )
    root = tmp_path / "weights_manifest"
    dest = export_weights(KIND, tracks, CFG, reference.checkpoint, root=root, **kwargs)
    DAMAGE["truncated"](dest / "manifest.json")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="vrashlib.models.weights"):
        found = find_shipped(
            KIND, CFG, read_checkpoint(reference.checkpoint)["hparams"]["fingerprint"], root
        )
    ledger.fault(survived=found is None and "manifest.json is damaged" in caplog.text)
    ledger.check("damaged shipped weights")
