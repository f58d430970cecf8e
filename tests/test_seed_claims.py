"""The ledger's own measurements (notebook 07) on tiny models, and that every claim's
measurement has a producer."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from vrashlib.analysis import claims, fig6, seed_claims, table1
from vrashlib.analysis.claims import TEMPERATURES
from vrashlib.config import load_config
from vrashlib.models.evaluation import evaluate
from vrashlib.models.training import build_module

torch.set_num_threads(1)
CFG = load_config(
    "smoke",
    {"claims.n_per_seed": 6, "claims.generation_seeds": 2, "claims.n_bootstrap": 50,
     "generate.threads": 1, "stream.music_minutes": 0.2, "claims.stream_seeds": 2},
)  # fmt: skip


@pytest.fixture(scope="module")
def models(request):
    tracks = request.getfixturevalue("tiny_trackset")
    return tracks, {
        0: {k: build_module(k, tracks, CFG).eval() for k in seed_claims.KINDS},
        1: {
            k: build_module(k, tracks, load_config("smoke", {"train.seed": 1})).eval()
            for k in seed_claims.KINDS
        },
    }


@pytest.fixture(scope="module")
def tiny_trackset():  # module scope (conftest's is per test)
    from tests.conftest import random_walk_tracks
    from vrashlib.data.tracks import TrackSet

    split = np.array([0] * 28 + [1] * 6 + [2] * 6, dtype=np.uint8)
    return TrackSet.from_tracks(
        random_walk_tracks(40, seed=1), ("bach", "fiddle"), np.arange(40) % 2, split=split,
        ids=[f"walk{i}" for i in range(40)],
    )  # fmt: skip


def test_per_track_bits_add_up_to_the_evaluated_bound(models):
    tracks, by_seed = models
    val = tracks.select(split="val")
    for kind, model in by_seed[0].items():
        bits, events = seed_claims.per_track_bits(model, val, 4)
        s = evaluate(model, val, 4)
        assert bits.sum() / events.sum() == pytest.approx(s["bound_total"], rel=1e-5), kind
        assert events.tolist() == (val.lengths + 1).tolist()  # end marker included


def test_fig4_measurements(models):
    tracks, by_seed = models
    est, table = seed_claims.fig4_measurements(by_seed, tracks, CFG)
    assert set(est) == {"fig4.vrash_minus_lm", "fig4.vae_minus_best", "fig4.random_over_vae"}
    assert table["model"].tolist() == ["lm", "vae", "vrash", "random"]
    t = table.set_index("model")["bound_bits"]
    assert est["fig4.vrash_minus_lm"].value == pytest.approx(t["vrash"] - t["lm"])
    assert len(est["fig4.vrash_minus_lm"].per_seed) == 2  # one per training seed
    for e in est.values():
        assert e.lo <= e.hi and "2 training seeds" in e.method
    one = replace(CFG, claims=replace(CFG.claims, threads=1))
    est1, table1_ = seed_claims.fig4_measurements(by_seed, tracks, one)
    pd.testing.assert_frame_equal(table, table1_)  # two models at once: the same numbers
    for k, e in est.items():
        assert (e.value, e.lo, e.hi) == (est1[k].value, est1[k].lo, est1[k].hi)


@pytest.fixture(scope="module")
def sets(models):
    return seed_claims.sample_claim_sets(models[1], CFG)


def test_claim_sets_cover_every_temperature_seed_model_and_style(sets):
    assert sorted(sets) == sorted(TEMPERATURES)
    runs = sets[1.0]
    assert sorted(runs) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    for by_kind in runs.values():
        assert set(by_kind) == set(seed_claims.KINDS)
        assert all(len(ts) == 6 for by_style in by_kind.values() for ts in by_style.values())


def test_melody_measurements(models, sets):
    tracks, _ = models
    est, rep, acc = seed_claims.melody_measurements(sets, tracks, CFG, "2 x 2")
    assert {f"accept.ratio_to_real.{k}" for k in seed_claims.KINDS} <= set(est)
    assert len(est["accept.vrash_minus_lm"].per_seed) == 4  # 2 training x 2 generation seeds
    assert set(rep["temperature"].dropna()) == set(TEMPERATURES)
    assert (rep["run4_share"].between(0, 1)).all() and (
        rep["repeat_rate"].dropna().between(0, 1)
    ).all()
    assert acc["model"].tolist() == [*seed_claims.KINDS, "real"]
    assert acc["acceptable_share"].between(0, 1).all()


def test_similarity_table(models, sets):
    tracks, _ = models
    sim = seed_claims.similarity_table(sets[1.0], tracks, CFG, "2 x 2")
    assert len(sim) == 2 * 4  # per style: real halves + three models
    assert sim["realness_auc"].dropna().between(0, 1).all()
    one = replace(CFG, claims=replace(CFG.claims, threads=1))
    pd.testing.assert_frame_equal(
        sim, seed_claims.similarity_table(sets[1.0], tracks, one, "2 x 2")
    )


class _AcceptAll:
    info: dict = {}

    def accept(self, tracks):
        return np.ones(len(tracks), bool)

    def score(self, tracks):
        return np.ones(len(tracks))


def test_stream_measurement(models):
    tracks, by_seed = models
    est, table = seed_claims.stream_measurement(by_seed[0]["vrash"], _AcceptAll(), CFG, tracks)
    e = est["stream.realtime_factor"]
    assert len(table) == 2 and (table["melodies"] > 0).all()
    assert e.value > 0 and e.lo <= e.hi and len(e.per_seed) == 2


def test_every_claim_has_a_producer(models, sets):
    tracks, by_seed = models
    produced = set(seed_claims.fig4_measurements(by_seed, tracks, CFG)[0])
    produced |= set(seed_claims.melody_measurements(sets, tracks, CFG, "")[0])
    produced |= set(
        seed_claims.stream_measurement(by_seed[0]["vrash"], _AcceptAll(), CFG, tracks)[0]
    )
    rng = np.random.default_rng(0)
    x = pd.DataFrame(rng.normal(size=(80, 2)), columns=["a", "b"])
    good = x["a"].to_numpy() > 0.3
    per = table1.split_scores(x, good, shares=(0.5, 0.2), n_splits=2)
    for protocol in table1.PROTOCOLS:
        produced |= set(table1.table1_measurements(per, protocol, ""))
    _, heur = table1.heuristics_on_splits(
        x, good, n_splits=2, test_share=0.3, max_rules=2, min_support=0.1
    )
    produced |= set(table1.heuristics_measurement(heur, ""))
    from tests.test_fig6 import _lineup
    from vrashlib.analysis import mi

    produced |= set(
        fig6.observation_draws(_lineup(mi.log_distances(64, 8).astype(float)), "bach", "fiddle", 8)
    )
    missing = claims.measurement_names() - produced
    assert not missing, f"claims whose measurement nothing produces: {sorted(missing)}"
