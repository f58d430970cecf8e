"""Generated against real: realness AUC, short melodies, runs of one pitch, leaps."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import random_walk_tracks
from vrashlib.data.encoding import DUR_ONE, event_from_midi
from vrashlib.data.tracks import TrackSet
from vrashlib.sampling.realism import (
    interval_ngrams,
    leap_share,
    longest_run,
    melody_metrics,
    note_pitches,
    realness_auc,
    run_share,
    short_share,
    split_in_two,
)


def _melody(pitches) -> np.ndarray:
    return np.array([event_from_midi(p, DUR_ONE) for p in pitches], dtype=np.int16)


def _set(melodies, style=0) -> TrackSet:
    return TrackSet.from_tracks(melodies, ("bach", "fiddle"), np.full(len(melodies), style))


def test_note_pitches_skip_rests_and_longest_run():
    ev = _melody([60, None, 60, 62, 62, 62, None, 62, 64])
    np.testing.assert_array_equal(note_pitches(ev), [60, 60, 62, 62, 62, 62, 64])
    assert longest_run(note_pitches(ev)) == 4  # a rest does not break the run
    assert longest_run(np.array([], int)) == 0
    assert longest_run(np.array([5])) == 1


def test_shares_by_hand():
    melodies = [
        _melody([60] * 5 + [62] * 20),  # a run of 5; 25 notes
        _melody([60, 62, 64, 65, 67, 69, 71, 72] * 3),  # 24 notes, steps only
        _melody([60, 73]),  # a leap of 13; short
        _melody([60, 72, None, 60]),  # leaps of exactly 12 only; short
    ]
    ts = _set(melodies)
    assert short_share(ts) == 0.5
    assert run_share(ts) == 0.25
    assert leap_share(ts) == 0.25
    assert run_share(ts, run=2) == 0.25
    assert leap_share(ts, semitones=11) == 0.75  # melody 2 falls 72 -> 60 between repeats
    assert np.isnan(short_share(_set([])))


def test_interval_ngrams_are_relative_counts():
    grams = interval_ngrams(_melody([60, 62, 60, 62]), n_max=2)
    assert grams == {"1:2": 2 / 3, "1:-2": 1 / 3, "2:2 -2": 0.5, "2:-2 2": 0.5}
    assert interval_ngrams(_melody([60])) == {}


def _walks(n, seed, steps=(-2, -1, 0, 1, 2, 3, -3)):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        pitch = np.clip(60 + np.cumsum(rng.choice(steps, size=40)), 30, 100)
        out.append(_melody(pitch.tolist()))
    return out


def test_realness_auc_is_half_for_real_against_real_and_one_for_leaps():
    real = _set(random_walk_tracks(300, seed=4, min_len=30, max_len=60))
    a, b = split_in_two(real, seed=0)
    assert len(a) == len(b) == 150
    assert abs(realness_auc(a, b) - 0.5) < 0.1
    leaps = _set(_walks(150, seed=5, steps=(-14, -7, 7, 14)))
    assert realness_auc(real, leaps) > 0.95
    assert realness_auc(real, leaps, seed=1) == realness_auc(real, leaps, seed=1)
    assert np.isnan(realness_auc(real, leaps.subset([0, 1])))


def test_melody_metrics_rows():
    real = _set(random_walk_tracks(60, seed=4, min_len=30, max_len=60))
    gen = {"lm": _set(_walks(40, seed=6)), "vae": _set(_walks(40, seed=7, steps=(-13, 13)))}
    table = melody_metrics(gen, real, ("bach",))
    assert list(table["model"]) == ["real", "lm", "vae"]
    assert table.set_index("model").loc["vae", "leap_share"] == 1.0
    assert table.set_index("model").loc["real", "n"] == 60
    assert table["realness_auc"].between(0, 1).all()
    assert table.set_index("model").loc["vae", "realness_auc"] > 0.9
    with pytest.raises(KeyError):
        melody_metrics(gen, real, ("jazz",))
