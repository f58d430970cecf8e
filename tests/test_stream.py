"""The pseudo-live stream, with a fake model/sampler and a fake filter (same interfaces)."""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
import symusic
import torch

from tests.conftest import random_walk_tracks
from vrashlib.config import load_config
from vrashlib.data.encoding import DUR_ONE, DURATION_RATIOS, durations_in_units, midi_pitch
from vrashlib.data.tracks import TrackSet
from vrashlib.sampling.audio import read_midi_notes
from vrashlib.stream import live as st
from vrashlib.stream.dedup import RepeatGuard, corpus_ngram_index, ngram_hashes, note_tokens
from vrashlib.stream.playlist import write_segments_midi

torch.set_num_threads(2)

# The stream's settings come from the config (the functions have no defaults of their own).
SMOKE = load_config("smoke")
SETTINGS = dict(
    temperature=SMOKE.generate.temperature,
    ngram=SMOKE.stream.ngram,
    max_similarity=SMOKE.stream.max_similarity,
    copy_run=SMOKE.stream.copy_run,
    threads=SMOKE.stream.threads,
    patience=SMOKE.stream.patience,
)
GUARD = dict(ngram=5, max_similarity=0.5, copy_run=16)  # what the tests below assume


class FakeModel:
    """A 'model' that draws melodies from a small pool, so repeats really happen."""

    def __init__(self, pool: list[np.ndarray]):
        self.pool = pool
        self.calls = 0
        self.threads_seen: list[int] = []


def fake_sample(model, n, style, *, max_len, temperature=1.0, seed=0, batch_size=64, z=None):
    """Same signature as ``vrashlib.sampling.generate.sample``."""
    model.calls += 1
    model.threads_seen.append(torch.get_num_threads())
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(model.pool), n)
    tracks = [model.pool[i][:max_len] for i in picks]
    return TrackSet.from_tracks(
        tracks,
        (style,),
        np.zeros(n, int),
        unit_seconds=np.full(n, 0.25),
        ids=[f"fake/{style}/{seed % 1000:03d}-{i}" for i in picks],
    )


class FakeFilter:
    """Accepts melodies whose first pitch class is even; score = mean pitch class."""

    def __init__(self, reject_all: bool = False):
        self.reject_all = reject_all
        self.batches: list[TrackSet] = []

    def accept(self, tracks: TrackSet) -> np.ndarray:
        self.batches.append(tracks)
        first = np.array([t[0, 0] for t in tracks])
        return np.zeros(len(tracks), bool) if self.reject_all else first % 2 == 0

    def score(self, tracks: TrackSet) -> np.ndarray:
        return np.array([t[:, 0].mean() for t in tracks], float)


@pytest.fixture
def pool() -> list[np.ndarray]:
    walks = random_walk_tracks(60, seed=5, min_len=30, max_len=60)
    near = walks[0].copy()
    near[10, 2] = DUR_ONE + 12 if near[10, 2] != DUR_ONE + 12 else DUR_ONE  # one changed note
    empty = [np.zeros((0, 3), np.int16)] * 6
    return [*walks, near, *empty]  # plus a near-copy of walks[0] and empty melodies


def jaccard(a: np.ndarray, b: np.ndarray, n: int = 5) -> float:
    x, y = (
        set(ngram_hashes(note_tokens(a), n).tolist()),
        set(ngram_hashes(note_tokens(b), n).tolist()),
    )
    return len(x & y) / len(x | y)


def take(model, filt, **kw):
    kw = {**SETTINGS, "batch_size": 8, "max_len": 64, "seed": 0, "sampler": fake_sample, **kw}
    return list(st.stream_melodies(model, filt, "bach", **kw))


def test_stream_never_yields_rejected_repeated_or_copied_melodies(pool):
    training = TrackSet.from_tracks(pool[1:31], ("bach",), np.zeros(30, int))
    model, filt = FakeModel(pool), FakeFilter()
    items = take(model, filt, training_tracks=training, max_music_seconds=120.0)
    assert len(items) >= 5
    last = items[-1]
    assert last.n_rejected_filter > 0 and last.n_rejected_repeat > 0 and last.n_rejected_copy > 0
    assert last.n_rejected_empty > 0
    assert all(
        len(b.lengths) and b.lengths.min() > 0 for b in filt.batches
    )  # no empty melody shown
    played = TrackSet.from_tracks([it.events for it in items], ("bach",), np.zeros(len(items), int))
    assert filt.accept(played).all()
    for a, b in itertools.combinations(items, 2):
        assert jaccard(a.events, b.events) <= 0.5
    index = corpus_ngram_index(training, 16)
    for it in items:
        assert not np.isin(ngram_hashes(note_tokens(it.events), 16), index).any()
        assert it.score == pytest.approx(it.events[:, 0].mean())
    # counters add up: every examined melody was played or rejected for one reason
    assert last.n_generated == len(items) + sum(
        getattr(last, f"n_rejected_{r}") for r in ("filter", "repeat", "copy", "empty")
    )


def test_stream_stops_at_the_music_limit_and_times_are_cumulative(pool):
    items = take(FakeModel(pool), FakeFilter(), max_music_seconds=30.0)
    music = np.array([it.music_seconds for it in items])
    assert music[-1] >= 30.0 > music[-2]
    seconds = [float(durations_in_units(it.events).sum() * 0.25) for it in items]
    assert np.allclose(np.cumsum(seconds), music)
    assert np.all(np.diff([it.wall_seconds for it in items]) >= 0)
    assert [it.index for it in items] == list(range(len(items)))


def test_stream_stops_when_the_consumer_stops_and_restores_threads(pool):
    model = FakeModel(pool)
    before = torch.get_num_threads()
    gen = st.stream_melodies(
        model,
        FakeFilter(),
        "bach",
        **{**SETTINGS, "threads": 1},
        batch_size=4,
        max_len=64,
        seed=0,
        sampler=fake_sample,
    )
    first = next(gen)
    assert model.threads_seen == [1]  # generation runs on one thread
    gen.close()
    assert torch.get_num_threads() == before
    calls = model.calls
    with pytest.raises(StopIteration):
        next(gen)
    assert model.calls == calls and first.index == 0
    assert take(FakeModel(pool), FakeFilter(), max_wall_seconds=0.0) == []


def test_stream_is_deterministic_under_a_seed(pool):
    a = [it.track_id for it in take(FakeModel(pool), FakeFilter(), max_music_seconds=60.0, seed=3)]
    b = [it.track_id for it in take(FakeModel(pool), FakeFilter(), max_music_seconds=60.0, seed=3)]
    c = [it.track_id for it in take(FakeModel(pool), FakeFilter(), max_music_seconds=60.0, seed=4)]
    assert a == b and a != c


def test_stream_gives_up_when_the_filter_rejects_everything(pool):
    from collections import Counter

    counts = Counter()
    with pytest.warns(RuntimeWarning, match="no melody accepted in 3 batches"):
        items = take(FakeModel(pool), FakeFilter(reject_all=True), patience=3, counts=counts)
    assert items == []
    assert counts["generated"] > 0 and counts["filter"] + counts["empty"] == counts["generated"]


def test_empty_stream_is_reported_not_fatal(pool, tmp_path):
    from vrashlib.config import load_config
    from vrashlib.viz.stream import plot_stream

    cfg = load_config("smoke", {"stream.patience": 2})
    with pytest.warns(RuntimeWarning):
        log = st.run_stream(
            FakeModel(pool),
            FakeFilter(reject_all=True),
            tmp_path,
            cfg=cfg,
            sampler=fake_sample,
            progress=False,
        )
    summary = st.stream_summary(log).iloc[0]
    assert summary.melodies == 0 and summary.rejected_filter > 0
    assert summary.generated == summary.rejected_filter + summary.rejected_empty
    assert len(TrackSet.load(tmp_path / "melodies.npz")) == 0
    assert not (tmp_path / "stream.mid").exists()
    plot_stream(log)


def test_stream_checks_what_the_filter_returns(pool):
    class Broken(FakeFilter):
        def score(self, tracks):
            return np.zeros(1)

    with pytest.raises(ValueError, match="filter returned"):
        take(FakeModel(pool), Broken(), max_music_seconds=10.0)


def test_repeat_guard_repeats_near_repeats_and_copies(pool):
    a, near, b = pool[0], pool[60], pool[1]
    guard = RepeatGuard(TrackSet.from_tracks([pool[2]], ("x",), [0]), **GUARD)
    assert guard.check(a) == "ok"
    guard.add(a)
    assert guard.check(a) == "repeat"
    assert guard.check(near) == "repeat"
    assert guard.check(b) == "ok"
    copy16 = np.concatenate([b[:10], pool[2][5:21], b[10:20]])
    copy15 = np.concatenate([b[:10], pool[2][5:20], b[10:20]])
    assert guard.check(copy16) == "copy"
    assert guard.check(copy15) == "ok"
    short = a[:3]  # shorter than ngram: compared as one run of its own length
    guard.add(short)
    assert guard.check(short) == "repeat"
    with pytest.raises(ValueError, match="max_similarity"):
        RepeatGuard(**{**GUARD, "max_similarity": 1.5})


def test_training_index_has_no_runs_across_two_tracks(pool):
    a, b = pool[0][:20], pool[1][:20]
    index = corpus_ngram_index(TrackSet.from_tracks([a, b], ("x",), [0, 0]), 4)
    inside = np.concatenate([ngram_hashes(note_tokens(t), 4) for t in (a, b)])
    assert np.array_equal(index, np.unique(inside))
    across = ngram_hashes(note_tokens(np.concatenate([a[-2:], b[:2]])), 4)
    assert not np.isin(across, index).any()


def test_continuous_midi_keeps_each_melody_tempo(pool, tmp_path):
    a, b = pool[0], pool[1]
    path = write_segments_midi([(a, 0.25), (b, 0.5)], tmp_path / "s.mid", gap_seconds=1.0)
    score = symusic.Score(str(path))
    assert score.tpq == 480 and [t.qpm for t in score.tempos] == [120.0]  # 960 ticks/s
    # every note at its exact time: each melody at its own speed, 1 s between them
    expected, t = [], Fraction(0)
    for events, unit in ((a, Fraction(1, 4)), (b, Fraction(1, 2))):
        for pitch, dur in zip(midi_pitch(events), events[:, 2], strict=True):
            seconds = DURATION_RATIOS[dur] * unit
            if pitch >= 0:
                expected.append((int(t * 960), int(seconds * 960), int(pitch)))
            t += seconds
        t += 1
    assert read_midi_notes(path) == expected


def test_run_stream_writes_melodies_continuous_file_and_log(pool, tmp_path):
    cfg = load_config("smoke")
    log = st.run_stream(
        FakeModel(pool),
        FakeFilter(),
        tmp_path,
        cfg=cfg,
        music_seconds=40.0,
        wav=False,
        progress=False,
        sampler=fake_sample,
    )
    assert list(log.columns) == list(st.LOG_COLUMNS)
    assert len(sorted((tmp_path / "melodies").glob("*.mid"))) == len(log) > 0
    assert (tmp_path / "stream.mid").exists() and not (tmp_path / "stream.wav").exists()
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "log.csv"), log, check_dtype=False)
    played = TrackSet.load(tmp_path / "melodies.npz")
    assert played.ids.tolist() == log["track_id"].tolist()
    assert played.lengths.tolist() == log["n_events"].tolist()
    summary = st.stream_summary(log).iloc[0]
    assert summary.music_seconds >= 40.0 and summary.melodies == len(log)
    assert 0 < summary.acceptance_rate < 1
    # a shorter second run into the same folder leaves no stale melody files behind
    log2 = st.run_stream(
        FakeModel(pool),
        None,
        tmp_path,
        cfg=cfg,
        music_seconds=5.0,
        wav=False,
        progress=False,
        sampler=fake_sample,
    )
    assert len(list((tmp_path / "melodies").glob("*.mid"))) == len(log2) < len(log)
    assert log2["score"].isna().all()  # no filter: everything non-empty and new is accepted


def test_stream_command_names_the_missing_file(tmp_path, capsys):
    from vrashlib.cli import main

    args = ["stream", "--model", "vrash", "--style", "bach", "--minutes", "0.1",
            "--out", str(tmp_path / "out"), "--profile", "smoke", "--run", str(tmp_path)]  # fmt: skip
    assert main(args) == 2
    assert "no prepared dataset" in capsys.readouterr().err
    (tmp_path / "dataset").mkdir()
    (tmp_path / "dataset" / "tracks.npz").touch()  # only looked at once the model exists
    assert main(args) == 2
    err = capsys.readouterr().err
    assert str(tmp_path / "models" / "vrash" / "model.ckpt") in err and "notebook 02" in err


def test_plot_stream_shows_music_against_wall_time(pool, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from vrashlib.viz.stream import plot_stream

    log = st.run_stream(
        FakeModel(pool), FakeFilter(), tmp_path, cfg=load_config("smoke"), music_seconds=30.0,
        wav=False, progress=False, sampler=fake_sample,
    )  # fmt: skip
    ax, ax2 = plot_stream(log)
    x, y = ax.get_lines()[0].get_data()
    assert (
        y[-1] == pytest.approx(log["music_seconds"].iloc[-1])
        and x[-1] == log["wall_seconds"].iloc[-1]
    )
    assert len(ax2.collections) == 5  # accepted + four rejection reasons


def test_run_stream_renders_the_continuous_wav(pool, tmp_path):
    from scipy.io import wavfile

    cfg = load_config("smoke")
    log = st.run_stream(
        FakeModel(pool), FakeFilter(), tmp_path, cfg=cfg, music_seconds=20.0, progress=False,
        sampler=fake_sample,
    )  # fmt: skip
    rate, pcm = wavfile.read(tmp_path / "stream.wav")
    expected = log["seconds"].sum() + cfg.stream.gap_seconds * len(log)
    assert pcm.dtype == np.int16 and np.abs(pcm).max() > 1000
    assert len(pcm) / rate == pytest.approx(expected, abs=len(log) / rate)
