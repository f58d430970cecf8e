"""Fig. 6: the line-up of compared sets, excess curves, and the observations' statistics."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from tests.conftest import random_walk_tracks
from vrashlib.analysis import claims, fig6, mi
from vrashlib.analysis.fig6 import CurveDraws
from vrashlib.config import load_config
from vrashlib.data.tracks import TrackSet


class _AcceptEven:
    """A stand-in filter that accepts every other track."""

    def accept(self, tracks: TrackSet) -> np.ndarray:
        return np.arange(len(tracks)) % 2 == 0


def test_fig6_sets_name_each_set_and_filter_only_the_vrash_sets(tiny_trackset):
    sets = fig6.fig6_sets(
        tiny_trackset, tiny_trackset, tiny_trackset, _AcceptEven(), ("bach", "fiddle")
    )
    for style in tiny_trackset.styles:
        assert len(sets[f"real/{style}"]) == len(tiny_trackset.select(style=style))
    for style in ("bach", "fiddle"):
        before, after = sets[f"vrash/{style}"], sets[f"vrash/{style}/filtered"]
        assert list(after.ids) == list(before.ids[::2])
        other = tiny_trackset.select(style="bach" if style != "bach" else "fiddle")
        assert set(before.ids) & set(other.ids) == set()
        assert len(sets[f"lm/{style}"]) == len(before)
    assert set(fig6.fig6_view("bach", "fiddle")) <= set(sets)


def _curve(values: np.ndarray, d: np.ndarray, *, t: int = 1, r: int = 2, b: int = 3) -> CurveDraws:
    """A curve whose every replicate and run equals ``values``."""
    v = np.asarray(values, float)
    return CurveDraws(
        d, np.ones(len(d), bool), np.tile(v, (t, 1)), np.tile(v, (t, b, 1)), np.tile(v, (r, 1)), 10
    )


def _lineup(d, **over) -> dict[str, CurveDraws]:
    base = {
        "real/bach": 0.5 * d**-0.5,
        "real/fiddle": 0.5 * d**-0.5,
        "vrash/bach": 0.5 * d**-0.3,
        "vrash/bach/filtered": 0.6 * d**-0.2,
        "vrash/fiddle": 0.5 * d**-0.6,
        "vrash/fiddle/filtered": 0.5 * d**-0.9,
        "lm/bach": 0.5 * d**-1.0,
        "lm/fiddle": 0.5 * d**-1.0,
    }
    base.update(over)
    return {k: _curve(v, d) for k, v in base.items()}


def test_observation_statistics_on_constructed_curves():
    d = mi.log_distances(64, 8).astype(float)
    obs = fig6.observation_draws(_lineup(d), "bach", "fiddle", tail_from=8)
    assert set(obs) == {t.name for c in claims.CLAIMS if c.key.startswith("fig6_") for t in c.tests}
    est = {k: v.estimate() for k, v in obs.items()}
    tail = d >= 8
    expect = (0.6 * d[tail] ** -0.2).mean() - (0.5 * d[tail] ** -0.5).mean()
    assert est["fig6.first_filtered_minus_real_tail"].value == pytest.approx(expect)
    # decay ratio = tail / value at d = 1: the LM (alpha 1) falls faster than VRASH (0.3)
    decay = lambda a: (d[tail] ** -a).mean()  # noqa: E731
    assert est["fig6.lm_decay_minus_vrash"].value == pytest.approx(decay(1.0) - decay(0.3))
    assert est["fig6.second_decay_minus_real"].value < 0  # fiddle VRASH 0.6 vs real 0.5
    assert est["fig6.second_filtered_decay_change"].value < -0.05
    # the gap of identical curves is 0; VRASH-fiddle (0.6 vs 0.5) is closer than the LM (1.0)
    assert est["fig6.second_gap_minus.lm_first"].value < 0
    same = fig6.observation_draws(
        _lineup(d, **{"vrash/fiddle": 0.5 * d**-0.5}), "bach", "fiddle", tail_from=8
    )
    assert same["fig6.second_gap_minus.lm_first"].full[0] == pytest.approx(
        -fig6._gap(0.5 * d**-1.0, 0.5 * d**-0.5, d, np.ones(len(d), bool))
    )
    # every statistic of an identical seed run equals the pooled value
    for draws in obs.values():
        np.testing.assert_allclose(draws.runs, draws.full[0])


def test_gap_is_the_mean_absolute_difference_over_log_distance():
    d = np.array([1.0, 10.0, 100.0])
    a, b = np.array([1.0, 1.0, 1.0]), np.array([0.0, 2.0, 1.0])
    # |a - b| = 1, 1, 0 on log10 d = 0, 1, 2: trapezoids (1 + 0.5) / 2
    assert fig6._gap(a, b, d, np.ones(3, bool)) == pytest.approx(0.75)
    assert np.isnan(fig6._gap(a, b, d, np.zeros(3, bool)))


def test_unusable_distances_leave_an_observation_unmeasured():
    d = mi.log_distances(64, 8).astype(float)
    curves = _lineup(d)
    empty = curves["vrash/bach/filtered"]
    curves["vrash/bach/filtered"] = CurveDraws(
        d, np.zeros(len(d), bool), empty.full, empty.reps, empty.runs, 0
    )
    est = fig6.observation_draws(curves, "bach", "fiddle", tail_from=8)
    e = est["fig6.first_filtered_minus_real_tail"].estimate()
    assert np.isnan(e.value) and claims.verdict(e.lo, e.hi, "greater", 0.0) == "not measured"


def test_excess_mi_of_shuffled_order_is_near_zero_and_of_real_order_positive():
    """A melody whose notes depend on the previous ones has excess MI at distance 1;
    the same notes in random order have none (up to estimator noise)."""
    cfg = load_config("smoke").mi
    walks = random_walk_tracks(60, seed=3, min_len=80, max_len=120)
    ts = TrackSet.from_tracks(walks, ("bach",), np.zeros(60, int))
    d = np.array([1, 2, 4])
    rows = fig6.excess_rows(ts, d, np.ones((1, 60)), cfg, "degree", seed=0)
    assert rows[0, 0] > 0.2
    noise = mi.shuffled(ts, seed=5, within="track")
    flat = fig6.excess_rows(noise, d, np.ones((1, 60)), cfg, "degree", seed=1)
    assert abs(flat[0, 0]) < 0.05


def test_curve_draws_pool_generation_seeds_and_keep_each_run():
    cfg = load_config("smoke").mi
    make = lambda s: TrackSet.from_tracks(  # noqa: E731
        random_walk_tracks(12, seed=s, min_len=50, max_len=60), ("bach",), np.zeros(12, int)
    )
    runs = {(0, 0): {"vrash/bach": make(1)}, (0, 1): {"vrash/bach": make(2)}}
    real = {"real/bach": make(3)}
    curves = fig6.curve_draws(runs, real, cfg, token="interval")
    c = curves["vrash/bach"]
    assert c.full.shape == (1, len(c.distance)) and c.runs.shape == (2, len(c.distance))
    assert c.reps.shape == (1, cfg.n_bootstrap, len(c.distance)) and c.n_tracks == 24
    assert curves["real/bach"].runs.shape == (2, len(c.distance))
    np.testing.assert_allclose(curves["real/bach"].runs[0], curves["real/bach"].full[0])


def test_observations_table_judges_each_fig6_claim_per_token():
    d = mi.log_distances(64, 8).astype(float)
    est = {
        k: v.estimate() for k, v in fig6.observation_draws(_lineup(d), "bach", "fiddle", 8).items()
    }
    table = fig6.observations_table({"pitch": est, "degree": est})
    assert len(table) == 10 and set(table["token"]) == {"pitch", "degree"}
    assert set(table["verdict"]) <= set(claims.VERDICTS)


def test_run_sets_filter_each_run_with_its_training_seeds_filter(tiny_trackset):
    class _AcceptNone:
        def accept(self, tracks):
            return np.zeros(len(tracks), bool)

    bach, fiddle = tiny_trackset.select(style="bach"), tiny_trackset.select(style="fiddle")
    by_kind = {k: {"bach": bach, "fiddle": fiddle} for k in ("vrash", "lm")}
    samples = {(0, 0): by_kind, (0, 1): by_kind, (1, 0): by_kind}
    runs = fig6.run_sets(samples, {0: _AcceptEven(), 1: _AcceptNone()}, ("bach", "fiddle"))
    assert len(runs[(0, 0)]["vrash/bach/filtered"]) == (len(bach) + 1) // 2
    assert len(runs[(1, 0)]["vrash/bach/filtered"]) == 0
    pooled = fig6.pooled(runs, 0)
    assert len(pooled["lm/fiddle"]) == 2 * len(fiddle)
    acc = fig6.acceptance(runs, ("bach", "fiddle")).set_index(["training_seed", "style"])
    assert acc.loc[(0, "bach"), "melodies"] == 2 * len(bach)
    assert acc.loc[(1, "fiddle"), "accepted_share"] == 0.0


def test_curve_draws_and_mi_curves_do_not_depend_on_the_number_of_workers():
    """The random draws are made before the sets are spread over worker processes, so
    two workers give the same numbers as one."""
    make = lambda s: TrackSet.from_tracks(  # noqa: E731
        random_walk_tracks(10, seed=s, min_len=40, max_len=50), ("bach",), np.zeros(10, int)
    )
    runs = {(t, g): {"vrash/bach": make(10 * t + g), "lm/bach": make(50 + 10 * t + g)}
            for t in (0, 1) for g in (0, 1)}  # fmt: skip
    real = {"real/bach": make(99)}
    by_threads = {}
    for threads in (1, 2):
        cfg = dataclasses.replace(load_config("smoke").mi, threads=threads)
        by_threads[threads] = (
            fig6.curve_draws(runs, real, cfg, token="interval"),
            fig6.mi_curves({**real, "lm/bach": make(7)}, cfg, ("interval", "pitch")),
        )
    (draws1, curves1), (draws2, curves2) = by_threads[1], by_threads[2]
    assert list(draws1) == list(draws2) == ["real/bach", "vrash/bach", "lm/bach"]
    for name, c in draws1.items():
        for field in ("usable", "full", "reps", "runs"):
            np.testing.assert_array_equal(getattr(c, field), getattr(draws2[name], field))
        assert c.n_tracks == draws2[name].n_tracks
    assert draws1["vrash/bach"].n_tracks == 40 and draws1["lm/bach"].full.shape[0] == 2
    for token in ("interval", "pitch"):
        for name in curves1[token]:
            pd.testing.assert_frame_equal(curves1[token][name], curves2[token][name])
    assert not curves1["interval"]["lm/bach"].equals(curves1["pitch"]["lm/bach"])
