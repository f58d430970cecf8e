"""Several models trained at once (vrashlib.models.parallel): one process and one thread
each, with the same weights as training them one after another."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from tests.conftest import random_walk_tracks, walk_trackset
from vrashlib.config import HARDWARE_FIELDS, load_config
from vrashlib.data.tracks import TrackSet
from vrashlib.models.module import read_checkpoint
from vrashlib.models.parallel import Job, one_thread, train_models
from vrashlib.models.training import fingerprint, train_model

# one thread in both paths: at the smoke profile's widths (16) torch computes some matrix
# products with code whose sums depend on the thread count (the paper's widths do not:
# the last test)
CFG = load_config("smoke", {"train.max_steps": 6, "train.val_every_steps": 3, "train.threads": 1})


@pytest.fixture(scope="module")
def tracks() -> TrackSet:
    return walk_trackset(40, seed=2)


def _same_weights(a, b) -> None:
    sa, sb = read_checkpoint(a)["state_dict"], read_checkpoint(b)["state_dict"]
    assert sa.keys() == sb.keys()
    for key in sa:
        assert torch.equal(sa[key], sb[key]), key


def _without_time(history):
    return history.drop(columns=[c for c in history.columns if "second" in c])


def test_models_trained_at_once_in_processes_equal_those_trained_in_this_process(tracks, tmp_path):
    kinds = ("lm", "vrash")
    serial = train_models(
        {k: Job(k, CFG, tmp_path / "serial" / k) for k in kinds}, tracks,
        parallel=1, progress=False,
    )  # fmt: skip
    at_once = train_models(
        {k: Job(k, CFG, tmp_path / "at_once" / k) for k in kinds}, tracks,
        parallel=2, progress=False,
    )  # fmt: skip
    assert list(at_once) == list(kinds)
    for k in kinds:
        assert serial[k].source == at_once[k].source == "trained"
        _same_weights(serial[k].checkpoint, at_once[k].checkpoint)
        assert _without_time(serial[k].history).equals(_without_time(at_once[k].history))
        assert at_once[k].stop_reason == "max_steps"
    # a second call trains nothing: both are up to date
    again = train_models(
        {k: Job(k, CFG, tmp_path / "at_once" / k) for k in kinds}, tracks, parallel=2
    )
    assert {r.source for r in again.values()} == {"cached"}


def test_a_failing_model_is_named_and_the_others_are_stopped(tracks, tmp_path):
    bad = dataclasses.replace(CFG, train=dataclasses.replace(CFG.train, precision="no-such"))
    jobs = {"good": Job("lm", CFG, tmp_path / "good"), "broken": Job("lm", bad, tmp_path / "b")}
    with pytest.raises(RuntimeError, match="training broken failed"):
        train_models(jobs, tracks, parallel=2, progress=False)


def test_the_number_of_processes_and_threads_is_not_part_of_a_model():
    assert {"threads", "parallel"} <= set(HARDWARE_FIELDS)
    t = load_config("smoke", {"train.parallel": 1, "train.threads": 2})
    assert one_thread(t).train.threads == 1
    tracks = TrackSet.from_tracks(
        random_walk_tracks(4), ("bach",), np.zeros(4, int), split=np.zeros(4, np.uint8),
        ids=[f"w{i}" for i in range(4)],
    )  # fmt: skip
    other = load_config("smoke", {"train.parallel": 3, "train.threads": 1})
    assert fingerprint("lm", tracks, t) == fingerprint("lm", tracks, other)
    steps = load_config("smoke", {"train.max_steps": 99})
    assert fingerprint("lm", tracks, t) != fingerprint("lm", tracks, steps)  # not blind


def test_paper_size_steps_give_the_same_weights_on_one_thread_and_on_two(tmp_path):
    # the claim train.parallel rests on, at the paper's model size (hidden 256, depth 3,
    # batch 128): MKL's strict mode and our reductions do not depend on the thread count
    paper = load_config("paper", {"train.max_steps": 2, "train.val_every_steps": 2})
    walks = walk_trackset(160, seed=3, min_len=100, max_len=256)
    out = {}
    for threads in (1, 2):
        cfg = dataclasses.replace(paper, train=dataclasses.replace(paper.train, threads=threads))
        res = train_model("vrash", walks, cfg, tmp_path / f"t{threads}", progress=False)
        out[threads] = res
    _same_weights(out[1].checkpoint, out[2].checkpoint)
