"""Repeated notes per melody, by hand."""

from __future__ import annotations

import numpy as np

from tests.test_keys import _melody, _set
from vrashlib.analysis import repeats


def test_runs_and_pairs_by_hand():
    ts = _set(
        _melody([60, 60, None, 60, 60, 62, 62]),  # a run of 4 across a rest, then 2
        _melody([60, 62, 64]),
        _melody([None]),
    )
    per = repeats.melody_repeats(ts)
    assert per["longest_run"].tolist() == [4, 1, 0]
    assert per["run4"].tolist() == [True, False, False]
    assert per["same_pairs"].tolist() == [4, 0, 0]
    assert per["note_pairs"].tolist() == [5, 2, 0]
    s = repeats.repeat_summary(ts)
    assert s["repeat_rate"] == 4 / 7 and s["run4_share"] == 1 / 3
    assert s["max_longest_run"] == 4 and s["median_longest_run"] == 1


def test_a_run_never_crosses_two_melodies():
    per = repeats.melody_repeats(_set(_melody([60, 60]), _melody([60, 60, 60])))
    assert per["longest_run"].tolist() == [2, 3]


def test_empty_set():
    per = repeats.melody_repeats(_set())
    assert len(per) == 0 and np.isnan(repeats.repeat_summary(_set())["repeat_rate"])
