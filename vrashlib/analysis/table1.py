"""Table 1 judged on repeated splits, the paper's protocol beside ours, and the strict
heuristics judged on held-out tracks.

One stratified split gives one number per cell of Table 1, and the numbers of one
split move with the split. Every cell here is judged on ``n_splits`` stratified
splits (seeded) and reported as the mean with the central 95 % of the splits
(:func:`vrashlib.analysis.uncertainty.from_samples`).

Two protocols (:data:`PROTOCOLS`):

- ``paper``: a filter for one model and style (``cfg.stream.model`` /
  ``cfg.stream.style``: VRASH-Bach, as the paper's filter "was trained on
  Bach-stylizations"), the latent coordinates among the features, and no class
  reweighting;
- ``ours``: every rated generated melody, the entropy features only (the latent
  spaces of VAE and VRASH are different spaces), classes weighted inversely to
  their frequency (``class_weight="balanced"``), which moves the operating point
  towards recall.

The paper's last column, "good tracks recall on test", reads as precision in its
caption ("87 % of tracks classified as good are also positively evaluated"): both
precision and recall of the "good" class are reported.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, precision_recall_curve
from sklearn.model_selection import StratifiedKFold, cross_val_predict, train_test_split
from threadpoolctl import threadpool_limits

from vrashlib.analysis.uncertainty import Estimate, clopper_pearson, from_samples
from vrashlib.filter.classifiers import METHODS, PAPER_TABLE1, make_classifier
from vrashlib.filter.heuristics import apply_rules, check_rated, find_rules, precision_recall
from vrashlib.threads import fork_map

PROTOCOLS: dict[str, str | None] = {"paper": None, "ours": "balanced"}  # -> class_weight


def split_seed(seed: int, share: float, i: int) -> int:
    """The ``random_state`` of split ``i`` at test ``share`` (one per split, seeded)."""
    return seed * 100_003 + int(round(share * 1000)) * 1009 + i


def _one_split(x, y, method, share, i, seed, class_weight) -> dict:
    with threadpool_limits(1):
        x_tr, x_te, y_tr, y_te = train_test_split(
            x, y, test_size=share, random_state=split_seed(seed, share, i), stratify=y
        )
        model = make_classifier(method, seed, class_weight=class_weight).fit(x_tr, y_tr)
        pred = model.predict(x_te).astype(bool)
    precision, recall = precision_recall(pred, y_te)
    return {
        "method": method,
        "test_share": float(share),
        "split": i,
        "n_test": len(y_te),
        "rated_good": int(y_te.sum()),
        "pred_good": int(pred.sum()),
        "precision_good": precision,
        "recall_good": recall,
        "accuracy": float((pred == y_te).mean()),
    }


def split_scores(
    features: pd.DataFrame,
    good: np.ndarray,
    *,
    shares: tuple[float, ...],
    n_splits: int,
    seed: int = 0,
    class_weight: str | None = "balanced",
    methods: tuple[str, ...] = tuple(METHODS),
    threads: int = 1,
) -> pd.DataFrame:
    """One row per (method, test share, split): the test split's counts, precision and
    recall of the "good" class (NaN precision when nothing was accepted), accuracy.
    Splits are stratified and seeded (:func:`split_seed`); ``threads`` fits at once."""
    if n_splits < 1:
        raise ValueError(f"n_splits must be at least 1, got {n_splits}")
    x, y = check_rated(features, good)
    jobs = [(m, s, i) for m in methods for s in shares for i in range(n_splits)]
    rows = fork_map(_split_task, [(x, y, m, s, i, seed, class_weight) for m, s, i in jobs], threads)
    return pd.DataFrame(rows)


def _split_task(job: tuple) -> dict:
    return _one_split(*job)


def table1_summary(per_split: pd.DataFrame, protocol: str) -> pd.DataFrame:
    """Table 1 from :func:`split_scores`: one row per (method, test share) with the mean
    over splits and the central 95 % of precision and recall, ours beside the paper's.

    ``no_accept_share``: the share of splits in which the classifier accepted no
    test track (precision undefined there; the precision columns are over the rest).
    """
    rows = []
    for (method, share), g in per_split.groupby(["method", "test_share"], sort=False):
        prec = from_samples(g["precision_good"].to_numpy())
        rec = from_samples(g["recall_good"].to_numpy())
        paper = PAPER_TABLE1.get((method, float(share)), (np.nan, np.nan, np.nan))
        rows.append(
            {
                "protocol": protocol,
                "method": METHODS[method],
                "test_share": float(share),
                "splits": len(g),
                "n_test": int(g["n_test"].iloc[0]),
                "rated_good": float(g["rated_good"].mean()),
                "pred_good": float(g["pred_good"].mean()),
                "no_accept_share": float((g["pred_good"] == 0).mean()),
                "precision_good": prec.value,
                "precision_lo": prec.lo,
                "precision_hi": prec.hi,
                "recall_good": rec.value,
                "recall_lo": rec.lo,
                "recall_hi": rec.hi,
                "accuracy": float(g["accuracy"].mean()),
                "paper_bad": paper[0],
                "paper_good": paper[1],
                "paper_value": paper[2],
            }
        )
    return pd.DataFrame(rows)


def table1_measurements(per_split: pd.DataFrame, protocol: str, seeds: str) -> dict[str, Estimate]:
    """The ledger's Table 1 numbers for one protocol, per method:

    ``table1.<protocol>.precision.<method>``: precision over every split of every share;
    ``table1.<protocol>.gain.<method>``: precision at the smallest test share minus at
    the largest, split ``i`` against split ``i``.
    """
    out = {}
    for method, g in per_split.groupby("method", sort=False):
        out[f"table1.{protocol}.precision.{method}"] = from_samples(
            g["precision_good"].to_numpy(), unit="precision", seeds=seeds
        )
        lo_share, hi_share = g["test_share"].min(), g["test_share"].max()
        small = g[g["test_share"] == lo_share].set_index("split")["precision_good"]
        large = g[g["test_share"] == hi_share].set_index("split")["precision_good"]
        out[f"table1.{protocol}.gain.{method}"] = from_samples(
            (small - large).to_numpy(),
            unit=f"precision at {lo_share:g} minus at {hi_share:g}",
            seeds=seeds,
        )
    return out


def pr_curves(
    features: pd.DataFrame,
    good: np.ndarray,
    *,
    class_weight: str | None,
    seed: int = 0,
    folds: int = 5,
    methods: tuple[str, ...] = tuple(METHODS),
    threads: int = 1,
) -> pd.DataFrame:
    """Precision-recall curves of the "good" class from out-of-fold decision scores
    (stratified ``folds``-fold): ``method, recall, precision, average_precision``;
    ``base_rate`` is the share of good tracks (a classifier without skill). ``threads``
    methods at once."""
    x, y = check_rated(features, good)
    jobs = [(x, y, method, class_weight, seed, folds) for method in methods]
    return pd.concat(fork_map(_pr_curve, jobs, threads), ignore_index=True)


def _pr_curve(job: tuple) -> pd.DataFrame:
    x, y, method, class_weight, seed, folds = job
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    model = make_classifier(method, seed, class_weight=class_weight)
    with threadpool_limits(1):
        score = cross_val_predict(model, x, y, cv=cv, method="decision_function")
    precision, recall, _ = precision_recall_curve(y, score)
    return pd.DataFrame(
        {
            "method": METHODS[method],
            "recall": recall,
            "precision": precision,
            "average_precision": average_precision_score(y, score),
            "base_rate": float(y.mean()),
        }
    )


def heuristics_on_splits(
    features: pd.DataFrame,
    good: np.ndarray,
    *,
    n_splits: int,
    test_share: float,
    max_rules: int,
    min_support: float,
    seed: int = 0,
) -> tuple[list, pd.DataFrame]:
    """Strict rules (with a minimum support, :func:`vrashlib.filter.heuristics.find_rules`)
    fitted on the training part of ``n_splits`` stratified splits and judged on the
    test part. Returns the rules of the first split and one row per split and part:
    ``split, part, n_tracks, rated_good, accepted, precision_good, recall_good, rules``."""
    x, y = check_rated(features, good)
    idx = np.arange(len(y))
    rows, first = [], None
    for i in range(n_splits):
        tr, te = train_test_split(
            idx, test_size=test_share, random_state=split_seed(seed, test_share, i), stratify=y
        )
        support = int(np.ceil(min_support * len(tr)))
        rules = find_rules(features.iloc[tr], y[tr], max_rules=max_rules, min_support=support)
        first = rules if first is None else first
        for part, sel in (("train", tr), ("test", te)):
            acc = apply_rules(rules, features.iloc[sel])
            precision, recall = precision_recall(acc, y[sel])
            rows.append(
                {
                    "split": i,
                    "part": part,
                    "n_tracks": len(sel),
                    "rated_good": int(y[sel].sum()),
                    "accepted": int(acc.sum()),
                    "precision_good": precision,
                    "recall_good": recall,
                    "rules": " AND ".join(str(r) for r in rules),
                }
            )
    return first, pd.DataFrame(rows)


def heuristics_table(per_split: pd.DataFrame, min_support: float) -> pd.DataFrame:
    """The heuristics' report: the first split's training and test parts (the test
    precision with its exact binomial 95 % interval), and the test parts of every
    split (mean, central 95 % of the splits)."""
    rows = []
    first = per_split[per_split["split"] == per_split["split"].min()]
    for part in ("train", "test"):
        r = first[first["part"] == part].iloc[0]
        lo, hi = (
            clopper_pearson(int(round(r["precision_good"] * r["accepted"])), int(r["accepted"]))
            if r["accepted"]
            else (np.nan, np.nan)
        )
        rows.append(
            {
                "split": part,
                "n_tracks": int(r["n_tracks"]),
                "rated_good": int(r["rated_good"]),
                "accepted": int(r["accepted"]),
                "precision_good": r["precision_good"],
                "precision_lo": lo,
                "precision_hi": hi,
                "recall_good": r["recall_good"],
                "min_support": min_support,
                "rules": r["rules"],
            }
        )
    test = per_split[per_split["part"] == "test"]
    est = from_samples(test["precision_good"].to_numpy())
    rows.append(
        {
            "split": f"test, {len(test)} splits",
            "n_tracks": int(test["n_tracks"].iloc[0]),
            "rated_good": float(test["rated_good"].mean()),
            "accepted": float(test["accepted"].mean()),
            "precision_good": est.value,
            "precision_lo": est.lo,
            "precision_hi": est.hi,
            "recall_good": float(test["recall_good"].mean()),
            "min_support": min_support,
            "rules": f"{test['rules'].nunique()} distinct rule sets",
        }
    )
    return pd.DataFrame(rows)


def heuristics_measurement(per_split: pd.DataFrame, seeds: str) -> dict[str, Estimate]:
    """``heuristics.test_precision``: test precision over the splits (splits that accept
    no test track have no precision and are left out of the interval)."""
    test = per_split[per_split["part"] == "test"]
    return {
        "heuristics.test_precision": from_samples(
            test["precision_good"].to_numpy(), unit="precision", seeds=seeds
        )
    }


def paper_pool(
    generated: dict, rated: pd.DataFrame, *, model: str, style: str, windows: tuple[int, ...]
) -> tuple[pd.DataFrame, np.ndarray]:
    """The paper protocol's rated tracks: the melodies of ``model`` and ``style`` that
    ``rated`` (:func:`vrashlib.filter.ratings.rating_table`) rates, their features with
    the latent coordinates, and their labels."""
    from vrashlib.filter.features import compute_features
    from vrashlib.filter.ratings import rated_subset

    tracks, labels = rated_subset(generated[model].select(style=style), rated.loc[[model]])
    return compute_features(tracks, windows, include_latent=True), labels


def evaluate_protocols(
    pools: dict[str, tuple[pd.DataFrame, np.ndarray]],
    *,
    shares: tuple[float, ...],
    n_splits: int,
    seed: int,
    threads: int = 1,
) -> tuple[pd.DataFrame, dict[str, Estimate], pd.DataFrame]:
    """Table 1 for each protocol of ``pools`` (protocol -> features, labels): the table
    (:func:`table1_summary`, protocols stacked), the ledger's measurements
    (:func:`table1_measurements`) and the precision-recall curves (:func:`pr_curves`,
    with a ``protocol`` column)."""
    tables, measurements, curves = [], {}, []
    for protocol, (features, good) in pools.items():
        weight = PROTOCOLS[protocol]
        per_split = split_scores(
            features, good, shares=shares, n_splits=n_splits, seed=seed,
            class_weight=weight, threads=threads,
        )  # fmt: skip
        tables.append(table1_summary(per_split, protocol))
        seeds = f"{n_splits} stratified splits per test share"
        measurements.update(table1_measurements(per_split, protocol, seeds))
        pr = pr_curves(features, good, class_weight=weight, seed=seed, threads=threads)
        curves.append(pr.assign(protocol=protocol))
    return (
        pd.concat(tables, ignore_index=True),
        measurements,
        pd.concat(curves, ignore_index=True),
    )


def protocol_pools(
    cfg,
    generated: dict,
    rated: pd.DataFrame,
    features: pd.DataFrame,
    good: np.ndarray,
    pool: np.ndarray,
    *,
    min_per_class: int = 10,
) -> tuple[dict[str, tuple[pd.DataFrame, np.ndarray]], str]:
    """Notebook 04's rated tracks for each protocol (see the module docstring), and a
    sentence saying what each holds. ``features``/``good``/``pool`` are the pooled
    entropy features, labels and learning mask (rows aligned with ``rated``). A
    protocol whose tracks hold fewer than ``min_per_class`` acceptable or unacceptable
    ones cannot be split and judged: it is left out, and the sentence says so."""
    pools = {
        "paper": paper_pool(
            generated, rated, model=cfg.stream.model, style=cfg.stream.style,
            windows=cfg.filter.windows,
        ),
        "ours": (features[pool], np.asarray(good)[pool]),
    }  # fmt: skip
    kept, notes = {}, []
    for name, (x, y) in pools.items():
        n_good, n_bad = int(np.sum(y)), int(np.sum(~np.asarray(y, bool)))
        what = f"{name}: {len(y)} tracks, {n_good} acceptable"
        if min(n_good, n_bad) < min_per_class:
            notes.append(f"{what}: fewer than {min_per_class} of a class, not judged")
        else:
            kept[name] = (x, y)
            notes.append(what)
    return kept, "; ".join(notes)
