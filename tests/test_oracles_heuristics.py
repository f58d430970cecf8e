"""The strict heuristics' thresholds worked out by hand on cases built to tell apart the
ways a threshold search can go wrong: equal values straddling the classes, a constant
feature, a class of one track, the minimum support at its exact edge, ties between
equally precise cuts, and the greedy search's choice between a clean and a loose cut.

``_best_cut`` returns ``(objective, op, threshold, good kept, bad kept)``: strict, the
number of good tracks kept without a bad one (-1 if none); loose, Youden's J = good
kept share - bad kept share. ``_precise_cut`` returns ``(precision, op, threshold)``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from vrashlib.filter.heuristics import Rule, _best_cut, _precise_cut, apply_rules, find_rules

T, F = True, False


def test_equal_values_are_never_split_by_a_threshold():
    # sorted values 1 2 2 3, classes bad bad good good: a cut between the two 2s would
    # "keep" the good 2 and drop the bad 2, which no threshold can do
    col, y = np.array([1.0, 2.0, 2.0, 3.0]), np.array([F, F, T, T])
    assert _best_cut(col, y, True) == (1.0, ">=", 3.0, 1, 0)
    assert _best_cut(col, y, True, 1) == (1.0, ">=", 3.0, 1, 0)  # keeps exactly min_keep
    assert _precise_cut(col, y, 1) == (1.0, ">=", 3.0)


def test_a_constant_feature_keeps_everything_with_j_zero():
    # every cut keeps all three tracks: J = 2/2 - 1/1 = 0; ">=" is found first and a
    # "<=" cut of equal J does not replace it
    assert _best_cut(np.array([5.0, 5.0, 5.0]), np.array([T, F, T]), False) == (
        0.0,
        ">=",
        5.0,
        2,
        1,
    )


def test_youdens_j_with_a_class_of_one_track():
    # one good track: "<= 1" keeps it alone, J = 1/1 - 0/3 = 1
    assert _best_cut(np.array([1.0, 2.0, 3.0, 4.0]), np.array([T, F, F, F]), False) == (
        1.0,
        "<=",
        1.0,
        1,
        0,
    )
    # one bad track in the middle: keeping all gives J = 1 - 1 = 0; ">= 3" gives 1/2 - 0
    assert _best_cut(np.array([1.0, 2.0, 3.0]), np.array([T, F, T]), False) == (
        0.5,
        ">=",
        3.0,
        1,
        0,
    )


def test_minimum_kept_at_its_edge():
    col, y = np.arange(1.0, 7.0), np.array([F, F, F, F, T, T])
    assert _best_cut(col, y, False) == (1.0, ">=", 5.0, 2, 0)
    # at least 3 tracks: ">= 4" keeps exactly 3 (2 good, 1 bad): J = 1 - 1/4
    assert _best_cut(col, y, False, 3) == (0.75, ">=", 4.0, 2, 1)
    # strict, at least 2: ">= 5" keeps exactly the 2 good tracks
    assert _best_cut(col, y, True, 2) == (2.0, ">=", 5.0, 2, 0)
    assert _best_cut(col, y, True, 3)[0] == -1.0


def test_precise_cut_keeps_the_first_value_group_and_breaks_ties_by_good_kept():
    # "<= 1" keeps the single first track, which is good: precision 1
    assert _precise_cut(np.array([1.0, 2.0, 3.0, 4.0]), np.array([T, F, T, F]), 1) == (
        1.0,
        "<=",
        1.0,
    )
    # ">= 3" (two good) and ">= 4" (one good) are both precise: two good kept wins
    assert _precise_cut(np.array([1.0, 2.0, 3.0, 4.0]), np.array([F, F, T, T]), 1) == (
        1.0,
        ">=",
        3.0,
    )


# a = 0..9, bad at 0, 1, 2 and 7: the loose cut ">= 3" (J = 1 - 1/4) keeps the bad 7,
# the clean cut ">= 8" keeps 2 of the 6 good tracks
A10 = pd.DataFrame({"a": np.arange(10.0)})
GOOD10 = np.isin(np.arange(10), [3, 4, 5, 6, 8, 9])


def test_one_rule_allowed_is_the_clean_cut():
    assert find_rules(A10, GOOD10, max_rules=1) == [Rule("a", ">=", 8.0)]


def test_a_clean_cut_keeping_under_half_the_good_waits_for_the_loose_one():
    rules = find_rules(A10, GOOD10, max_rules=2)
    assert rules == [Rule("a", ">=", 3.0), Rule("a", "<=", 6.0)]
    assert apply_rules(rules, A10).tolist() == np.isin(np.arange(10), [3, 4, 5, 6]).tolist()


def test_a_clean_cut_keeping_half_the_good_or_more_is_taken_at_once():
    # 11 bad (0..9 and 11), 9 good (10, 12..19): loose ">= 10" (J = 1 - 1/11) would keep
    # the bad 11, the clean ">= 12" keeps 8 of 9 good (>= half): one rule, at once
    a = np.arange(20.0)
    good = np.isin(a, [10, *range(12, 20)])
    assert find_rules(pd.DataFrame({"a": a}), good, max_rules=3) == [Rule("a", ">=", 12.0)]


def test_the_best_loose_feature_is_chosen_not_the_first():
    noise = np.tile([0.0, 1.0], 5)  # J at most 0 on its own
    f = pd.DataFrame({"noise": noise, "a": np.arange(10.0)})
    assert find_rules(f, GOOD10, max_rules=2) == [Rule("a", ">=", 3.0), Rule("a", "<=", 6.0)]


def test_when_no_cut_removes_a_bad_track_the_search_stops():
    # value groups (good, bad, bad) x 3: every cut has J = 0 and keeps every bad track
    f = pd.DataFrame({"a": np.repeat([0.0, 1.0, 2.0], 3)})
    good = np.tile([T, F, F], 3)
    assert find_rules(f, good, max_rules=3) == [Rule("a", ">=", np.inf)]  # accept nothing
    # with a minimum support: no useless "keep all" rule before the most precise cut
    assert find_rules(f, good, max_rules=3, min_support=2) == [Rule("a", ">=", 0.0)]


def test_a_minimum_support_of_one_track_still_falls_back_to_the_most_precise_cut():
    f = pd.DataFrame({"a": np.repeat([0.0, 1.0, 2.0], 2)})
    good = np.tile([T, F], 3)  # no clean cut at all
    rules = find_rules(f, good, max_rules=3, min_support=1)
    assert rules == [Rule("a", ">=", 0.0)] and apply_rules(rules, f).all()


def test_the_most_precise_feature_is_chosen_not_the_first():
    # a: groups (good, bad, bad), precision 1/3 at best; b: "<= 3" keeps 4 tracks, 2 good
    a = np.repeat([0.0, 1.0, 2.0], 3)
    b = np.array([0.0, 1, 2, 3, 4, 5, 8, 6, 7])
    good = np.tile([T, F, F], 3)
    f = pd.DataFrame({"a": a, "b": b})
    assert _precise_cut(a, good, 3)[0] == pytest.approx(1 / 3)
    assert _precise_cut(b, good, 3) == (0.5, "<=", 3.0)
    assert find_rules(f, good, max_rules=1, min_support=3) == [Rule("b", "<=", 3.0)]


def test_a_clean_cut_keeping_exactly_half_the_good_is_taken():
    # a = 0..8, good at 4 and 6. Step 1, loose: ">= 4". Step 2, on 4..8 (good 4, 6): the
    # clean "<= 4" keeps 1 of the 2 good tracks, exactly half: taken at once
    a = np.arange(9.0)
    rules = find_rules(pd.DataFrame({"a": a}), np.isin(a, [4, 6]), max_rules=3)
    assert rules == [Rule("a", ">=", 4.0), Rule("a", "<=", 4.0)]
