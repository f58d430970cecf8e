"""Several models trained at once (vrashlib.models.parallel): one process and one thread
each, with the same weights as training them one after another."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

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


# a parent that starts one training worker as _train_in_processes does (its initializer),
# prints the worker's pid, and waits; the test kills it outright
_PARENT = """
import multiprocessing, os, time
from concurrent.futures import ProcessPoolExecutor
from vrashlib.models import parallel
if __name__ == "__main__":
    ctx = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(1, mp_context=ctx, initializer=parallel._start_child,
                               initargs=(ctx.Queue(),))
    print(pool.submit(os.getpid).result(), flush=True)
    pool.submit(time.sleep, 120)  # a long training run
    time.sleep(120)
"""


def _running(pid: int) -> bool:
    """Is ``pid`` alive (not gone, not a zombie that no one has reaped yet)?"""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
def test_a_worker_ends_when_its_parent_is_killed(tmp_path):
    script = tmp_path / "parent.py"
    script.write_text(_PARENT)
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    worker = -1
    try:
        worker = int(parent.stdout.readline())
        assert _running(worker)
        time.sleep(1.5)
        assert _running(worker)  # the watch does not end a worker whose parent lives
        os.kill(parent.pid, signal.SIGKILL)  # no chance to stop its workers
        parent.wait(timeout=10)
        deadline = time.monotonic() + 15
        while _running(worker) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _running(worker), "the orphaned worker is still running"
    finally:
        parent.kill()
        if worker > 0 and _running(worker):
            os.kill(worker, signal.SIGKILL)


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
