"""Entropy features: hand-computed values, short tracks, brute force on random walks."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from tests.conftest import random_walk_tracks
from vrashlib.data.encoding import DUR_ONE, DURATION_RATIOS, OCT_NONE, REST, midi_pitch
from vrashlib.data.normalise import entropy_bits
from vrashlib.data.tracks import TrackSet
from vrashlib.filter.features import compute_features, feature_names, window_entropies

DUR_TWO = DURATION_RATIOS.index(Fraction(2))


def _set(tracks, latent=None) -> TrackSet:
    return TrackSet.from_tracks(tracks, ("bach",), np.zeros(len(tracks)), latent=latent)


# C4:1 D4:1 C4:2 rest:1 C5:1
TINY = np.array(
    [[0, 4, DUR_ONE], [2, 4, DUR_ONE], [0, 4, DUR_TWO], [REST, OCT_NONE, DUR_ONE], [0, 5, DUR_ONE]],
    dtype=np.int16,
)


def h(*probs: float) -> float:
    return float(-sum(p * np.log2(p) for p in probs))


def test_whole_track_entropies_match_hand_computed_values():
    f = compute_features(_set([TINY])).iloc[0]
    assert f["pc"] == pytest.approx(h(0.6, 0.2, 0.2))  # C C C | D | rest
    assert f["pitch"] == pytest.approx(h(0.4, 0.2, 0.2, 0.2))  # C4 C4 | D4 | rest | C5
    assert f["dur"] == pytest.approx(h(0.8, 0.2))
    assert f["dur_change"] == pytest.approx(h(0.5, 0.25, 0.25))  # x1 x2 x1/2 x1
    assert f["pc_change"] == pytest.approx(2.0)  # +2, -2 (=10 mod 12), note->rest, rest->note
    assert f["pitch_change"] == pytest.approx(2.0)


def test_pc_change_ignores_octave_but_pitch_change_does_not():
    # C4 C5 C4 C5: every pitch-class change is 0, pitch changes alternate +12/-12.
    ev = np.array([[0, 4, DUR_ONE], [0, 5, DUR_ONE]] * 2, dtype=np.int16)
    f = compute_features(_set([ev])).iloc[0]
    assert f["pc"] == 0.0 and f["pc_change"] == 0.0
    assert f["pitch"] == pytest.approx(1.0) and f["pitch_change"] == pytest.approx(h(2 / 3, 1 / 3))


def test_sliding_windows_hand_computed():
    pitch = midi_pitch(TINY)
    lo, mean = window_entropies(pitch, np.array([0, len(pitch)]), (2, 3))
    assert lo[0, 0] == pytest.approx(1.0) and mean[0, 0] == pytest.approx(1.0)
    three = [h(2 / 3, 1 / 3), np.log2(3), np.log2(3)]
    assert lo[0, 1] == pytest.approx(min(three)) and mean[0, 1] == pytest.approx(np.mean(three))


def test_tracks_shorter_than_a_window_use_the_whole_track():
    f = compute_features(_set([TINY, TINY[:1]]))
    for w in (8, 16, 32, 64, 128):
        assert f[f"win{w}_min"].iloc[0] == pytest.approx(f["pitch"].iloc[0])
        assert f[f"win{w}_mean"].iloc[0] == pytest.approx(f["pitch"].iloc[0])
    assert (f.iloc[1] == 0).all()  # one event: no uncertainty, no change


def test_empty_track_has_zero_features_and_others_are_unaffected():
    tracks = [TINY, np.zeros((0, 3), np.int16), TINY]
    f = compute_features(_set(tracks))
    assert (f.iloc[1] == 0).all()
    np.testing.assert_allclose(f.iloc[0].to_numpy(), f.iloc[2].to_numpy())


def test_windows_match_brute_force_on_random_walks():
    tracks = random_walk_tracks(30, seed=4, min_len=1, max_len=150)
    f = compute_features(_set(tracks), windows=(8, 32, 128))
    for i, ev in enumerate(tracks):
        p = midi_pitch(ev)
        for w in (8, 32, 128):
            hs = [entropy_bits(p[s : s + w]) for s in range(max(len(p) - w + 1, 1))]
            assert f[f"win{w}_min"].iloc[i] == pytest.approx(min(hs), abs=1e-9)
            assert f[f"win{w}_mean"].iloc[i] == pytest.approx(np.mean(hs), abs=1e-9)
        assert f["pitch"].iloc[i] == pytest.approx(entropy_bits(p), abs=1e-9)


def test_columns_index_and_latent():
    tracks = random_walk_tracks(5, seed=2)
    z = np.arange(15, dtype=np.float32).reshape(5, 3)
    ts = _set(tracks, latent=z)
    f = compute_features(ts)
    assert list(f.columns) == feature_names(z_dim=3)
    assert list(f.index) == list(ts.ids)
    np.testing.assert_array_equal(f[["z0", "z1", "z2"]].to_numpy(), z)
    assert "z0" not in compute_features(ts, include_latent=False).columns


def test_features_do_not_depend_on_batch_composition():
    tracks = random_walk_tracks(12, seed=5, min_len=3, max_len=200)
    whole = compute_features(_set(tracks))
    part = compute_features(_set(tracks[3:5]))
    np.testing.assert_allclose(whole.iloc[3:5].to_numpy(), part.to_numpy())


def test_bad_window_raises():
    with pytest.raises(ValueError, match="windows"):
        compute_features(_set([TINY]), windows=(0,))
