"""Independent oracles for the filter: feature symbols, Table 1, precision/recall, heuristics.

- The entropy features are recomputed by a slow, literal reference written here
  (``collections.Counter`` over readable symbols, ``Fraction`` for length
  ratios), not with the module's own ``entropy_bits``; and each feature gets a
  track built so that its symbols would collide if two codes were confused.
- A Table 1 row is checked against a confusion matrix counted by hand: with a
  stand-in classifier that applies a fixed rule and records the rows it was
  fitted on and asked about (which also shows that no test row was fitted on),
  and with the real classifiers on well separated classes.
"""

from __future__ import annotations

import math
from collections import Counter
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

from vrashlib.data.encoding import DUR_ONE, DURATION_RATIOS, OCT_NONE, REST
from vrashlib.data.tracks import TrackSet
from vrashlib.filter import classifiers
from vrashlib.filter.classifiers import METHODS, PAPER_TABLE1, precision_recall, table1
from vrashlib.filter.features import (
    compute_features,
    compute_features_many,
    feature_names,
    window_entropies,
)
from vrashlib.filter.heuristics import Rule, _best_cut, apply_rules, check_rated, find_rules

DUR = {Fraction(1, 2): DURATION_RATIOS.index(Fraction(1, 2)), Fraction(1): DUR_ONE}
for _r in (Fraction(3, 2), Fraction(2), Fraction(3), Fraction(4), Fraction(1, 3)):
    DUR[_r] = DURATION_RATIOS.index(_r)


# ------------------------------------------------------------ the reference
def entropy(symbols) -> float:
    """Plug-in entropy in bits, by hand."""
    counts = Counter(symbols)
    n = sum(counts.values())
    return -sum(c / n * math.log2(c / n) for c in counts.values()) if n else 0.0


def reference_features(ev: np.ndarray, windows=(8, 16, 32, 64, 128)) -> dict[str, float]:
    """The paper's features of one track, literally, with readable symbols."""
    notes = [(int(pc), int(o)) if pc < REST else None for pc, o, _ in ev]
    pcs = [n[0] if n else "rest" for n in notes]
    pitches = [12 * (n[1] + 1) + n[0] if n else "rest" for n in notes]
    lengths = [DURATION_RATIOS[int(d)] for d in ev[:, 2]]

    def change(a, b, diff):
        if a is None and b is None:
            return "rest->rest"
        if a is None:
            return "rest->note"
        if b is None:
            return "note->rest"
        return ("interval", diff(a, b))

    pairs = list(zip(notes[:-1], notes[1:], strict=True))
    out = {
        "pc": entropy(pcs),
        "pc_change": entropy(change(a, b, lambda a, b: (b[0] - a[0]) % 12) for a, b in pairs),
        "dur": entropy(lengths),
        "dur_change": entropy(b / a for a, b in zip(lengths[:-1], lengths[1:], strict=True)),
        "pitch": entropy(pitches),
        "pitch_change": entropy(
            change(a, b, lambda a, b: 12 * (b[1] - a[1]) + b[0] - a[0]) for a, b in pairs
        ),
    }
    for w in windows:
        hs = [entropy(pitches[s : s + w]) for s in range(max(len(pitches) - w + 1, 1))]
        out[f"win{w}_min"], out[f"win{w}_mean"] = min(hs), sum(hs) / len(hs)
    return out


def _set(tracks) -> TrackSet:
    return TrackSet.from_tracks(tracks, ("x",), np.zeros(len(tracks), int))


def _track(*events) -> np.ndarray:
    """Events as (pitch class or None for a rest, octave, length ratio)."""
    rows = [
        (REST, OCT_NONE, DUR[Fraction(d)]) if pc is None else (pc, o, DUR[Fraction(d)])
        for pc, o, d in events
    ]
    return np.array(rows, dtype=np.int16).reshape(-1, 3)


def restful_tracks(n: int, seed: int) -> list[np.ndarray]:
    """Random tracks with many rests (runs of them too), leaps and mixed lengths."""
    rng = np.random.default_rng(seed)
    ratios = list(DUR)
    tracks = []
    for _ in range(n):
        length = int(rng.integers(0, 140))
        pitch = np.clip(60 + np.cumsum(rng.integers(-13, 14, length)), 24, 100)
        ev = (
            np.stack(
                [
                    pitch % 12,
                    pitch // 12 - 1,
                    [DUR[ratios[k]] for k in rng.integers(0, len(ratios), length)],
                ],
                axis=1,
            )
            .astype(np.int16)
            .reshape(-1, 3)
        )
        rest = rng.random(length) < 0.3
        ev[rest, 0], ev[rest, 1] = REST, OCT_NONE
        tracks.append(ev)
    return tracks


def test_every_feature_matches_the_literal_reference_on_random_tracks():
    tracks = restful_tracks(40, seed=0)
    got = compute_features(_set(tracks))
    assert list(got.columns) == feature_names()
    for i, ev in enumerate(tracks):
        want = reference_features(ev)
        for name, value in want.items():
            assert got[name].iloc[i] == pytest.approx(value, abs=1e-9), (i, name, len(ev))


def test_window_entropies_match_the_reference_for_odd_windows():
    tracks = restful_tracks(12, seed=1)
    ts = _set(tracks)
    from vrashlib.data.encoding import midi_pitch

    lo, mean = window_entropies(midi_pitch(ts.events), ts.offsets, (1, 3, 5, 200))
    for i, ev in enumerate(tracks):
        want = reference_features(ev, windows=(1, 3, 5, 200))
        for k, w in enumerate((1, 3, 5, 200)):
            assert lo[i, k] == pytest.approx(want[f"win{w}_min"], abs=1e-9)
            assert mean[i, k] == pytest.approx(want[f"win{w}_mean"], abs=1e-9)


# ----------------------------------------------------- symbols built to collide
def _one(track, name) -> float:
    return float(compute_features(_set([track]))[name].iloc[0])


def test_pc_change_every_interval_and_every_rest_transition_is_its_own_symbol():
    # Pitch classes whose steps are the intervals 0, 1, ..., 11 (mod 12), then
    # note->rest, rest->rest, rest->note: 15 different symbols, one each.
    pcs = np.cumsum(np.arange(12)) % 12
    events = [(int(p), 4, 1) for p in np.r_[0, pcs]] + [(None, 0, 1), (None, 0, 1), (0, 4, 1)]
    t = _track(*events)
    assert len(t) - 1 == 15
    assert _one(t, "pc_change") == pytest.approx(math.log2(15))


@pytest.mark.parametrize("interval", range(12))
def test_pc_change_no_interval_shares_a_symbol_with_a_rest_transition(interval):
    note, moved, rest = (0, 4, 1), (interval, 4, 1), (None, 0, 1)
    # interval, note->rest: two symbols
    assert _one(_track(note, moved, rest), "pc_change") == pytest.approx(1.0)
    # rest->note, interval: two symbols
    assert _one(_track(rest, note, moved), "pc_change") == pytest.approx(1.0)
    # interval, note->rest, rest->rest: three symbols
    assert _one(_track(note, moved, rest, rest), "pc_change") == pytest.approx(math.log2(3))


def test_pc_and_pitch_rest_is_not_a_pitch():
    every_pc = _track(*[(p, 4, 1) for p in range(12)], (None, 0, 1))
    assert _one(every_pc, "pc") == pytest.approx(math.log2(13))
    assert _one(every_pc, "pitch") == pytest.approx(math.log2(13))
    # B-1 is MIDI 11, the smallest pitches sit next to small codes: still 13 symbols
    low = _track(*[(p, 0, 1) for p in range(12)], (None, 0, 1))
    assert _one(low, "pitch") == pytest.approx(math.log2(13))
    octaves = _track((0, 3, 1), (0, 4, 1), (0, 5, 1), (None, 0, 1))
    assert _one(octaves, "pc") == pytest.approx(entropy([0, 0, 0, "r"]))
    assert _one(octaves, "pitch") == pytest.approx(2.0)


def test_pitch_change_intervals_and_rest_transitions_are_distinct_symbols():
    # +1, -1, +12, -12, 0, +11, -11, note->rest, rest->rest, rest->note: 10 symbols
    t = _track(
        (0, 4, 1), (1, 4, 1), (0, 4, 1), (0, 5, 1), (0, 4, 1), (0, 4, 1), (11, 4, 1),
        (0, 4, 1), (None, 0, 1), (None, 0, 1), (5, 4, 1),
    )  # fmt: skip
    assert _one(t, "pitch_change") == pytest.approx(math.log2(10))
    # the same intervals without octaves collapse: +1 / +11-ish, +-12 and 0 meet
    assert _one(t, "pc_change") == pytest.approx(
        entropy([1, 11, 0, 0, 0, 11, 1, "n>r", "r>r", "r>n"])
    )


def test_dur_change_is_the_exact_ratio_of_lengths():
    assert _one(_track((0, 4, 1), (0, 4, 2), (0, 4, 4)), "dur_change") == 0.0  # x2, x2
    assert _one(_track((0, 4, 2), (0, 4, 3), (0, 4, 2)), "dur_change") == pytest.approx(1.0)
    # x3/2, x4/3, x3/2: equal ratios from different lengths are one symbol
    t = _track((0, 4, 1), (0, 4, "3/2"), (0, 4, 2), (0, 4, 3))
    assert _one(t, "dur_change") == pytest.approx(entropy(["3/2", "4/3", "3/2"]))
    # x2 and x1/2 and x3 and x1/3 are four symbols
    t = _track((0, 4, 1), (0, 4, 2), (0, 4, 1), (0, 4, 3), (0, 4, 1))
    assert _one(t, "dur_change") == pytest.approx(2.0)
    # a rest's length counts like a note's
    t = _track((0, 4, 1), (None, 0, 2), (0, 4, 1))
    assert _one(t, "dur_change") == pytest.approx(1.0)
    assert _one(t, "dur") == pytest.approx(entropy([1, 2, 1]))


def test_features_of_tiny_tracks():
    f = compute_features(_set([_track(), _track((3, 4, 1)), _track((3, 4, 1), (None, 0, 2))]))
    assert (f.iloc[0] == 0).all() and (f.iloc[1] == 0).all()
    two = f.iloc[2]
    assert two["pc"] == 1.0 and two["pitch"] == 1.0 and two["dur"] == 1.0
    assert two["pc_change"] == 0.0 and two["dur_change"] == 0.0
    assert two["win8_min"] == 1.0 and two["win8_mean"] == 1.0


def test_a_tracks_features_do_not_depend_on_the_other_tracks():
    """Each row is the track's own: computed in a set (here with a one-event track last,
    whose segment has no consecutive pair) or alone, the same numbers."""
    from tests.conftest import random_walk_tracks

    tracks = [*random_walk_tracks(4, seed=3, min_len=5, max_len=40), _track((3, 4, 1))]
    both = compute_features(_set(tracks), (1, 4, 8))
    assert both.index.name == "track_id"
    for i in range(len(tracks)):
        alone = compute_features(_set([tracks[i]]), (1, 4, 8))
        np.testing.assert_allclose(both.iloc[i].to_numpy(), alone.iloc[0].to_numpy(), atol=1e-12)
    one = compute_features(_set(tracks), (4,))
    np.testing.assert_array_equal(one["win4_mean"], both["win4_mean"])
    with pytest.raises(ValueError, match=r"windows must be positive event counts, got \(4, 0\)"):
        compute_features(_set(tracks), (4, 0))


def test_features_of_no_tracks_and_of_one_event_tracks():
    cols = compute_features(_set([_track((3, 4, 1), (5, 4, 1))]), (8,)).columns
    empty = compute_features(_set([]), (8,))
    assert list(empty.columns) == list(cols) and len(empty) == 0
    assert empty.index.name == "track_id"
    ones = compute_features(_set([_track((3, 4, 1)), _track((None, 0, 2))]), (8,))
    assert list(ones.columns) == list(cols) and (ones.to_numpy() == 0).all()


# -------------------------------------------------------- precision and recall
@pytest.mark.parametrize(
    ("pred", "good", "precision", "recall"),
    [
        ([1, 1, 0, 0], [1, 0, 1, 0], 0.5, 0.5),  # TP 1, FP 1, FN 1
        ([1, 1, 1, 0], [1, 0, 0, 0], 1 / 3, 1.0),  # TP 1, FP 2
        ([1, 0, 0, 0], [1, 1, 1, 1], 1.0, 0.25),  # TP 1, FN 3
        ([1, 1, 0, 0, 0], [1, 1, 1, 0, 0], 1.0, 2 / 3),
        ([0, 0, 1], [1, 1, 0], 0.0, 0.0),
        ([0, 0, 0], [1, 0, 0], np.nan, 0.0),  # nothing accepted: precision undefined
        ([1, 0, 0], [0, 0, 0], 0.0, np.nan),  # nothing good: recall undefined
    ],
)
def test_precision_recall_constructed_cases(pred, good, precision, recall):
    p, r = precision_recall(np.array(pred, bool), np.array(good, bool))
    for got, want in ((p, precision), (r, recall)):
        if np.isnan(want):
            assert np.isnan(got)
        else:
            assert got == pytest.approx(want)


# --------------------------------------------------------------------- Table 1
class RuleClassifier:
    """Stands in for a classifier: accepts a row iff its id (column 0) is a multiple
    of three, and records the ids it is fitted on and asked about."""

    fitted: list[set[int]] = []
    asked: list[set[int]] = []

    def fit(self, x, y):
        ids = x[:, 0].astype(int)
        RuleClassifier.fitted.append(set(ids.tolist()))
        assert len(ids) == len(y)
        return self

    def predict(self, x):
        ids = x[:, 0].astype(int)
        RuleClassifier.asked.append(set(ids.tolist()))
        return ids % 3 == 0


@pytest.fixture
def rule_classifier(monkeypatch):
    RuleClassifier.fitted, RuleClassifier.asked = [], []
    monkeypatch.setattr(classifiers, "make_classifier", lambda method, seed=0: RuleClassifier())
    return RuleClassifier


def test_table1_rows_match_confusion_matrices_counted_by_hand(rule_classifier):
    n = 60
    ids = np.arange(n)
    good = (ids % 4 == 0) | (ids % 7 == 0)  # 15 + 9 - 3 = 21 good tracks
    assert good.sum() == 21
    feats = pd.DataFrame({"id": ids.astype(float), "noise": np.sin(ids)})
    tab = table1(feats, good, shares=(0.5, 0.25), seed=3, methods=("logreg",))
    assert len(tab) == 2
    for k, row in enumerate(tab.itertuples()):
        fitted, asked = rule_classifier.fitted[k], rule_classifier.asked[k]
        # isolation: the classifier never sees a test row while fitting
        assert not fitted & asked and fitted | asked == set(range(n))
        tp = fp = fn = tn = 0
        for i in asked:
            accepted, is_good = i % 3 == 0, bool(good[i])
            tp += accepted and is_good
            fp += accepted and not is_good
            fn += is_good and not accepted
            tn += not accepted and not is_good
        assert row.n_test == len(asked) == round(row.test_share * n)
        assert (row.rated_good, row.rated_bad) == (tp + fn, fp + tn)
        assert (row.pred_good, row.pred_bad) == (tp + fp, fn + tn)
        assert row.precision_good == pytest.approx(tp / (tp + fp))
        assert row.recall_good == pytest.approx(tp / (tp + fn))
        assert row.accuracy == pytest.approx((tp + tn) / len(asked))
        # stratified: the test part keeps the share of good tracks (21 / 60)
        assert abs((tp + fn) - row.n_test * 21 / 60) <= 1
    assert tab["test_share"].tolist() == [0.5, 0.25]
    assert tab["n_test"].tolist() == [30, 15]


def test_table1_on_separable_classes_by_hand():
    # 20 good tracks around +3, 80 bad around -3 on one feature: every method
    # classifies every test track right, so the confusion matrix is known.
    rng = np.random.default_rng(0)
    good = np.r_[np.ones(20, bool), np.zeros(80, bool)]
    x = np.where(good, 3.0, -3.0) + 0.3 * rng.standard_normal(100)
    feats = pd.DataFrame({"a": x, "b": rng.standard_normal(100)})
    tab = table1(feats, good, shares=(0.5, 0.3), seed=1, methods=tuple(METHODS))
    by_hand = {0.5: (50, 40, 10), 0.3: (30, 24, 6)}  # n_test, bad, good (stratified)
    assert len(tab) == 6 and tab["method"].tolist() == [m for m in METHODS.values() for _ in "ab"]
    for row in tab.itertuples():
        n_test, bad, gd = by_hand[row.test_share]
        assert (row.n_test, row.rated_bad, row.rated_good) == (n_test, bad, gd)
        assert (row.pred_bad, row.pred_good) == (bad, gd)
        assert row.precision_good == 1.0 and row.recall_good == 1.0 and row.accuracy == 1.0


def test_table1_puts_the_papers_numbers_on_the_matching_rows():
    # Typed from the paper's Table 1 (method, test share -> # bad, # good, last column);
    # "up to 87 %" in its caption is the largest value of the last column.
    paper = {
        ("svc_rbf", 0.2): (86, 11, 0.87),
        ("logreg", 0.5): (207, 44, 0.79),
        ("svc_linear", 0.3): (138, 22, 0.84),
    }
    assert max(v[2] for v in PAPER_TABLE1.values()) == 0.87
    assert min(v[2] for v in PAPER_TABLE1.values()) == 0.74
    for key, value in paper.items():
        assert PAPER_TABLE1[key] == value
    rng = np.random.default_rng(0)
    good = np.r_[np.ones(20, bool), np.zeros(40, bool)]
    feats = pd.DataFrame({"a": np.where(good, 1.0, -1.0) + rng.standard_normal(60)})
    tab = table1(feats, good, shares=(0.2, 0.5, 0.25), seed=0, methods=("svc_rbf", "logreg"))
    got = list(zip(tab["paper_bad"], tab["paper_good"], tab["paper_value"], strict=True))
    assert got[0] == (86, 11, 0.87) and got[4] == (207, 44, 0.79)
    assert all(np.isnan(v) for v in got[2]) and all(np.isnan(v) for v in got[5])  # 0.25: none


def test_every_method_fits_on_the_training_rows_only(monkeypatch):
    # The real pipelines, wrapped to record what they are fitted on.
    seen = []
    real = classifiers.make_classifier

    class Spy:
        def __init__(self, method, seed=0):
            self.model = real(method, seed)

        def fit(self, x, y):
            seen.append(("fit", frozenset(x[:, 0].tolist())))
            self.model.fit(x, y)
            return self

        def predict(self, x):
            seen.append(("predict", frozenset(x[:, 0].tolist())))
            return self.model.predict(x)

    monkeypatch.setattr(classifiers, "make_classifier", Spy)
    good = np.arange(40) % 3 == 0
    feats = pd.DataFrame({"id": np.arange(40.0), "a": good + np.cos(np.arange(40))})
    table1(feats, good, shares=(0.4,), seed=0, methods=tuple(METHODS))
    assert len(seen) == 6
    for (what_a, fit), (what_b, test) in zip(seen[::2], seen[1::2], strict=True):
        assert (what_a, what_b) == ("fit", "predict")
        assert not fit & test and len(fit) == 24 and len(test) == 16


# ---------------------------------------------------------------- heuristics
def test_best_cut_by_hand():
    col = np.array([1.0, 2.0, 3.0, 4.0])
    up, down = np.array([0, 0, 1, 1], bool), np.array([1, 1, 0, 0], bool)
    assert _best_cut(col, up, True) == (2.0, ">=", 3.0, 2, 0)
    assert _best_cut(col, up, False) == (1.0, ">=", 3.0, 2, 0)
    assert _best_cut(col, down, True) == (2.0, "<=", 2.0, 2, 0)
    assert _best_cut(col, down, False) == (1.0, "<=", 2.0, 2, 0)
    # a threshold never splits equal values: 1 1 | 2 2 with one bad track among the 1s
    tied = np.array([1.0, 1.0, 2.0, 2.0])
    assert _best_cut(tied, np.array([0, 1, 1, 1], bool), True) == (2.0, ">=", 2.0, 2, 0)
    # unsorted input, loose cut: J = 2/3 - 0 at ">= 5" beats J = 1 - 1/2 at ">= 3"
    col = np.array([9.0, 3.0, 5.0, 1.0, 7.0])
    y = np.array([1, 1, 0, 0, 1], bool)
    assert _best_cut(col, y, False) == (pytest.approx(2 / 3), ">=", 7.0, 2, 0)
    assert _best_cut(col, y, True) == (2.0, ">=", 7.0, 2, 0)
    # nothing clean: strict objective -1
    assert _best_cut(np.array([1.0, 1.0]), np.array([1, 0], bool), True)[0] == -1


def test_find_rules_needs_two_thresholds_and_reaches_precision_one():
    # good = a >= 3 and b <= 1: no single threshold keeps the good tracks only.
    a = np.array([0, 1, 2, 3, 4, 5, 6, 3, 4, 5, 6, 7], float)
    b = np.array([0, 1, 0, 0, 1, 0, 1, 2, 3, 2, 3, 2], float)
    good = (a >= 3) & (b <= 1)
    f = pd.DataFrame({"a": a, "b": b})
    rules = find_rules(f, good, max_rules=4)
    acc = apply_rules(rules, f)
    assert acc.tolist() == good.tolist()
    assert len(rules) == 2 and {r.feature for r in rules} == {"a", "b"}
    # No single threshold keeps a good track without a bad one: accept nothing.
    one = find_rules(f, good, max_rules=1)
    assert len(one) == 1 and not apply_rules(one, f).any()
    # When b alone separates the classes, one rule does it all.
    f2 = pd.DataFrame({"a": a, "b": np.where(good, 0.0, 5.0)})
    assert apply_rules(find_rules(f2, good, max_rules=1), f2).tolist() == good.tolist()
    with pytest.raises(ValueError, match="max_rules"):
        find_rules(f, good, max_rules=0)
    assert find_rules(f, np.ones(12, bool), max_rules=4) == []  # nothing bad to remove: no rule


def test_apply_rules_is_a_conjunction_and_ops_are_inclusive():
    f = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [4.0, 3.0, 2.0, 1.0]})
    rules = [Rule("a", ">=", 2.0), Rule("b", ">=", 2.0)]
    assert apply_rules(rules, f).tolist() == [False, True, True, False]
    assert apply_rules([], f).tolist() == [True] * 4
    assert str(Rule("a", "<=", 1 / 3)) == "a <= 0.3333"


def test_check_rated_counts_and_messages():
    f = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0]})
    x, y = check_rated(f, [1, 1, 0, 0])
    assert x.shape == (4, 1) and y.dtype == bool and y.tolist() == [True, True, False, False]
    with pytest.raises(ValueError, match="2 acceptable and 2 unacceptable"):
        check_rated(f, [1, 0, 0, 0])
    with pytest.raises(ValueError, match="got 3 of 4"):
        check_rated(f, [1, 1, 1, 0])
    with pytest.raises(ValueError, match="4 rows but there are 3 labels"):
        check_rated(f, [1, 1, 0])
    inf = pd.DataFrame({"a": [1.0, 2.0, np.inf, 4.0]})
    with pytest.raises(ValueError, match="feature 'a' of row 2 is not finite"):
        check_rated(inf, [1, 1, 0, 0])


def test_strict_heuristics_are_fitted_on_the_training_split_only(monkeypatch):
    seen = []
    real = classifiers.find_rules

    def spy(features, good, **kw):
        seen.append(set(features.index))
        return real(features, good, **kw)

    monkeypatch.setattr(classifiers, "find_rules", spy)
    n = 50
    good = np.arange(n) % 5 == 0
    feats = pd.DataFrame({"a": np.where(good, 2.0, 0.0) + np.sin(np.arange(n))}, index=range(n))
    rules, report = classifiers.fit_strict_heuristics(feats, good, 0, test_share=0.4, max_rules=4)
    (fitted,) = seen
    rep = report.set_index("split")
    assert len(fitted) == rep.loc["train", "n_tracks"] == 30 and rep.loc["test", "n_tracks"] == 20
    assert rep.loc["train", "rated_good"] == 6 and rep.loc["test", "rated_good"] == 4
    test_rows = sorted(set(range(n)) - fitted)
    acc = apply_rules(rules, feats.loc[test_rows])
    assert rep.loc["test", "accepted"] == acc.sum()
    p, r = precision_recall(acc, good[test_rows])
    assert rep.loc["test", "recall_good"] == pytest.approx(r)
    assert rep.loc["test", "precision_good"] == pytest.approx(p, nan_ok=True)


def test_features_of_several_sets_are_stacked_under_their_source():
    a = _set([_track((0, 4, 1), (2, 4, 1)), _track((None, 0, 1))])
    b = TrackSet.from_tracks(
        [_track((0, 4, 1), (0, 4, 2))], ("x",), [0], ids=["b0"], latent=np.ones((1, 2))
    )
    f = compute_features_many({"real": a, "vrash": b}, windows=(2,))
    assert f.index.names == ["source", "track_id"]
    assert f.index.tolist() == [("real", "track0"), ("real", "track1"), ("vrash", "b0")]
    assert list(f.columns) == feature_names(windows=(2,))  # no latent by default
    assert f.loc[("real", "track0"), "pitch"] == 1.0 and f.loc[("vrash", "b0"), "dur"] == 1.0
    with_z = compute_features_many({"vrash": b}, windows=(2,), include_latent=True)
    assert list(with_z.columns) == feature_names(windows=(2,), z_dim=2)


def test_acceptance_by_group_is_seeded_and_uses_the_folds_asked_for(monkeypatch):
    calls = []
    real = classifiers.make_classifier

    def spy(method, seed):
        calls.append((method, seed))
        return real(method, seed)

    monkeypatch.setattr(classifiers, "make_classifier", spy)
    rng = np.random.default_rng(0)
    good = rng.random(80) < 0.4
    feats = pd.DataFrame({"a": good + rng.normal(0, 0.8, 80), "b": rng.normal(size=80)})
    groups = np.repeat(["lm", "vrash"], 40)

    def run(seed, folds):
        return classifiers.acceptance_by_group(
            feats, good, groups, method="svc_rbf", seed=seed, folds=folds
        )

    a, b = run(3, 4), run(3, 4)
    pd.testing.assert_frame_equal(a, b)
    assert calls[0] == ("svc_rbf", 3)
    outcomes = {tuple(run(s, 4)["accepted"]) for s in range(6)}
    assert len(outcomes) > 1  # the folds are shuffled by the seed
    assert {tuple(run(3, k)["accepted"]) for k in (2, 3, 4, 8)} != {tuple(a["accepted"])}


def test_acceptance_by_group_makes_as_many_folds_as_asked(monkeypatch):
    from sklearn.base import BaseEstimator, ClassifierMixin

    fits = []

    class Count(ClassifierMixin, BaseEstimator):
        def fit(self, x, y):
            fits.append(len(x))
            self.classes_ = np.array([False, True])
            return self

        def predict(self, x):
            return np.zeros(len(x), bool)

    monkeypatch.setattr(classifiers, "make_classifier", lambda method, seed: Count())
    good = np.arange(36) % 3 == 0
    feats = pd.DataFrame({"a": np.arange(36.0)})
    for folds in (3, 4, 6):
        fits.clear()
        classifiers.acceptance_by_group(
            feats, good, np.zeros(36, int), method="logreg", seed=0, folds=folds
        )
        assert fits == [36 - 36 // folds] * folds


def test_pool_mask_by_hand():
    preferred = np.r_[np.ones(20, int), np.zeros(5, int)]  # 0/1 ints, not bools
    good = np.r_[np.ones(10, int), np.zeros(10, int), np.ones(5, int)]
    mask, note = classifiers.pool_mask(preferred, good, min_per_class=10)
    assert mask.dtype == bool and mask.tolist() == [True] * 20 + [False] * 5
    assert "10 acceptable and 10 unacceptable" in note
    mask, note = classifiers.pool_mask(preferred, good, min_per_class=11)
    assert mask.dtype == bool and mask.all() and len(mask) == 25
    assert "only 10 acceptable and 10 unacceptable" in note and "all 25" in note
    assert "(15 acceptable)" in note


def test_pool_mask_default_needs_ten_of_each_class():
    preferred = np.ones(19, bool)
    good = np.arange(19) < 10  # 10 acceptable, 9 unacceptable
    assert classifiers.pool_mask(preferred, good)[0].all()
    assert "< 10" in classifiers.pool_mask(preferred, good)[1]
    good = np.arange(20) < 10
    assert classifiers.pool_mask(np.ones(20, bool), good)[1].startswith("preferred pool")


def _rated_walks(n, n_good, seed=0):
    from tests.conftest import random_walk_tracks

    rng = np.random.default_rng(seed)
    ts = TrackSet.from_tracks(
        random_walk_tracks(n, seed=seed, min_len=10, max_len=40),
        ("bach",),
        np.zeros(n, int),
        latent=rng.normal(size=(n, 2)),
        ids=[f"vrash/bach/{i:04d}" for i in range(n)],
    )
    good = np.zeros(n, int)
    good[:n_good] = 1
    return ts, good


@pytest.mark.parametrize(("n_good", "pooled"), [(10, False), (9, True), (21, True), (20, False)])
def test_stream_filter_falls_back_when_either_class_is_rare(n_good, pooled):
    ts, good = _rated_walks(30, n_good)  # labels as 0/1 ints
    extra = compute_features(_rated_walks(40, 20, seed=1)[0], (8, 16), include_latent=False)
    extra_good = np.arange(40) % 2 == 0
    flt = classifiers.fit_stream_filter(
        ts,
        good,
        fallback=(extra, extra_good),
        method="logreg",
        seed=0,
        windows=(8, 16),
        max_rules=4,
    )
    assert flt.uses_latent is not pooled
    assert flt.info["n_tracks"] == (70 if pooled else 30)
    if pooled:
        n_bad = 30 - n_good
        assert flt.info["pool"] == (
            f"only {n_good} acceptable / {n_bad} unacceptable tracks of the stream's model and "
            f"style (< 10); fitted on 70 pooled tracks ({n_good + 20} acceptable), entropy "
            "features only"
        )
    else:
        assert (
            flt.info["pool"] == f"30 tracks of the stream's model and style ({n_good} acceptable)"
        )


@pytest.mark.parametrize("n_good", [15, 3])
def test_stream_filter_is_fitted_as_asked(monkeypatch, n_good):
    """Method, seed, windows and rule count reach the fit, own pool or pooled; the pooled
    fit sees entropy features only (no latent) and boolean labels."""
    calls = []

    def spy(name):
        real = getattr(classifiers.Filter, name).__func__

        def fit(cls, data, y, **kw):
            calls.append((name, data, np.asarray(y).copy(), kw))
            return real(cls, data, y, **kw)

        return classmethod(fit)

    for name in ("fit", "fit_features"):
        monkeypatch.setattr(classifiers.Filter, name, spy(name))
    ts, good = _rated_walks(30, n_good)
    extra = compute_features(_rated_walks(40, 20, seed=1)[0], (8, 16), include_latent=False)
    extra_good = (np.arange(40) % 2).tolist()  # labels as a list of ints
    kw = dict(method="heuristic", seed=7, windows=(8, 16), max_rules=3)
    classifiers.fit_stream_filter(ts, good, fallback=(extra, extra_good), **kw)
    ((name, data, y, got),) = [c for c in calls if c[0] in ("fit", "fit_features")][:1]
    assert got == kw
    if n_good >= 10:
        assert name == "fit" and data is ts
    else:
        assert name == "fit_features" and len(data) == 70
        assert not any(c.startswith("latent") for c in data.columns)
        assert list(data.columns) == list(extra.columns)
        assert y.dtype == bool and y.sum() == n_good + 20


def test_strict_heuristics_split_is_seeded(monkeypatch):
    seen = []
    real = classifiers.find_rules

    def spy(features, good, **kw):
        seen.append(tuple(features.index))
        return real(features, good, **kw)

    monkeypatch.setattr(classifiers, "find_rules", spy)
    good = np.arange(60) % 4 == 0
    feats = pd.DataFrame({"a": good + np.sin(np.arange(60.0))})
    for seed in (0, 0, 1):
        classifiers.fit_strict_heuristics(feats, good, seed, test_share=0.3, max_rules=2)
    assert seen[0] == seen[1] and seen[0] != seen[2]
    classifiers.fit_strict_heuristics(feats, good, test_share=0.3, max_rules=2)
    assert seen[3] == seen[0]  # the default seed is 0


def test_precise_cut_by_hand():
    from vrashlib.filter import heuristics

    col = np.array([5.0, 1.0, 4.0, 2.0, 3.0])  # sorted: 1 2 3 4 5 -> bad good good bad good
    y = np.array([1, 0, 0, 1, 1], bool)
    # ">= 2" keeps 4 tracks, 3 good (0.75): the most precise set of at least 2 tracks
    assert heuristics._precise_cut(col, y, 2) == (0.75, ">=", 2.0)
    # at least 5 tracks: everything, 3 of 5 good; ">=" found first, "<=" only ties it
    assert heuristics._precise_cut(col, y, 5) == (0.6, ">=", 1.0)
    assert heuristics._precise_cut(col, y, 6)[0] == -1.0  # no set that large
    # ties in precision: more good tracks kept wins; "<= 1" and ">= 4" keep one good each
    tie = heuristics._precise_cut(np.array([1.0, 2.0, 3.0, 4.0]), np.array([1, 0, 0, 1], bool), 1)
    assert tie == (1.0, ">=", 4.0)
    both = heuristics._precise_cut(np.array([1.0, 2.0, 3.0]), np.array([1, 1, 0], bool), 1)
    assert both == (1.0, "<=", 2.0)  # two good kept beats one


def test_find_rules_keeps_the_minimum_support():
    # a (0..9): good at 7 and 9 only; b: noise. Strict rules keep 1 or 2 tracks.
    a = np.arange(10.0)
    good = np.isin(np.arange(10), [7, 9])
    f = pd.DataFrame({"a": a, "b": np.cos(np.arange(10.0))})
    strict = find_rules(f, good, max_rules=4, min_support=0)
    acc = apply_rules(strict, f)
    assert acc.any() and not (acc & ~good).any()
    for support in (3, 4, 6):
        rules = find_rules(f, good, max_rules=4, min_support=support)
        acc = apply_rules(rules, f)
        assert acc.sum() >= support, support
        # the most precise set of that size along a: a >= 10 - support keeps both good
        assert acc[[7, 9]].all() and (acc & good).sum() == 2
    assert not apply_rules(find_rules(f, good, max_rules=4, min_support=11), f).any()
    with pytest.raises(ValueError, match="min_support"):
        find_rules(f, good, max_rules=4, min_support=-1)


def test_strict_heuristics_minimum_support_is_a_share_of_the_training_split(monkeypatch):
    seen = []
    real = classifiers.find_rules

    def spy(features, good, **kw):
        seen.append((len(features), kw.get("min_support")))
        return real(features, good, **kw)

    monkeypatch.setattr(classifiers, "find_rules", spy)
    good = np.arange(50) % 5 == 0
    feats = pd.DataFrame({"a": good + np.sin(np.arange(50.0))})
    _, report = classifiers.fit_strict_heuristics(
        feats, good, 0, test_share=0.4, max_rules=3, min_support=0.25
    )
    assert seen == [(30, 8)]  # ceil(0.25 * 30)
    assert report.set_index("split").loc["train", "accepted"] >= 8


def test_find_rules_takes_labels_as_zeros_and_ones():
    f = pd.DataFrame({"a": [0.0, 1, 2, 3, 4, 5]})
    ints = np.array([0, 0, 0, 1, 1, 1])
    rules = find_rules(f, ints, max_rules=2)
    assert rules == find_rules(f, ints.astype(bool), max_rules=2)
    assert apply_rules(rules, f).tolist() == [False] * 3 + [True] * 3


# ------------------------------------------------------ the classifiers as configured
@pytest.mark.parametrize("method", list(METHODS))
def test_classifiers_are_built_as_the_protocols_say(method):
    """Our protocol weights the classes ("balanced"), the paper's does not; the scaler
    comes first; the seed reaches the classifier; otherwise scikit-learn's defaults."""
    model = classifiers.make_classifier(method, 3)
    assert [name for name, _ in model.steps] == ["scale", "clf"]
    p = model.get_params()
    assert p["clf__class_weight"] == "balanced" and p["clf__random_state"] == 3
    paper = classifiers.make_classifier(method, 3, class_weight=None).get_params()
    assert paper["clf__class_weight"] is None
    assert classifiers.make_classifier(method).get_params()["clf__random_state"] == 0
    want = {
        "logreg": {"max_iter": 2000},
        "svc_linear": {"kernel": "linear"},
        "svc_rbf": {"kernel": "rbf", "gamma": "scale"},
    }[method]
    assert {k: p[f"clf__{k}"] for k in want} == want


def test_classifier_score_is_the_probability_or_the_logistic_margin():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3))
    y = x[:, 0] + 0.3 * rng.normal(size=60) > 0
    for method in METHODS:
        model = classifiers.make_classifier(method).fit(x, y)
        score = classifiers.classifier_score(model, x)
        if method == "logreg":
            want = model.predict_proba(x)[:, 1]
        else:
            want = 1.0 / (1.0 + np.exp(-model.decision_function(x)))
        np.testing.assert_allclose(score, want, rtol=1e-12)
        assert ((score > 0.5) == model.predict(x)).all()


def test_table1_default_seed_is_0():
    rng = np.random.default_rng(1)
    feats = pd.DataFrame(rng.normal(size=(80, 2)), columns=["a", "b"])
    good = feats["a"].to_numpy() + 0.5 * rng.normal(size=80) > 0.3
    kw = dict(shares=(0.3,), methods=("logreg",))
    pd.testing.assert_frame_equal(table1(feats, good, **kw), table1(feats, good, seed=0, **kw))
    assert not table1(feats, good, **kw).equals(table1(feats, good, seed=5, **kw))


def test_filter_fit_and_accept_by_hand():
    ts, good = _rated_walks(40, 15)
    flt = classifiers.Filter.fit(ts, good, windows=(8, 24))
    assert flt.method == "logreg" and flt.windows == (8, 24)
    assert flt.info == {"n_tracks": 40, "n_good": 15, "seed": 0}
    assert classifiers.Filter.fit(ts, good, windows=(8, 24), seed=4).info["seed"] == 4
    cols = compute_features(ts, (8, 24), include_latent=True).columns
    assert flt.columns == tuple(cols) and flt.uses_latent
    same = classifiers.Filter.fit_features(compute_features(ts, (8, 24)), good, windows=(8, 24))
    np.testing.assert_array_equal(flt.score(ts), same.score(ts))
    assert same.method == "logreg" and same.info["seed"] == 0  # the defaults
    # accepted: a score strictly above the threshold
    score = flt.score(ts)
    flt.threshold = float(np.sort(score)[20])
    assert flt.accept(ts).sum() == 19 and flt.accept(ts).dtype == bool
    empty = flt.accept(ts.subset([]))
    assert empty.dtype == bool and empty.shape == (0,)
    # a filter fitted with latent needs tracks with a latent of that size
    no_z = TrackSet.from_tracks(list(ts), ts.styles, ts.style)
    with pytest.raises(ValueError, match="fitted with 2 latent coordinates; the tracks have None"):
        flt.score(no_z)
    wide = TrackSet.from_tracks(list(ts), ts.styles, ts.style, latent=np.zeros((40, 3)))
    with pytest.raises(ValueError, match="fitted with 2 latent coordinates; the tracks have 3"):
        flt.score(wide)


def test_heuristic_filter_needs_its_rule_count_and_keeps_its_info():
    ts, good = _rated_walks(40, 15)
    feats = compute_features(ts, (8, 16), include_latent=False)
    with pytest.raises(
        ValueError, match=r"^method='heuristic' needs max_rules \(cfg.filter.heuristic_max_rules\)$"
    ):
        classifiers.Filter.fit_features(feats, good, method="heuristic", windows=(8, 16))
    flt = classifiers.Filter.fit_features(
        feats, good, method="heuristic", windows=(8, 16), max_rules=2, seed=4
    )
    assert flt.info == {"n_tracks": 40, "n_good": 15, "seed": 4}
    assert flt.score(ts).shape == (40,)
    flt.rules = ()
    assert flt.score(ts).tolist() == [1.0] * 40 and flt.accept(ts).all()
