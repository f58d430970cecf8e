"""Mutual information vs distance: analytic cases, estimators, decay fits."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from scipy.special import digamma

from vrashlib.analysis import mi
from vrashlib.config import load_config
from vrashlib.data.encoding import DUR_ONE, OCT_NONE, REST
from vrashlib.data.tracks import TrackSet


def tracks_from_pitch_classes(seqs: list[np.ndarray]) -> TrackSet:
    """Tracks whose events are the given pitch classes (octave 4, duration 1)."""
    tracks = [
        np.stack([s, np.full(len(s), 4), np.full(len(s), DUR_ONE)], axis=1).astype(np.int16)
        for s in seqs
    ]
    return TrackSet.from_tracks(tracks, ("x",), np.zeros(len(tracks), int))


def iid_tracks(n_tracks: int, length: int, k: int, seed: int) -> TrackSet:
    rng = np.random.default_rng(seed)
    return tracks_from_pitch_classes([rng.integers(0, k, length) for _ in range(n_tracks)])


def markov_tracks(n_tracks: int, length: int, flip: float, seed: int) -> TrackSet:
    """Symmetric two-state Markov chain (pitch classes 0 and 7), flip probability ``flip``."""
    rng = np.random.default_rng(seed)
    seqs = []
    for _ in range(n_tracks):
        flips = rng.random(length) < flip
        state = (rng.integers(0, 2) + np.cumsum(flips)) % 2
        seqs.append(7 * state)
    return tracks_from_pitch_classes(seqs)


def test_independent_stream_has_no_mutual_information():
    ts = iid_tracks(100, 500, k=12, seed=0)
    got = mi.mutual_information(ts, [1, 5, 50], token="pitch_class")
    assert np.all(np.abs(got) < 2e-3), got
    plugin = mi.mutual_information(ts, [1, 5, 50], token="pitch_class", estimator="plugin")
    # The plug-in estimate is biased up by about (K-1)^2 / (2 N ln 2) bits.
    assert np.all(plugin > got)
    assert np.allclose(plugin - got, 121 / (2 * 49_000 * np.log(2)), rtol=0.5)


def test_mi_at_distance_zero_is_the_entropy(tiny_trackset):
    codes = mi.token_codes(tiny_trackset, "pitch")
    p = np.unique(codes, return_counts=True)[1] / len(codes)
    entropy_bits = -(p * np.log2(p)).sum()
    plugin = mi.mutual_information(tiny_trackset, [0], estimator="plugin")[0]
    assert plugin == pytest.approx(entropy_bits, rel=1e-9)
    counts = np.unique(codes, return_counts=True)[1]
    grass = mi.mutual_information(tiny_trackset, [0])[0]
    assert grass == pytest.approx(mi.entropy_from_counts(counts) / np.log(2), rel=1e-9)
    uniform = iid_tracks(50, 400, k=8, seed=1)
    assert mi.mutual_information(uniform, [0], token="pitch_class")[0] == pytest.approx(3, abs=0.01)


def test_grassberger_terms_match_the_closed_form():
    table = mi._grassberger_table(4)
    gamma = -digamma(1.0)
    assert table[1] == pytest.approx(-gamma - np.log(2))
    assert table[2] == pytest.approx(2 - gamma - np.log(2))
    assert table[4] == pytest.approx(np.log(4), abs=0.05)


def test_grassberger_is_less_biased_than_plugin_on_a_known_distribution():
    rng = np.random.default_rng(0)
    k, n, reps = 32, 40, 400
    counts = np.stack([np.bincount(rng.integers(0, k, n), minlength=k) for _ in range(reps)])
    true = np.log(k)
    plug = mi.entropy_from_counts(counts, "plugin").mean() - true
    grass = mi.entropy_from_counts(counts, "grassberger").mean() - true
    assert plug < -0.2  # the plug-in estimate is well known to be biased low
    assert abs(grass) < abs(plug) / 2


def test_markov_chain_decays_exponentially_and_the_fit_says_so():
    flip = 0.1
    ts = markov_tracks(200, 400, flip, seed=2)
    cfg = dataclasses.replace(
        load_config("smoke").mi, max_distance=24, n_distances=12, token="pitch_class", n_bootstrap=8
    )
    curve = mi.mi_curve(ts, cfg, seed=0)
    fit = mi.fit_decay(curve)
    assert fit["better"] == "exponential", fit
    # I(d) ~ rho^(2d) with rho = 1 - 2 flip: decay length -1 / (2 ln rho) events.
    assert fit["xi"] == pytest.approx(-1 / (2 * np.log(1 - 2 * flip)), rel=0.25)


def test_fit_recognises_a_power_law_and_reports_nan_on_too_few_points():
    d = mi.log_distances(256, 16).astype(float)
    curve = pd.DataFrame({"distance": d, "mi_bits": 0.3 * d**-0.5})
    fit = mi.fit_decay(curve)
    assert fit["better"] == "power_law"
    assert fit["alpha"] == pytest.approx(0.5, rel=1e-6)
    assert fit["delta_aic"] > 0
    assert mi.fit_decay(curve.iloc[:2])["better"] == "n/a"


def test_fit_ignores_points_at_or_below_the_noise_floor():
    d = mi.log_distances(64, 10).astype(float)
    value = np.exp(-d / 5.0)
    floor = np.where(d > 20, 1.0, 0.0)  # everything past d=20 is "noise"
    curve = pd.DataFrame({"distance": d, "mi_bits": value, "noise_floor": floor})
    fit = mi.fit_decay(curve)
    assert fit["d_max"] <= 20
    assert fit["xi"] == pytest.approx(5.0)


def test_pairs_never_straddle_two_tracks():
    ts = tracks_from_pitch_classes([np.array([0]), np.array([5]), np.array([7])])
    assert np.isnan(mi.mutual_information(ts, [1])[0])
    assert mi.n_pairs(ts.lengths, np.array([0, 1])).tolist() == [3, 0]
    # Two constant tracks: the pair (t, t+1) knows which track it is in -> I = 1 bit.
    two = tracks_from_pitch_classes([np.zeros(300, int), np.full(300, 5)])
    assert mi.mutual_information(two, [1, 10], estimator="plugin") == pytest.approx([1, 1])


def test_mi_curve_columns_band_floor_and_determinism(tiny_trackset):
    cfg = load_config("smoke").mi
    a = mi.mi_curve(tiny_trackset, cfg, seed=3)
    b = mi.mi_curve(tiny_trackset, cfg, seed=3)
    pd.testing.assert_frame_equal(a, b)
    assert tuple(a.columns) == mi.CURVE_COLUMNS
    ok = a["mi_bits"].notna()
    assert ok.sum() >= 3
    assert (a.loc[ok, "lo"] <= a.loc[ok, "mi_bits"]).all()
    assert (a.loc[ok, "hi"] >= a.loc[ok, "mi_bits"]).all()
    assert (a["n_pairs"] < cfg.min_pairs).equals(a["mi_bits"].isna())
    # Against notes shuffled across the corpus, random walks remember at every distance;
    # shuffled within each track, each walk keeps its own register: that floor is higher,
    # and only the short distances rise above it.
    corpus = mi.mi_curve(tiny_trackset, dataclasses.replace(cfg, shuffle="corpus"), seed=3)
    assert (corpus.loc[ok, "mi_bits"] > corpus.loc[ok, "noise_floor"]).all()
    assert cfg.shuffle == "track"
    assert (a.loc[ok, "noise_floor"] > corpus.loc[ok, "noise_floor"]).all()
    first = a.loc[ok].iloc[0]
    assert first["mi_bits"] > first["noise_floor"]
    one = mi.mi_curve(tiny_trackset.subset([0]), cfg, seed=0)
    assert one["mi_bits"].isna().all() and len(one) == len(a)


def test_shuffled_keeps_tracks_and_removes_order(tiny_trackset):
    for within in ("corpus", "track"):
        s = mi.shuffled(tiny_trackset, seed=0, within=within)
        assert np.array_equal(s.offsets, tiny_trackset.offsets)
        assert sorted(map(tuple, s.events)) == sorted(map(tuple, tiny_trackset.events))
    s = mi.shuffled(tiny_trackset, seed=0, within="track")
    for i in range(len(s)):
        assert sorted(map(tuple, s[i])) == sorted(map(tuple, tiny_trackset[i]))


def test_token_streams_and_bad_names(tiny_trackset):
    assert np.array_equal(mi.token_codes(tiny_trackset, "pitch_class"), tiny_trackset.events[:, 0])
    rests = tiny_trackset.events[:, 0] == REST
    pitch = mi.token_codes(tiny_trackset, "pitch")
    assert len(np.unique(pitch[rests])) == 1 and OCT_NONE in tiny_trackset.events[rests, 1]
    n_event = len(np.unique(mi.token_codes(tiny_trackset, "event")))
    assert n_event == len(np.unique(tiny_trackset.events, axis=0))
    with pytest.raises(ValueError, match="token"):
        mi.token_codes(tiny_trackset, "chord")
    with pytest.raises(ValueError, match="estimator"):
        mi.mutual_information(tiny_trackset, [1], estimator="nsb")


def test_plot_draws_each_curve_with_data_and_skips_empty_ones(tiny_trackset):
    import matplotlib

    matplotlib.use("Agg")
    from vrashlib.viz.mi import plot_mi_curves

    cfg = load_config("smoke").mi
    curves = {
        "real/bach": mi.mi_curve(tiny_trackset.select(style="bach"), cfg),
        "vrash/bach/filtered": mi.mi_curve(tiny_trackset.subset([0]), cfg),  # one track: empty
    }
    ax = plot_mi_curves(curves, floor=False)
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == ["real/bach"]
    assert ax.get_yscale() == "log" and ax.get_ylim()[0] > 0
