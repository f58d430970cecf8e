"""Table 1 on repeated splits, both protocols, precision-recall curves, strict heuristics
with a minimum support."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from vrashlib.analysis import claims, table1
from vrashlib.filter import classifiers
from vrashlib.filter.heuristics import apply_rules, find_rules


@pytest.fixture(scope="module")
def pool() -> tuple[pd.DataFrame, np.ndarray]:
    """400 tracks, 4 features; "good" (~25 %) depends on the first two, noisily."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 4))
    good = x[:, 0] + 0.5 * x[:, 1] + 0.6 * rng.normal(size=400) > 0.9
    return pd.DataFrame(x, columns=list("abcd")), good


def test_split_scores_are_deterministic_and_stratified(pool):
    x, good = pool
    a = table1.split_scores(x, good, shares=(0.5, 0.2), n_splits=3, seed=1, methods=("logreg",))
    b = table1.split_scores(x, good, shares=(0.5, 0.2), n_splits=3, seed=1, methods=("logreg",))
    pd.testing.assert_frame_equal(a, b)
    assert len(a) == 6 and set(a["test_share"]) == {0.5, 0.2}
    assert (a.groupby("test_share")["rated_good"].nunique() == 1).all()  # stratified
    c = table1.split_scores(x, good, shares=(0.5,), n_splits=3, seed=2, methods=("logreg",))
    assert not c["precision_good"].equals(
        a[a["test_share"] == 0.5]["precision_good"].reset_index(drop=True)
    )


def test_the_papers_protocol_does_not_reweight_and_so_accepts_fewer(pool):
    x, good = pool
    kw = dict(shares=(0.5,), n_splits=4, seed=0, methods=("logreg",))
    paper = table1.split_scores(x, good, class_weight=None, **kw)
    ours = table1.split_scores(x, good, class_weight="balanced", **kw)
    assert paper["pred_good"].mean() < ours["pred_good"].mean()
    assert paper["recall_good"].mean() < ours["recall_good"].mean()
    assert paper["precision_good"].mean() > ours["precision_good"].mean()
    assert classifiers.make_classifier("svc_rbf", class_weight=None)[-1].class_weight is None


def test_summary_and_measurements(pool):
    x, good = pool
    per = table1.split_scores(x, good, shares=(0.5, 0.3, 0.2), n_splits=5, seed=0)
    table = table1.table1_summary(per, "ours")
    assert len(table) == 9 and set(table["protocol"]) == {"ours"}
    assert (table["precision_lo"] <= table["precision_good"]).all()
    assert (table["precision_good"] <= table["precision_hi"]).all()
    row = table[(table["method"] == "Logistic regression") & (table["test_share"] == 0.5)].iloc[0]
    assert row["paper_value"] == 0.79 and row["splits"] == 5
    m = table1.table1_measurements(per, "ours", "5 splits")
    assert set(m) == {
        f"table1.ours.{k}.{meth}" for k in ("precision", "gain") for meth in claims.METHODS
    }
    gain = m["table1.ours.gain.logreg"]
    lr = per[per["method"] == "logreg"].set_index(["test_share", "split"])["precision_good"]
    assert gain.per_seed == pytest.approx((lr.loc[0.2] - lr.loc[0.5]).tolist())
    assert len(m["table1.ours.precision.logreg"].per_seed) == 15


def test_pr_curves_end_at_full_recall_and_report_average_precision(pool):
    x, good = pool
    pr = table1.pr_curves(x, good, class_weight=None, methods=("logreg", "svc_linear"))
    assert set(pr["method"]) == {"Logistic regression", "SVC with linear kernel"}
    for _, c in pr.groupby("method"):
        assert c["recall"].max() == 1.0 and c["base_rate"].iloc[0] == pytest.approx(good.mean())
        assert c["average_precision"].iloc[0] > good.mean()  # better than no skill


def test_min_support_keeps_enough_tracks_and_reports_the_precision_it_reaches():
    rng = np.random.default_rng(1)
    x = pd.DataFrame({"a": rng.normal(size=300), "b": rng.normal(size=300)})
    good = (x["a"] + 0.8 * rng.normal(size=300) > 1.0).to_numpy()
    strict = find_rules(x, good, max_rules=3)
    loose = find_rules(x, good, max_rules=3, min_support=45)
    kept_strict, kept = apply_rules(strict, x), apply_rules(loose, x)
    assert kept.sum() >= 45 > kept_strict.sum()
    assert good[kept_strict].all()  # precision 1 on the fitting set, few tracks
    assert 0.5 < good[kept].mean() < 1.0  # the most precise set of the required size
    with pytest.raises(ValueError, match="min_support"):
        find_rules(x, good, max_rules=3, min_support=-1)


def test_heuristics_on_splits(pool):
    x, good = pool
    rules, per = table1.heuristics_on_splits(
        x, good, n_splits=4, test_share=0.3, max_rules=3, min_support=0.1, seed=0
    )
    assert rules and set(per["part"]) == {"train", "test"} and per["split"].nunique() == 4
    train = per[per["part"] == "train"]
    assert (train["accepted"] >= np.ceil(0.1 * train["n_tracks"])).all()
    table = table1.heuristics_table(per, 0.1)
    assert table["split"].tolist() == ["train", "test", "test, 4 splits"]
    test = table.iloc[1]
    assert test["precision_lo"] <= test["precision_good"] <= test["precision_hi"]
    m = table1.heuristics_measurement(per, "4 splits")["heuristics.test_precision"]
    assert m.n_units == 4


def test_protocol_pools_leave_out_a_pool_too_small_to_judge():
    from tests.conftest import random_walk_tracks
    from vrashlib.config import load_config
    from vrashlib.data.tracks import TrackSet
    from vrashlib.filter.features import compute_features

    cfg = load_config("smoke")
    n = 60
    vrash = TrackSet.from_tracks(
        random_walk_tracks(n, seed=4), ("bach", "fiddle"), np.zeros(n, int),
        latent=np.random.default_rng(0).normal(size=(n, 3)), ids=[f"v{i}" for i in range(n)],
    )  # fmt: skip
    index = pd.MultiIndex.from_arrays([["vrash"] * n, vrash.ids], names=["source", "track_id"])
    x = compute_features(vrash, cfg.filter.windows, include_latent=False).set_axis(index)
    for n_good, expect in ((30, {"paper", "ours"}), (4, set())):
        good = np.arange(n) < n_good
        rated = pd.DataFrame({"good": good}, index=index)
        pools, note = table1.protocol_pools(cfg, {"vrash": vrash}, rated, x, good, np.ones(n, bool))
        assert set(pools) == expect, note
        if "paper" in pools:
            assert {"z0", "z1", "z2"} <= set(pools["paper"][0].columns)  # latent among features
            assert "z0" not in pools["ours"][0].columns
        else:
            assert note.count("not judged") == 2


def test_table1_plots(pool):
    import matplotlib.pyplot as plt

    from vrashlib.viz.filter import plot_pr_curves, plot_table1

    x, good = pool
    table, _, pr = table1.evaluate_protocols(
        {"paper": (x, good), "ours": (x, good)}, shares=(0.5, 0.2), n_splits=2, seed=0
    )
    assert list(pd.unique(table["protocol"])) == ["paper", "ours"]
    for fig in (plot_table1(table), plot_pr_curves(pr)):
        assert [ax.get_title() for ax in fig.axes] == ["paper protocol", "ours protocol"]
        plt.close(fig)
