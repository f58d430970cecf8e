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
