"""Independent oracles for the mutual information of Fig. 6.

The main oracle is a closed form: for a stationary symmetric binary Markov chain
with flip probability p, ``x_t`` and ``x_{t+d}`` differ with probability
``q(d) = (1 - (1 - 2p)^d) / 2`` and each is uniform, so
``I(d) = 1 - H2(q(d))`` bits. Entropies of counts are checked against the
formulas written out here (plug-in, and Grassberger's ``ln N - sum n G(n) / N``
with ``G`` from its series definition), not against the module's own helpers.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.special import digamma

from tests.conftest import pitch_track
from vrashlib.analysis import mi
from vrashlib.data.encoding import DUR_ONE, OCT_NONE, REST
from vrashlib.data.tracks import TrackSet


def h2(q: float) -> float:
    return 0.0 if q in (0.0, 1.0) else -(q * math.log2(q) + (1 - q) * math.log2(1 - q))


def chain_mi(p: float, d: int) -> float:
    """I(x_t; x_{t+d}) in bits for the symmetric binary chain with flip probability p."""
    return 1.0 - h2((1.0 - (1.0 - 2.0 * p) ** d) / 2.0)


def binary_chain_tracks(n_tracks: int, length: int, p: float, seed: int, states=(0, 7)):
    """Stationary chains (uniform start), as pitch classes ``states`` in octave 4."""
    rng = np.random.default_rng(seed)
    start = rng.integers(0, 2, (n_tracks, 1))
    flips = rng.random((n_tracks, length - 1)) < p
    bit = (np.concatenate([start, start + np.cumsum(flips, axis=1)], axis=1) % 2).astype(int)
    pcs = np.asarray(states)[bit]
    tracks = [
        np.stack([row, np.full(length, 4), np.full(length, DUR_ONE)], axis=1).astype(np.int16)
        for row in pcs
    ]
    return TrackSet.from_tracks(tracks, ("x",), np.zeros(n_tracks, int))


def test_closed_form_itself():
    assert chain_mi(0.5, 1) == 0.0  # a fair coin forgets at once
    assert chain_mi(0.0, 5) == 1.0  # never flips: one bit shared at any distance
    assert chain_mi(0.1, 1) == pytest.approx(1 - h2(0.1))  # 0.531 bits
    assert chain_mi(0.1, 2) == pytest.approx(1 - h2(0.18))  # two steps: 2 p (1 - p)


@pytest.fixture(scope="module")
def chain():
    return binary_chain_tracks(100, 2000, 0.1, seed=0)


@pytest.mark.parametrize("estimator", ["plugin", "grassberger"])
def test_mi_of_a_binary_markov_chain_matches_the_closed_form(chain, estimator):
    distances = [1, 2, 3, 5, 8, 13]
    got = mi.mutual_information(chain, distances, token="pitch_class", estimator=estimator)
    want = np.array([chain_mi(0.1, d) for d in distances])
    # ~2e5 pairs per distance: sampling error well under 0.01 bits at these values
    np.testing.assert_allclose(got, want, atol=0.01)
    assert np.all(np.diff(got) < 0)  # and it decays


@pytest.mark.parametrize("token", ["pitch", "pitch_class", "event"])
def test_every_token_stream_of_the_chain_carries_the_same_information(chain, token):
    got = mi.mutual_information(chain, [1, 4], token=token, estimator="plugin")
    np.testing.assert_allclose(got, [chain_mi(0.1, 1), chain_mi(0.1, 4)], atol=0.01)


def test_distance_zero_is_one_bit_for_the_uniform_binary_chain(chain):
    for estimator in ("plugin", "grassberger"):
        got = mi.mutual_information(chain, [0], token="pitch_class", estimator=estimator)[0]
        assert got == pytest.approx(1.0, abs=2e-3)
    # the duration stream is constant: no entropy, no information
    assert mi.mutual_information(chain, [0, 1], token="duration", estimator="plugin") == (
        pytest.approx([0.0, 0.0], abs=1e-12)
    )


def test_mi_curve_follows_the_closed_form_above_its_noise_floor():
    import dataclasses

    from vrashlib.config import load_config

    ts = binary_chain_tracks(60, 1500, 0.05, seed=1)
    cfg = dataclasses.replace(
        load_config("smoke").mi,
        max_distance=40,
        n_distances=6,
        token="pitch_class",
        n_bootstrap=6,
        min_pairs=100,
        estimator="grassberger",
    )
    curve = mi.mi_curve(ts, cfg, seed=0)
    d = curve["distance"].to_numpy()
    assert d.tolist() == mi.log_distances(40, 6).tolist()
    want = np.array([chain_mi(0.05, int(x)) for x in d])
    np.testing.assert_allclose(curve["mi_bits"], want, atol=0.015)
    np.testing.assert_allclose(curve["mi_plugin_bits"], want, atol=0.015)
    assert (curve["n_pairs"] == [60 * (1500 - x) for x in d]).all()
    assert (curve["noise_floor"].abs() < 0.005).all()  # the shuffled chain shares nothing
    assert (curve["lo"] <= curve["mi_bits"]).all() and (curve["hi"] >= curve["mi_bits"]).all()
    assert ((curve["hi"] - curve["lo"]) < 0.05).all()
    fit = mi.fit_decay(curve)
    # I(d) ~ (1 - 2p)^(2d) / (2 ln 2) for large d: decay length -1 / (2 ln(1 - 2p)) = 4.75
    assert fit["better"] == "exponential"
    assert fit["xi"] == pytest.approx(-1 / (2 * math.log(0.9)), rel=0.3)


# ---------------------------------------------------------------- entropies
def test_plugin_entropy_from_counts_by_hand():
    h = mi.entropy_from_counts(np.array([1, 1, 2, 0]), "plugin")  # p = 1/4, 1/4, 1/2
    assert h == pytest.approx(1.5 * math.log(2))
    rows = mi.entropy_from_counts(np.array([[5, 5], [10, 0], [0, 0]]), "plugin")
    assert rows[0] == pytest.approx(math.log(2)) and rows[1] == 0.0 and np.isnan(rows[2])


def grassberger_g(n: int) -> float:
    """G(n) = psi(n) + (-1)^n / 2 (psi((n+1)/2) - psi(n/2)) (Grassberger 2003, Eq. 35)."""
    return digamma(n) + 0.5 * (-1) ** n * (digamma((n + 1) / 2) - digamma(n / 2))


def test_grassberger_entropy_from_counts_by_hand():
    counts = np.array([3, 1, 4, 0, 2])
    n = counts.sum()
    want = math.log(n) - sum(c * grassberger_g(c) for c in counts if c) / n
    assert mi.entropy_from_counts(counts) == pytest.approx(want, rel=1e-12)
    table = mi._grassberger_table(6)
    assert table[0] == 0.0
    for k in range(1, 7):
        assert table[k] == pytest.approx(grassberger_g(k), rel=1e-12)
    # G(1) = -gamma - ln 2 and G(2) = 2 - gamma - ln 2 (Grassberger 2003)
    gamma = 0.5772156649015329
    assert grassberger_g(1) == pytest.approx(-gamma - math.log(2))
    assert grassberger_g(2) == pytest.approx(2 - gamma - math.log(2))
    # a caller's table too short for the counts is ignored, not indexed past its end
    assert mi.entropy_from_counts(counts, table=table[:2]) == pytest.approx(want, rel=1e-12)
    with pytest.raises(ValueError, match="estimator"):
        mi.entropy_from_counts(counts, "nsb")


def test_mi_of_a_hand_made_pair_table():
    # Tracks of length 2: the pair (first, second) is (0,0) x3, (0,5) x1, (5,5) x4.
    seqs = [(0, 0)] * 3 + [(0, 5)] + [(5, 5)] * 4
    tracks = [np.array([[a, 4, DUR_ONE], [b, 4, DUR_ONE]], np.int16) for a, b in seqs]
    ts = TrackSet.from_tracks(tracks, ("x",), np.zeros(len(tracks), int))
    px = np.array([4, 4]) / 8  # first note: 0 x4, 5 x4
    py = np.array([3, 5]) / 8  # second note: 0 x3, 5 x5
    pxy = np.array([3, 1, 4]) / 8
    want = sum(-p * math.log2(p) for p in px) + sum(-p * math.log2(p) for p in py)
    want -= sum(-p * math.log2(p) for p in pxy)
    got = mi.mutual_information(ts, [1, 2], estimator="plugin")
    assert got[0] == pytest.approx(want) and np.isnan(got[1])


def test_n_pairs_and_distances_by_hand():
    assert mi.n_pairs(np.array([5, 2, 0]), np.array([0, 1, 2, 5])).tolist() == [7, 5, 3, 0]
    assert mi.log_distances(1000, 4).tolist() == [1, 10, 100, 1000]
    assert mi.log_distances(8, 4).tolist() == [1, 2, 4, 8]
    assert mi.log_distances(1, 5).tolist() == [1]
    with pytest.raises(ValueError):
        mi.log_distances(0, 3)
    with pytest.raises(ValueError):
        mi.log_distances(5, 0)
    pos, track = mi._pairs(np.array([0, 3, 3, 7]), 2)
    assert pos.tolist() == [0, 3, 4] and track.tolist() == [0, 2, 2]


def test_token_codes_by_hand():
    ev = np.array([[0, 4, 7], [0, 5, 7], [REST, OCT_NONE, 3], [11, 4, 7]], np.int16)
    ts = TrackSet.from_tracks([ev], ("x",), [0])
    pitch = mi.token_codes(ts, "pitch")
    assert len(set(pitch.tolist())) == 4  # C4, C5, rest, B4: all different
    pc = mi.token_codes(ts, "pitch_class")
    assert pc.tolist() == [0, 0, REST, 11]
    assert mi.token_codes(ts, "duration").tolist() == [7, 7, 3, 7]
    ev2 = np.array([[0, 4, 7], [0, 4, 8], [1, 4, 7], [0, 5, 7]], np.int16)
    event = mi.token_codes(TrackSet.from_tracks([ev2], ("x",), [0]), "event")
    assert len(set(event.tolist())) == 4


def test_interval_token_at_the_edges_by_hand():
    # codes: 0..24 = steps -12..+12, 25 leap down, 26 leap up, 27 rest, 28 a track's first note
    first = pitch_track(None, 60, 72, 59, 72, 85, None, None, 71)
    # a rest before any note; the first note; +12 (the last step); -13 and +13 (the first
    # leaps); +13 again; two rests, then -14 from the note before them (rests are skipped)
    second = pitch_track(65, 65, 53)  # the next track starts afresh: first note; 0; -12
    ts = TrackSet.from_tracks([first, second], ("x",), [0, 0])
    want = [27, 28, 24, 25, 26, 26, 27, 27, 25, 28, 12, 0]
    assert mi.token_codes(ts, "interval").tolist() == want
    alone = TrackSet.from_tracks([second], ("x",), [0])
    assert mi.token_codes(alone, "interval").tolist() == [28, 12, 0]
    empty = TrackSet.from_tracks([np.zeros((0, 3), np.int16)], ("x",), [0])
    assert mi.token_codes(empty, "interval").tolist() == []


def test_bootstrap_weights_are_the_set_then_resamples_of_it():
    rng = np.random.default_rng(0)
    w = mi.bootstrap_weights(5, 400, rng)
    assert w.shape == (401, 5)
    assert (w[0] == 1).all()
    assert (w.sum(axis=1) == 5).all() and (w == np.round(w)).all() and (w >= 0).all()
    # each track is drawn 5 times with chance 1/5 in each resample: mean 1, variance 4/5
    assert w[1:].mean() == pytest.approx(1.0, abs=0.05)
    assert w[1:].var() == pytest.approx(0.8, abs=0.1)
    assert not (w[1:] == 1).all(axis=1).all()  # resamples, not copies of the set
    assert mi.bootstrap_weights(0, 3, rng).shape == (4, 0)


def test_mi_rows_weights_are_copies_of_tracks():
    """A track of weight 2 counts as two copies of it, weight 0 as none: the rows of
    ``mi_rows`` equal ``mutual_information`` on the set with tracks repeated or dropped."""
    rng = np.random.default_rng(3)
    tracks = [pitch_track(*rng.integers(55, 70, size=n)) for n in (12, 9, 15, 7)]
    ts = TrackSet.from_tracks(tracks, ("x",), [0, 0, 0, 0])
    distances = [1, 2, 3, 8, 13]
    weights = np.array([[1, 1, 1, 1], [2, 0, 1, 3], [0, 0, 4, 0]])
    for estimator in ("plugin", "grassberger"):
        for token in ("pitch", "interval"):
            rows = mi.mi_rows(ts, distances, weights, token=token, estimator=estimator)
            assert rows.shape == (3, 5)
            for w, row in zip(weights, rows, strict=True):
                copies = [t for t, k in zip(tracks, w, strict=True) for _ in range(k)]
                ref = TrackSet.from_tracks(copies, ("x",), [0] * len(copies))
                want = mi.mutual_information(ref, distances, token=token, estimator=estimator)
                np.testing.assert_allclose(row, want, rtol=1e-12, atol=1e-12, equal_nan=True)
    assert np.isnan(mi.mi_rows(ts, [16], weights)).all()
    assert mi.mi_rows(ts, [1], np.ones(4)).shape == (1, 1)  # one row of weights
    single = ts.subset([2])  # one track is a set like any other
    np.testing.assert_allclose(
        mi.mi_rows(single, distances, np.ones((1, 1)))[0],
        mi.mutual_information(single, distances),
        rtol=1e-12,
    )
    none = TrackSet.from_tracks([], ("x",), np.zeros(0, int))
    assert np.isnan(mi.mi_rows(none, [1, 2], np.ones((2, 0)))).all()
    with pytest.raises(ValueError, match="3 columns for 4 tracks"):
        mi.mi_rows(ts, [1], np.ones((2, 3)))
    with pytest.raises(ValueError, match="estimator"):
        mi.mi_rows(ts, [1], np.ones((1, 4)), estimator="nsb")


# ---------------------------------------------------------------------- fits
def test_fit_decay_recovers_exact_exponential_and_power_law():
    d = np.array([1, 2, 4, 8, 16, 32], float)
    expo = pd.DataFrame({"distance": d, "mi_bits": 0.5 * np.exp(-d / 6.0)})
    fit = mi.fit_decay(expo)
    assert fit["xi"] == pytest.approx(6.0) and fit["better"] == "exponential"
    assert fit["n_points"] == 6 and fit["d_max"] == 32.0
    assert fit["delta_aic"] == pytest.approx(fit["aic_exp"] - fit["aic_power"])
    assert fit["delta_aic"] < 0
    power = pd.DataFrame({"distance": d, "mi_bits": 0.2 * d**-0.75})
    fit = mi.fit_decay(power)
    assert fit["alpha"] == pytest.approx(0.75) and fit["better"] == "power_law"
    assert fit["delta_aic"] > 0
    # AIC = n ln(RSS / n) + 2 * 3 by hand for a line through three points off by +-e
    x = np.array([1.0, 2.0, 3.0])
    resid = np.array([1.0, -2.0, 1.0]) * 0.01  # orthogonal to (1, 1, 1) and to x
    noisy = pd.DataFrame({"distance": x, "mi_bits": np.exp(-x / 2 + resid)})
    fit = mi.fit_decay(noisy)
    assert fit["aic_exp"] == pytest.approx(3 * math.log((resid**2).sum() / 3) + 6)
    assert fit["xi"] == pytest.approx(2.0)


def test_significant_by_hand():
    curve = pd.DataFrame(
        {
            "mi_bits": [0.5, 0.4, 0.3, -0.1, np.nan, 0.2],
            "lo": [0.45, 0.1, np.nan, 0.0, 0.0, 0.2],
            "noise_floor": [0.2, 0.2, 0.2, 0.2, 0.2, np.nan],
        }
    )
    # row 1: lo below the floor; row 2: no band, I above the floor; row 3: I < 0;
    # row 4: no estimate; row 5: no floor known
    assert mi.significant(curve).tolist() == [True, False, True, False, False, True]
    assert mi.significant(curve[["mi_bits"]]).tolist() == [True, True, True, False, False, True]
    on_floor = pd.DataFrame({"mi_bits": [0.2], "lo": [0.2], "noise_floor": [0.2]})
    assert not mi.significant(on_floor)[0]


def test_fit_table_has_one_fit_per_curve():
    d = np.array([1, 2, 4, 8, 16], float)
    curves = {
        "expo": pd.DataFrame({"distance": d, "mi_bits": np.exp(-d / 3.0)}),
        "power": pd.DataFrame({"distance": d, "mi_bits": d**-0.5}),
        "short": pd.DataFrame({"distance": d[:2], "mi_bits": [0.5, 0.4]}),
    }
    table = mi.fit_table(curves, {"expo": 10, "power": 20})
    assert table["curve"].tolist() == ["expo", "power", "short"]
    assert table["n_tracks"].tolist()[:2] == [10, 20] and np.isnan(table["n_tracks"].iloc[2])
    assert table["better"].tolist() == ["exponential", "power_law", "n/a"]
    assert table.loc[0, "xi"] == pytest.approx(3.0) and table.loc[1, "alpha"] == pytest.approx(0.5)
    assert "n_tracks" not in mi.fit_table(curves).columns


# ------------------------------------------------------- edges, worked out by hand
def test_pitch_and_event_codes_are_one_to_one_over_the_whole_vocabulary():
    from vrashlib.data.encoding import DUR_NONE, N_OCTAVES, N_PITCH_CLASSES

    notes = [(pc, o) for pc in range(N_PITCH_CLASSES) for o in range(N_OCTAVES)]
    pitches = [*notes, (REST, OCT_NONE)]
    ev = np.array([(p, o, d) for p, o in pitches for d in range(DUR_NONE)], np.int16)
    ts = TrackSet.from_tracks([ev], ("x",), [0])
    assert len(np.unique(mi.token_codes(ts, "event"))) == len(ev)
    pitch = mi.token_codes(ts)  # "pitch" is the default token
    assert pitch.tolist() == mi.token_codes(ts, "pitch").tolist()
    assert len(np.unique(pitch)) == len(pitches)


def test_key_invariant_tokens_go_to_their_own_codes():
    from vrashlib.analysis.keys import relative_degree

    ts = TrackSet.from_tracks(
        [pitch_track(60, 64, None, 67, 72, 71), pitch_track(57, 59, 60, 64)], ("x",), [0, 0]
    )
    assert mi.token_codes(ts, "degree").tolist() == relative_degree(ts).tolist()
    assert mi.token_codes(ts, "interval").tolist() == [28, 16, 27, 15, 17, 11, 28, 14, 13, 16]
    with pytest.raises(ValueError, match=r"unknown token stream 'chord'; choose one of \("):
        mi.token_codes(ts, "chord")


def test_entropy_edges_by_hand():
    # a single observation has no uncertainty (and is no missing value)
    assert mi.entropy_from_counts(np.array([1, 0]), "plugin") == 0.0
    assert mi.entropy_from_counts(np.array([0, 1]), "grassberger") == pytest.approx(
        -grassberger_g(1)
    )
    # a caller's table exactly as long as the largest count is too short by one: rebuilt
    counts = np.array([3, 1, 4])
    want = math.log(8) - sum(c * grassberger_g(c) for c in counts) / 8
    assert mi.entropy_from_counts(counts, table=mi._grassberger_table(3)) == pytest.approx(want)
    assert np.isnan(mi.entropy_from_counts(np.zeros((2, 0)))).all()  # no symbols at all
    assert np.isnan(mi.entropy_from_counts(np.zeros((2, 0)), table=mi._grassberger_table(3))).all()


def test_fit_decay_without_enough_points_reports_every_column_as_missing():
    curve = pd.DataFrame({"distance": [1.0, 2.0, 4.0], "mi_bits": [0.5, -0.1, np.nan]})
    fit = mi.fit_decay(curve)
    assert fit["better"] == "n/a" and fit["n_points"] == 1 and fit["d_max"] == 1.0
    for key in ("alpha", "xi", "aic_power", "aic_exp", "delta_aic"):
        assert np.isnan(fit[key]), key
    nothing = mi.fit_decay(pd.DataFrame({"distance": [1.0, 2.0], "mi_bits": [0.0, -1.0]}))
    assert nothing["n_points"] == 0 and np.isnan(nothing["d_max"])


def test_fit_decay_of_a_flat_curve_has_infinite_decay_length():
    d = np.array([1.0, 2.0, 4.0, 8.0])
    fit = mi.fit_decay(pd.DataFrame({"distance": d, "mi_bits": np.full(4, 1.0)}))
    assert fit["xi"] == np.inf and fit["alpha"] == pytest.approx(0.0, abs=1e-12)


def test_fit_table_leaves_an_unknown_track_count_missing():
    d = np.array([1.0, 2.0, 4.0, 8.0])
    curve = pd.DataFrame({"distance": d, "mi_bits": 0.5 * np.exp(-d / 3)})
    table = mi.fit_table({"a": curve, "b": curve}, n_tracks={"a": 12})
    assert table["curve"].tolist() == ["a", "b"]
    assert table["n_tracks"].dtype == np.float64 and table["n_tracks"][0] == 12
    assert np.isnan(table["n_tracks"][1])
    assert table["xi"].tolist() == pytest.approx([3.0, 3.0])
    assert "n_tracks" not in mi.fit_table({"a": curve}).columns
    assert mi.fit_table({"b": curve}, n_tracks={})["n_tracks"].dtype == np.float64


def test_significant_by_its_three_conditions():
    curve = pd.DataFrame(
        {
            "mi_bits": [0.2, 0.0, -0.01, 0.2, 0.2, np.nan],
            "lo": [0.15, 0.0, -0.02, 0.05, np.nan, np.nan],
            "noise_floor": [0.1, -0.1, np.nan, 0.1, 0.1, np.nan],
        }
    )
    # above its floor; zero is no information; negative; band reaches the floor; no band:
    # the estimate itself is above the floor; no estimate
    assert mi.significant(curve).tolist() == [True, False, False, False, True, False]


def test_log_distances_of_one_point_and_the_message():
    assert mi.log_distances(10, 1).tolist() == [1]
    with pytest.raises(ValueError, match=r"need max_distance >= 1 and n >= 1, got 5, 0"):
        mi.log_distances(5, 0)


def test_shuffled_keeps_everything_but_the_order_and_names_a_bad_mode():
    ts = binary_chain_tracks(4, 30, 0.1, seed=2)
    ts = TrackSet.from_tracks(
        list(ts), ts.styles, ts.style, latent=np.arange(8.0).reshape(4, 2), ids=list("abcd")
    )
    ts.meta["source"] = "chain"
    default = mi.shuffled(ts)
    assert default.events.tolist() == mi.shuffled(ts, seed=0, within="corpus").events.tolist()
    assert default.events.tolist() != mi.shuffled(ts, seed=1).events.tolist()
    assert np.array_equal(default.latent, ts.latent) and default.meta == {"source": "chain"}
    assert list(default.ids) == list("abcd")
    with pytest.raises(ValueError, match=r"unknown shuffle 'piece'; use 'corpus' or 'track'"):
        mi.shuffled(ts, within="piece")


def _curve_cfg(**kw):
    import dataclasses

    from vrashlib.config import load_config

    base = dict(max_distance=8, n_distances=4, token="pitch", n_bootstrap=12, min_pairs=1)
    return dataclasses.replace(load_config("smoke").mi, **{**base, **kw})


def test_mi_curve_band_and_columns_by_hand():
    """The band is the central ``band`` of the bootstrap estimates (drawn as the
    docstring says), shifted so that its median sits on the estimate; the plug-in column
    is the plug-in estimate of the set itself."""
    rng = np.random.default_rng(0)
    tracks = [pitch_track(*rng.integers(55, 67, size=n)) for n in (14, 9, 20, 11, 16)]
    ts = TrackSet.from_tracks(tracks, ("x",), [0] * 5)
    cfg = _curve_cfg(band=0.8, estimator="grassberger")
    curve = mi.mi_curve(ts, cfg, seed=4)
    d = mi.log_distances(8, 4)
    draw = np.random.default_rng(4)
    weights = np.vstack([np.ones(5), draw.multinomial(5, np.full(5, 0.2), size=12)])
    rows = mi.mi_rows(ts, d, weights, estimator="grassberger")
    lo_q, mid, hi_q = np.nanquantile(rows[1:], [0.1, 0.5, 0.9], axis=0)
    np.testing.assert_allclose(curve["mi_bits"], rows[0], rtol=1e-12)
    np.testing.assert_allclose(curve["lo"], rows[0] - (mid - lo_q), rtol=1e-12)
    np.testing.assert_allclose(curve["hi"], rows[0] + (hi_q - mid), rtol=1e-12)
    plugin = mi.mutual_information(ts, d, estimator="plugin")
    np.testing.assert_allclose(curve["mi_plugin_bits"], plugin, rtol=1e-12)
    assert (curve["hi"] > curve["lo"]).all()
    assert curve.equals(mi.mi_curve(ts, _curve_cfg(band=0.8, estimator="grassberger"), seed=4))
    assert not curve.equals(mi.mi_curve(ts, cfg))  # another seed draws other sets
    assert mi.mi_curve(ts, cfg).equals(mi.mi_curve(ts, cfg, seed=0))  # the default seed is 0


def test_mi_curve_noise_floor_is_in_bits_and_edges_of_the_set():
    # every track holds one pitch: shuffling inside tracks changes nothing, so the noise
    # floor is the estimate itself, log2(3) bits for three equally common pitches
    tracks = [pitch_track(*[p] * 12) for p in (60, 62, 64, 60, 62, 64)]
    ts = TrackSet.from_tracks(tracks, ("x",), [0] * 6)
    curve = mi.mi_curve(ts, _curve_cfg(shuffle="track", estimator="plugin", n_bootstrap=3))
    np.testing.assert_allclose(curve["noise_floor"], math.log2(3), rtol=1e-12)
    np.testing.assert_allclose(curve["mi_bits"], math.log2(3), rtol=1e-12)
    two = TrackSet.from_tracks(tracks[:2], ("x",), [0, 0])
    assert np.isfinite(mi.mi_curve(two, _curve_cfg())["mi_bits"]).all()  # two tracks suffice
    one = mi.mi_curve(ts.subset([0]), _curve_cfg())
    assert one["mi_bits"].isna().all() and one["n_pairs"].tolist() == [11, 10, 8, 4]
    # a distance with exactly min_pairs pairs is kept; one pair fewer is not
    edge = mi.mi_curve(two, _curve_cfg(min_pairs=8))  # d = 8: 2 x 4 pairs
    assert np.isfinite(edge["mi_bits"]).tolist() == [True, True, True, True]
    assert np.isfinite(mi.mi_curve(two, _curve_cfg(min_pairs=9))["mi_bits"]).tolist() == [
        True,
        True,
        True,
        False,
    ]
    # one bootstrap set: a band of width 0, not a missing band
    single = mi.mi_curve(ts, _curve_cfg(n_bootstrap=1))
    assert (single["lo"] == single["mi_bits"]).all() and (single["hi"] == single["mi_bits"]).all()
    # no bootstrap sets: no band
    none = mi.mi_curve(ts, _curve_cfg(n_bootstrap=0))
    assert none["lo"].isna().all() and none["hi"].isna().all() and none["mi_bits"].notna().all()
