"""Intervals: bootstrap over melodies, two levels over seeds, binomial, repeated splits."""

from __future__ import annotations

import numpy as np
import pytest

from vrashlib.analysis import uncertainty as u


def test_interval_is_the_central_percentile_range():
    x = np.arange(1001, dtype=float)
    assert u.interval(x, 0.9) == pytest.approx((50.0, 950.0))
    assert np.isnan(u.interval(np.array([np.nan]))[0])


def test_ratio_replicates_weigh_melodies_by_their_denominator():
    rng = np.random.default_rng(0)
    num, den = np.array([1.0, 0.0, 9.0]), np.array([1.0, 1.0, 10.0])
    full, reps = u.ratio_replicates(num, den, 500, rng)
    assert full == pytest.approx(10 / 12)
    assert reps.shape == (500,) and np.all((reps >= 0) & (reps <= 1))


def test_bootstrap_interval_of_a_mean_covers_the_truth_at_about_95_percent():
    rng = np.random.default_rng(1)
    hits = 0
    for _ in range(200):
        x = rng.random(200) < 0.3
        full, reps = u.mean_replicates(x, 400, rng)
        lo, hi = u.interval(reps)
        hits += lo <= 0.3 <= hi
    assert 0.88 <= hits / 200 <= 0.99


def test_draws_difference_is_replicate_by_replicate():
    sets_a = [[(np.ones(50), np.ones(50))]]  # share 1.0
    sets_b = [[(np.zeros(50), np.ones(50))]]  # share 0.0
    a = u.draws_from_sets(sets_a, n_boot=100, seed=0)
    b = u.draws_from_sets(sets_b, n_boot=100, seed=1)
    est = (a - b).estimate()
    assert (est.value, est.lo, est.hi) == (1.0, 1.0, 1.0)
    assert est.per_seed == (1.0,)


def test_two_level_bootstrap_widens_with_disagreeing_training_seeds():
    rng = np.random.default_rng(2)
    alike = [[(rng.random(300) < 0.5, np.ones(300))] for _ in range(3)]
    apart = [[(rng.random(300) < p, np.ones(300))] for p in (0.2, 0.5, 0.8)]
    e_alike = u.draws_from_sets(alike, n_boot=500).estimate()
    e_apart = u.draws_from_sets(apart, n_boot=500).estimate()
    assert (e_apart.hi - e_apart.lo) > 3 * (e_alike.hi - e_alike.lo)
    assert e_apart.value == pytest.approx(np.mean([np.mean(s[0][0]) for s in apart]))
    assert "3 training seeds" in e_apart.method


def test_runs_are_each_generation_seed_alone():
    sets = [[(np.array([1.0, 1.0]), np.ones(2)), (np.array([0.0, 0.0]), np.ones(2))]]
    d = u.draws_from_sets(sets, n_boot=50)
    assert d.full.tolist() == [0.5] and d.runs.tolist() == [1.0, 0.0]
    with pytest.raises(ValueError, match="at least one"):
        u.draws_from_sets([[]])


def test_draws_of_different_layouts_do_not_combine():
    a = u.draws_from_sets([[(np.ones(3), np.ones(3))]], n_boot=10)
    b = u.draws_from_sets([[(np.ones(3), np.ones(3))]], n_boot=20)
    with pytest.raises(ValueError, match="different layouts"):
        a - b


def test_draws_from_runs_resamples_the_runs():
    d = u.draws_from_runs([[0.6, 0.7, 0.8]], n_boot=200)
    est = d.estimate()
    assert est.value == pytest.approx(0.7)
    assert 0.6 - 1e-12 <= est.lo <= est.hi <= 0.8 + 1e-12
    assert "seed runs" in est.method
    assert est.per_seed == (0.6, 0.7, 0.8)


def test_clopper_pearson_by_hand():
    lo, hi = u.clopper_pearson(10, 10)
    assert hi == 1.0 and lo == pytest.approx(0.025 ** (1 / 10))
    lo, hi = u.clopper_pearson(0, 10)
    assert lo == 0.0 and hi == pytest.approx(1 - 0.025 ** (1 / 10))
    assert np.isnan(u.clopper_pearson(0, 0)[0])


def test_from_samples_reports_the_spread_of_repeats():
    est = u.from_samples(np.linspace(0, 1, 41), unit="precision")
    assert est.value == pytest.approx(0.5)
    assert est.lo == pytest.approx(0.025) and est.hi == pytest.approx(0.975)
    assert len(est.per_seed) == 41 and est.n_units == 41
    assert "0.500 [0.025, 0.975] precision" == est.text()
