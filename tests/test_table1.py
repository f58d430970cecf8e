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


# ------------------------------------------------------- the summaries, by hand
def _per_split() -> pd.DataFrame:
    """Two methods x two shares x three splits, the numbers chosen by hand; listed with
    svc_rbf first and share 0.2 before 0.5, an order the tables must keep."""
    rows = []
    for method in ("svc_rbf", "logreg"):
        for share, n_test in ((0.2, 40), (0.5, 100)):
            for i in range(3):
                pred_good = [0, 4, 8][i] if method == "svc_rbf" else [5, 6, 7][i]
                prec = np.nan if pred_good == 0 else 0.25 * (i + 1) + (share == 0.5) * 0.1
                rows.append({
                    "method": method, "test_share": share, "split": i, "n_test": n_test,
                    "rated_good": 10 + i, "pred_good": pred_good, "precision_good": prec,
                    "recall_good": 0.1 * (i + 1), "accuracy": 0.5 + 0.1 * i,
                })  # fmt: skip
    return pd.DataFrame(rows)


def test_table1_summary_by_hand():
    from vrashlib.analysis.uncertainty import from_samples

    got = table1.table1_summary(_per_split(), "ours")
    assert list(got.columns) == [
        "protocol", "method", "test_share", "splits", "n_test", "rated_good", "pred_good",
        "no_accept_share", "precision_good", "precision_lo", "precision_hi", "recall_good",
        "recall_lo", "recall_hi", "accuracy", "paper_bad", "paper_good", "paper_value",
    ]  # fmt: skip
    assert got["method"].tolist() == ["SVC with rbf kernel"] * 2 + ["Logistic regression"] * 2
    assert got["test_share"].tolist() == [0.2, 0.5, 0.2, 0.5]  # in the order given
    assert (got["protocol"] == "ours").all() and (got["splits"] == 3).all()
    assert got["n_test"].tolist() == [40, 100, 40, 100]
    assert (got["rated_good"] == 11.0).all()
    assert got["pred_good"].tolist() == [4.0, 4.0, 6.0, 6.0]
    assert got["no_accept_share"].tolist() == pytest.approx([1 / 3, 1 / 3, 0.0, 0.0])
    prec = from_samples([np.nan, 0.5, 0.75])
    rec = from_samples([0.1, 0.2, 0.3])
    row = got.iloc[0]
    assert (row["precision_good"], row["precision_lo"], row["precision_hi"]) == (
        pytest.approx(prec.value), pytest.approx(prec.lo), pytest.approx(prec.hi))  # fmt: skip
    assert (row["recall_good"], row["recall_lo"], row["recall_hi"]) == (
        pytest.approx(rec.value), pytest.approx(rec.lo), pytest.approx(rec.hi))  # fmt: skip
    assert row["precision_good"] == pytest.approx(0.625)  # NaN left out of the mean
    assert got["accuracy"].tolist() == pytest.approx([0.6] * 4)
    # the paper's row where it has one, NaN at a share the paper did not use
    paper = ["paper_bad", "paper_good", "paper_value"]
    assert got.iloc[2][paper].tolist() == list(classifiers.PAPER_TABLE1[("logreg", 0.2)])
    assert got.iloc[3][paper].tolist() == list(classifiers.PAPER_TABLE1[("logreg", 0.5)])
    assert got.iloc[0][paper].tolist() == list(classifiers.PAPER_TABLE1[("svc_rbf", 0.2)])
    odd = table1.table1_summary(_per_split().assign(test_share=0.25), "paper")
    assert odd[paper].isna().all().all() and len(odd) == 2


def test_table1_measurements_by_hand():
    per = _per_split()
    got = table1.table1_measurements(per, "paper", "3 splits")
    assert list(got) == [
        "table1.paper.precision.svc_rbf", "table1.paper.gain.svc_rbf",
        "table1.paper.precision.logreg", "table1.paper.gain.logreg",
    ]  # fmt: skip
    p = got["table1.paper.precision.logreg"]
    want = per[per["method"] == "logreg"]["precision_good"].to_numpy()
    assert p.per_seed == pytest.approx(tuple(want)) and p.unit == "precision"
    assert p.seeds == "3 splits"
    gain = got["table1.paper.gain.logreg"]  # split i at 0.2 minus split i at 0.5: -0.1 each
    assert gain.per_seed == pytest.approx((-0.1, -0.1, -0.1)) and gain.value == pytest.approx(-0.1)
    assert gain.unit == "precision at 0.2 minus at 0.5" and gain.seeds == "3 splits"


def _heuristic_splits() -> pd.DataFrame:
    rows = []
    for i, (acc_tr, acc_te, prec_te) in enumerate([(8, 4, 0.75), (6, 0, np.nan), (9, 5, 0.6)]):
        rows.append({"split": i + 2, "part": "train", "n_tracks": 60, "rated_good": 15,
                     "accepted": acc_tr, "precision_good": 1.0, "recall_good": acc_tr / 15,
                     "rules": f"a >= {i % 2}"})  # fmt: skip
        rows.append({"split": i + 2, "part": "test", "n_tracks": 20, "rated_good": 5 + i,
                     "accepted": acc_te, "precision_good": prec_te, "recall_good": 0.1 * i,
                     "rules": f"a >= {i % 2}"})  # fmt: skip
    return pd.DataFrame(rows)


def test_heuristics_table_and_measurement_by_hand():
    from vrashlib.analysis.uncertainty import clopper_pearson, from_samples

    got = table1.heuristics_table(_heuristic_splits(), 0.1)
    assert list(got.columns) == [
        "split", "n_tracks", "rated_good", "accepted", "precision_good", "precision_lo",
        "precision_hi", "recall_good", "min_support", "rules",
    ]  # fmt: skip
    assert got["split"].tolist() == ["train", "test", "test, 3 splits"]
    train, test, every = (got.iloc[i] for i in range(3))
    assert (train["n_tracks"], train["rated_good"], train["accepted"]) == (60, 15, 8)
    assert (train["precision_lo"], train["precision_hi"]) == pytest.approx(clopper_pearson(8, 8))
    assert (test["n_tracks"], test["rated_good"], test["accepted"]) == (20, 5, 4)
    assert test["precision_good"] == 0.75 and test["recall_good"] == 0.0
    assert (test["precision_lo"], test["precision_hi"]) == pytest.approx(clopper_pearson(3, 4))
    assert train["rules"] == test["rules"] == "a >= 0" and (got["min_support"] == 0.1).all()
    est = from_samples([0.75, np.nan, 0.6])
    assert every["precision_good"] == pytest.approx(0.675) == pytest.approx(est.value)
    assert (every["precision_lo"], every["precision_hi"]) == pytest.approx((est.lo, est.hi))
    assert every["n_tracks"] == 20 and every["rated_good"] == pytest.approx(6.0)
    assert every["accepted"] == pytest.approx(3.0) and every["recall_good"] == pytest.approx(0.1)
    assert every["rules"] == "2 distinct rule sets"
    # a first split that accepts no test track has no interval
    none = _heuristic_splits()
    none = none[none["split"] != 2]
    row = table1.heuristics_table(none, 0.1).iloc[1]
    assert row["accepted"] == 0 and np.isnan(row["precision_lo"]) and np.isnan(row["precision_hi"])
    m = table1.heuristics_measurement(_heuristic_splits(), "3 splits")
    assert list(m) == ["heuristics.test_precision"]
    e = m["heuristics.test_precision"]
    assert e.per_seed == pytest.approx((0.75, np.nan, 0.6), nan_ok=True)
    assert e.unit == "precision" and e.seeds == "3 splits"


def test_protocol_pools_by_hand():
    """The paper's pool holds the stream's model and style only, with its latent; a pool
    with exactly ``min_per_class`` of a class is judged, one fewer is not; labels may be
    0/1 integers."""
    import dataclasses

    from tests.conftest import random_walk_tracks
    from vrashlib.config import load_config
    from vrashlib.data.tracks import TrackSet
    from vrashlib.filter.features import compute_features

    cfg = load_config("smoke")
    cfg = dataclasses.replace(cfg, filter=dataclasses.replace(cfg.filter, windows=(4, 24)))
    n = 60
    style = np.arange(n) % 2  # bach, fiddle, bach, ...
    vrash = TrackSet.from_tracks(
        random_walk_tracks(n, seed=4), ("bach", "fiddle"), style,
        latent=np.random.default_rng(0).normal(size=(n, 3)), ids=[f"v{i}" for i in range(n)],
    )  # fmt: skip
    index = pd.MultiIndex.from_arrays([["vrash"] * n, vrash.ids], names=["source", "track_id"])
    x = compute_features(vrash, cfg.filter.windows, include_latent=False).set_axis(index)
    assert (cfg.stream.model, cfg.stream.style) == ("vrash", "bach")
    good = (np.arange(n) // 2 < 10).astype(int)  # 10 good of each style, as 0/1
    rated = pd.DataFrame({"good": good.astype(bool)}, index=index)
    pools, note = table1.protocol_pools(cfg, {"vrash": vrash}, rated, x, good, np.ones(n, bool))
    assert set(pools) == {"paper", "ours"}
    assert note == "paper: 30 tracks, 10 acceptable; ours: 60 tracks, 20 acceptable"
    px, py = pools["paper"]
    assert len(px) == 30 and int(np.sum(py)) == 10
    assert list(px.columns) == list(
        compute_features(vrash.select(style="bach"), cfg.filter.windows, include_latent=True)
    )
    few = good.copy()
    few[np.flatnonzero(style == 0)[:1]] = 0  # 9 good Bach tracks: the paper's pool is out
    pools, note = table1.protocol_pools(cfg, {"vrash": vrash}, rated.assign(good=few > 0), x,
                                        few, np.ones(n, bool))  # fmt: skip
    assert set(pools) == {"ours"}
    assert note.startswith("paper: 30 tracks, 9 acceptable: fewer than 10 of a class, not judged")
    most = (np.arange(n) // 2 < 25).astype(int)  # 25 good, 5 bad Bach tracks: too few bad
    pools, note = table1.protocol_pools(cfg, {"vrash": vrash}, rated.assign(good=most > 0), x,
                                        most, np.ones(n, bool))  # fmt: skip
    assert set(pools) == {"ours"} and note.startswith("paper: 30 tracks, 25 acceptable: fewer")


def test_heuristics_on_splits_by_hand(pool):
    from sklearn.model_selection import train_test_split

    from vrashlib.filter.heuristics import precision_recall

    x, good = pool
    kw = dict(n_splits=3, test_share=0.3, max_rules=2, min_support=0.1)
    rules, per = table1.heuristics_on_splits(x, good, seed=0, **kw)
    assert per.equals(table1.heuristics_on_splits(x, good, **kw)[1])  # the default seed is 0
    assert list(per.columns) == [
        "split", "part", "n_tracks", "rated_good", "accepted", "precision_good", "recall_good",
        "rules",
    ]  # fmt: skip
    for i in range(3):
        seed_i = table1.split_seed(0, 0.3, i)
        tr, te = train_test_split(
            np.arange(len(good)), test_size=0.3, random_state=seed_i, stratify=good
        )
        split_rules = find_rules(
            x.iloc[tr], good[tr], max_rules=2, min_support=int(np.ceil(0.1 * len(tr)))
        )
        if i == 0:
            assert rules == split_rules  # the first split's rules are returned
        for part, sel in (("train", tr), ("test", te)):
            row = per[(per["split"] == i) & (per["part"] == part)].iloc[0]
            acc = apply_rules(split_rules, x.iloc[sel])
            p, r = precision_recall(acc, good[sel])
            assert (row["n_tracks"], row["rated_good"], row["accepted"]) == (
                len(sel), good[sel].sum(), acc.sum())  # fmt: skip
            assert row["precision_good"] == pytest.approx(p, nan_ok=True)
            assert row["recall_good"] == pytest.approx(r, nan_ok=True)
            assert row["rules"] == " AND ".join(str(rule) for rule in split_rules)
    assert per["rules"].str.contains(" AND ").any()


def test_pr_curves_by_hand(pool):
    from sklearn.metrics import average_precision_score, precision_recall_curve
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    x, good = pool
    got = table1.pr_curves(x, good, class_weight="balanced", methods=("logreg", "svc_linear"),
                           folds=4)  # fmt: skip
    assert got.index.tolist() == list(range(len(got)))
    parts = []
    for method in ("logreg", "svc_linear"):
        cv = StratifiedKFold(n_splits=4, shuffle=True, random_state=0)  # the default seed is 0
        model = classifiers.make_classifier(method, 0, class_weight="balanced")
        score = cross_val_predict(model, x.to_numpy(), good, cv=cv, method="decision_function")
        precision, recall, _ = precision_recall_curve(good, score)
        parts.append(pd.DataFrame({
            "method": classifiers.METHODS[method], "recall": recall, "precision": precision,
            "average_precision": average_precision_score(good, score),
            "base_rate": float(good.mean()),
        }))  # fmt: skip
    pd.testing.assert_frame_equal(got, pd.concat(parts, ignore_index=True))
    plain = table1.pr_curves(x, good, class_weight=None, methods=("logreg",), folds=4)
    assert not plain.equals(got[got["method"] == "Logistic regression"])
    default = table1.pr_curves(x, good, class_weight=None, methods=("logreg",))
    five = table1.pr_curves(x, good, class_weight=None, methods=("logreg",), folds=5, seed=0)
    assert default.equals(five) and not default.equals(plain)  # defaults: 5 folds, seed 0


def test_evaluate_protocols_gives_each_protocol_its_weighting(monkeypatch, pool):
    x, good = pool
    seen = []
    real_scores, real_curves = table1.split_scores, table1.pr_curves

    def scores(features, labels, **kw):
        seen.append(("scores", kw))
        return real_scores(features, labels, **kw)

    def curves(features, labels, **kw):
        seen.append(("curves", kw))
        return real_curves(features, labels, **kw)

    monkeypatch.setattr(table1, "split_scores", scores)
    monkeypatch.setattr(table1, "pr_curves", curves)
    pools = {"paper": (x, good), "ours": (x, good)}
    table, measurements, pr = table1.evaluate_protocols(pools, shares=(0.3,), n_splits=2, seed=4)
    want_scores = dict(shares=(0.3,), n_splits=2, seed=4, threads=1)
    assert seen == [
        ("scores", {**want_scores, "class_weight": None}),
        ("curves", {"class_weight": None, "seed": 4, "threads": 1}),
        ("scores", {**want_scores, "class_weight": "balanced"}),
        ("curves", {"class_weight": "balanced", "seed": 4, "threads": 1}),
    ]
    assert table["protocol"].tolist() == ["paper"] * 3 + ["ours"] * 3
    assert table.index.tolist() == list(range(6)) and pr.index.tolist() == list(range(len(pr)))
    assert set(pr["protocol"]) == {"paper", "ours"}
    key = "table1.ours.precision.logreg"
    assert key in measurements and "table1.paper.gain.svc_rbf" in measurements
    assert measurements[key].seeds == "2 stratified splits per test share"


def test_split_scores_counts_by_hand(pool):
    """Each row's test part holds ``share`` of the tracks; accuracy follows from the
    counts; one split is allowed, none is not; the default seed is 0."""
    x, good = pool
    got = table1.split_scores(x, good, shares=(0.5, 0.2), n_splits=1, methods=("logreg",))
    assert got["n_test"].tolist() == [200, 80] and got["split"].tolist() == [0, 0]
    pd.testing.assert_frame_equal(
        got,
        table1.split_scores(
            x, good, shares=(0.5, 0.2), n_splits=1, seed=0, methods=("logreg",)
        ),  # fmt: skip
    )
    for _, r in got.iterrows():
        tp = r["precision_good"] * r["pred_good"]
        tn = r["n_test"] - r["rated_good"] - r["pred_good"] + tp
        assert r["accuracy"] == pytest.approx((tp + tn) / r["n_test"])
        assert r["recall_good"] == pytest.approx(tp / r["rated_good"])
    with pytest.raises(ValueError, match="^n_splits must be at least 1, got 0$"):
        table1.split_scores(x, good, shares=(0.5,), n_splits=0)


def test_split_seeds_differ_for_every_seed_share_and_split():
    keys = [(s, share, i) for s in range(3) for share in (0.5, 0.4, 0.3, 0.2) for i in range(30)]
    seeds = {table1.split_seed(*k) for k in keys}
    assert len(seeds) == len(keys)
