"""Strict hand-made-style heuristics: a few thresholds whose conjunction accepts only good tracks.

The paper: "the obtained classifier can be replaced with a set of manually
constructed empirical heuristics ... one can make such heuristics even more
strict so that 100 % accuracy is achieved". Here the thresholds are found
automatically (:func:`find_rules`, greedy) on rated tracks so that precision on
them is 1.0; :func:`vrashlib.filter.classifiers.fit_strict_heuristics` fits them on a
training split and reports precision and recall on the test split.

Minimum support. Rules strict enough to keep no bad training track may keep only a
handful of tracks (5 of 4,200 in one run), too few to judge on a test split. With
``min_support`` every rule must keep at least that many of the tracks it is fitted
on; when no such rule set keeps only good tracks, the last rule keeps the most
precise set of at least ``min_support`` tracks instead (precision below 1.0 on the
training split, reported as such).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


def check_rated(features: pd.DataFrame, good: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(good, dtype=bool)
    if x.ndim != 2 or len(x) != len(y):
        raise ValueError(f"features have {len(x)} rows but there are {len(y)} labels")
    if not np.isfinite(x).all():
        bad = np.argwhere(~np.isfinite(x))[0]
        raise ValueError(
            f"feature {list(features.columns)[bad[1]]!r} of row {bad[0]} is not finite"
        )
    n_good = int(y.sum())
    if min(n_good, len(y) - n_good) < 2:
        raise ValueError(
            f"need at least 2 acceptable and 2 unacceptable tracks, got {n_good} of {len(y)}"
        )
    return x, y


def precision_recall(pred: np.ndarray, good: np.ndarray) -> tuple[float, float]:
    """Precision and recall of the "good" class (NaN where undefined)."""
    pred, good = np.asarray(pred, bool), np.asarray(good, bool)
    tp = float((pred & good).sum())
    precision = tp / pred.sum() if pred.sum() else np.nan
    recall = tp / good.sum() if good.sum() else np.nan
    return precision, recall


@dataclass(frozen=True)
class Rule:
    """One threshold: accept when ``feature >= threshold`` (op ``>=``) or ``<=``."""

    feature: str
    op: str
    threshold: float

    def __str__(self) -> str:
        return f"{self.feature} {self.op} {self.threshold:.4g}"


def apply_rules(rules: tuple[Rule, ...] | list[Rule], features: pd.DataFrame) -> np.ndarray:
    """Boolean mask of tracks passing every rule (all pass when there are none)."""
    ok = np.ones(len(features), dtype=bool)
    for r in rules:
        col = features[r.feature].to_numpy(dtype=np.float64)
        ok &= col >= r.threshold if r.op == ">=" else col <= r.threshold
    return ok


def _best_cut(
    col: np.ndarray, y: np.ndarray, strict: bool, min_keep: int = 0
) -> tuple[float, str, float, int, int]:
    """Best threshold on one feature: (objective, op, threshold, good kept, bad kept).

    Non-strict: maximise Youden's J = good kept share - bad kept share.
    Strict: keep no bad track and as many good ones as possible (objective -1
    when no threshold keeps a good track without a bad one).
    ``min_keep``: only thresholds keeping at least this many tracks count.
    """
    order = np.argsort(col, kind="stable")
    v, g = col[order], y[order]
    n_good, n_bad = int(g.sum()), int((~g).sum())
    best = (-np.inf, ">=", np.inf, 0, 0)
    distinct = np.flatnonzero(np.r_[True, v[1:] != v[:-1]])  # first index of each value
    ends = np.r_[distinct[1:], len(v)]
    cum_g, cum_b = np.r_[0, np.cumsum(g)], np.r_[0, np.cumsum(~g)]
    # ">=": keep v[i:] from a value boundary i; "<=": keep v[:j] up to a boundary j.
    for op, gk, bk, thr in (
        (">=", n_good - cum_g[distinct], n_bad - cum_b[distinct], v[distinct]),
        ("<=", cum_g[ends], cum_b[ends], v[ends - 1]),
    ):
        if strict:
            obj = np.where((bk == 0) & (gk > 0) & (gk >= min_keep), gk, -1).astype(np.float64)
        else:
            obj = gk / max(n_good, 1) - bk / max(n_bad, 1)
            obj = np.where(gk + bk >= min_keep, obj, -np.inf)
        i = int(np.argmax(obj))
        if obj[i] > best[0]:
            best = (float(obj[i]), op, float(thr[i]), int(gk[i]), int(bk[i]))
    return best


def _precise_cut(col: np.ndarray, y: np.ndarray, min_keep: int) -> tuple[float, str, float]:
    """The threshold keeping at least ``min_keep`` tracks with the highest share of good
    ones (ties: more good kept): (precision, op, threshold); precision -1 if none."""
    order = np.argsort(col, kind="stable")
    v, g = col[order], y[order]
    distinct = np.flatnonzero(np.r_[True, v[1:] != v[:-1]])
    ends = np.r_[distinct[1:], len(v)]
    cum_g = np.r_[0, np.cumsum(g)]
    best = (-1.0, ">=", np.inf, -1)
    for op, kept, gk, thr in (
        (">=", len(v) - distinct, int(g.sum()) - cum_g[distinct], v[distinct]),
        ("<=", ends, cum_g[ends], v[ends - 1]),
    ):
        ok = kept >= max(min_keep, 1)
        if not ok.any():
            continue
        prec = np.where(ok, gk / np.maximum(kept, 1), -1.0)
        i = int(np.lexsort((np.where(ok, gk, -1), prec))[-1])  # highest precision, then good
        if (prec[i], gk[i]) > (best[0], best[3]):
            best = (float(prec[i]), op, float(thr[i]), int(gk[i]))
    return best[:3]


def find_rules(
    features: pd.DataFrame, good: np.ndarray, *, max_rules: int, min_support: int = 0
) -> list[Rule]:
    """Greedy strict thresholds: precision 1.0 on (features, good) whenever possible.

    While bad tracks remain accepted, each step adds the threshold with the best
    Youden's J on the tracks still accepted; the last allowed rule (or an
    earlier one when a single threshold removes every bad track and keeps at
    least half the good ones, or when J no longer removes any bad track) keeps
    no bad track and as many good ones as possible. If no threshold keeps a
    good track without a bad one, the result accepts nothing.

    ``min_support`` (tracks): every rule keeps at least this many tracks; if then no
    threshold keeps only good tracks, the last rule is the most precise one that
    keeps at least ``min_support`` (see the module docstring), and the rules accept
    nothing only when fewer than ``min_support`` tracks are given.
    """
    if max_rules < 1:
        raise ValueError(f"max_rules must be at least 1, got {max_rules}")
    if min_support < 0:
        raise ValueError(f"min_support must be at least 0, got {min_support}")
    x = features.to_numpy(dtype=np.float64)
    y = np.asarray(good, dtype=bool)
    names = list(features.columns)
    keep = np.ones(len(y), dtype=bool)
    rules: list[Rule] = []
    while (~y[keep]).any() and len(rules) < max_rules:
        xs, ys = x[keep], y[keep]
        clean = [_best_cut(xs[:, j], ys, True, min_support) for j in range(x.shape[1])]
        jc = int(np.argmax([c[0] for c in clean]))
        loose = [_best_cut(xs[:, j], ys, False, min_support) for j in range(x.shape[1])]
        jl = int(np.argmax([c[0] for c in loose]))
        use_clean = (
            len(rules) == max_rules - 1
            or clean[jc][0] >= 0.5 * ys.sum()
            or loose[jl][4] == (~ys).sum()  # the best loose cut removes no bad track
            or not np.isfinite(loose[jl][0])  # no loose cut keeps min_support tracks
        )
        if use_clean and clean[jc][0] <= 0:
            if min_support > 0 and keep.sum() >= min_support:
                cuts = [_precise_cut(xs[:, j], ys, min_support) for j in range(x.shape[1])]
                j = int(np.argmax([c[0] for c in cuts]))
                return [*rules, Rule(names[j], cuts[j][1], cuts[j][2])]
            return [Rule(names[0], ">=", np.inf)]  # nothing separable: accept nothing
        j, (_, op, thr, _, _) = (jc, clean[jc]) if use_clean else (jl, loose[jl])
        rule = Rule(names[j], op, thr)
        rules.append(rule)
        keep &= apply_rules([rule], features)
    return rules
