"""Overlapping areas (Yang & Lerch), out-of-key rate: constructed cases."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import random_walk_tracks
from tests.test_keys import C_MAJOR, _melody, _set
from vrashlib.analysis import similarity
from vrashlib.data.tracks import TrackSet


def test_overlap_area_of_alike_and_of_disjoint_samples():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=2000), rng.normal(size=2000)
    assert similarity.overlap_area(a, b) > 0.9
    assert similarity.overlap_area(a, b + 20) < 0.01
    assert similarity.overlap_area(np.ones(5), np.ones(5)) == 1.0  # no spread at all
    assert 0 <= similarity.overlap_area(np.ones(5), np.r_[np.ones(4), 2.0]) <= 1
    assert np.isnan(similarity.overlap_area(np.ones(1), np.ones(5)))


def test_melody_features_by_hand():
    f = similarity.melody_features(_set(_melody([60, 62, None, 60, 72])))
    assert f["pitch_count"][0, 0] == 3
    assert f["pitch_class_histogram"][0, 0] == pytest.approx(0.75)
    # intervals +2, -2, +12: bins 14, 10, 24 of 25
    hist = f["pitch_interval_histogram"][0]
    assert hist[[14, 10, 24]] == pytest.approx([1 / 3] * 3) and hist.sum() == pytest.approx(1)
    # onsets 0, 1, 3, 4 (the rest lengthens the gap): mean 4/3
    assert f["inter_onset_interval"][0, 0] == pytest.approx(4 / 3)
    assert f["duration_histogram"][0, 8] == 1.0  # every note one median length


def _walks(seed, n=60, step=None):
    walks = random_walk_tracks(n, seed=seed, min_len=40, max_len=60)
    return TrackSet.from_tracks(walks, ("x",), np.zeros(n, int))


def test_a_set_is_closer_to_itself_than_to_another_kind_of_melody():
    real = _walks(1)
    same_kind = similarity.overlap_areas(real, _walks(2))
    drones = _set(*[_melody([60] * 40) for _ in range(30)])
    other = similarity.overlap_areas(real, drones)
    for k in similarity.FEATURES:
        assert same_kind[f"oa_{k}"] >= other[f"oa_{k}"], k
    assert same_kind["oa_pitch_count"] > 0.5 and other["oa_pitch_count"] < 0.2


def test_out_of_key_rate():
    assert similarity.out_of_key_rate(_set(_melody([*C_MAJOR, 61]))) == pytest.approx(1 / 12)


def test_similarity_row_has_every_metric():
    row = similarity.similarity_row(_walks(1, 30), _walks(2, 30))
    assert set(row) == set(similarity.METRICS)
    assert 0.0 <= row["realness_auc"] <= 1.0


def test_binned_density_matches_scipys_kde():
    from scipy import stats

    x = np.random.default_rng(1).gamma(2.0, size=5000)
    grid = np.linspace(-1, 15, 512)
    np.testing.assert_allclose(similarity.density(x, grid), stats.gaussian_kde(x)(grid), atol=3e-3)
    assert np.isnan(similarity.density(np.ones(10), grid)).all()


def test_auc_standard_error_by_hand():
    # Q1 = 0.8 / 1.2, Q2 = 2 * 0.64 / 1.8; var = (0.16 + 49 (Q1 - 0.64) + 49 (Q2 - 0.64)) / 2500
    assert similarity.auc_interval_sd(0.8, 50, 50) == pytest.approx((4.951111 / 2500) ** 0.5)
    assert similarity.auc_interval_sd(0.9, 400, 400) < similarity.auc_interval_sd(0.9, 40, 40)
    assert np.isnan(similarity.auc_interval_sd(float("nan"), 5, 5))


def test_distributions_are_compared_within_each_style(tiny_trackset):
    import matplotlib.pyplot as plt

    from vrashlib.viz.similarity import plot_distributions_by_style

    gen = {"lm": tiny_trackset.select(style="fiddle")}
    by_style = similarity.distributions_by_style(gen, tiny_trackset, ("bach", "fiddle"))
    assert set(by_style) == {"bach", "fiddle"} and set(by_style["bach"]) == {"real", "lm"}
    n_real_bach = len(tiny_trackset.select(style="bach"))
    assert len(by_style["bach"]["real"]["length"]) == n_real_bach
    assert len(by_style["bach"]["lm"]["length"]) == 0  # no fiddle melody counted as Bach
    np.testing.assert_allclose(
        by_style["fiddle"]["real"]["pitch_class"], by_style["fiddle"]["lm"]["pitch_class"]
    )
    fig = plot_distributions_by_style(by_style)
    assert len(fig.axes) == 6
    plt.close(fig)
