"""Normalisation rules on hand-made tracks whose answer is known."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from vrashlib.data.encoding import DURATION_RATIOS, OCT_NONE, REST, midi_pitch
from vrashlib.data.normalise import (
    FILTERS,
    accompaniment_share,
    entropy_bits,
    lower_median,
    normalise_track,
    octave_shift,
    skyline,
)

RULES = dict(
    min_events=4,
    max_off_grid_share=0.0,
    max_distinct_durations=11,
    min_pitch_entropy=1.0,
    max_rest_ratio=8.0,
)


def ratios(events: np.ndarray) -> list[Fraction]:
    return [DURATION_RATIOS[i] for i in events[:, 2]]


# ------------------------------------------------------------------- skyline
def test_skyline_keeps_highest_note_of_a_chord():
    onsets = [0, 0, 0, 1, 1]
    lengths = [1, 1, 1, 1, 1]
    pitches = [60, 64, 67, 62, 65]
    p, ln = skyline(onsets, lengths, pitches, min_rest=0.125)
    assert p.tolist() == [67, 65]
    assert ln.tolist() == [1.0, 1.0]


def test_skyline_hides_lower_onsets_under_a_sounding_higher_note():
    # a held high note (0..2) over a low note starting at 1: the low one is hidden
    p, ln = skyline([0, 1, 2], [2, 1, 1], [72, 60, 64], min_rest=0.125)
    assert p.tolist() == [72, 64]
    assert ln.tolist() == [2.0, 1.0]


def test_skyline_higher_onset_cuts_the_sounding_note():
    p, ln = skyline([0, 1], [4, 1], [60, 72], min_rest=0.125)
    assert p.tolist() == [60, 72]
    assert ln.tolist() == [1.0, 1.0]


def test_skyline_gaps_become_rests_or_are_absorbed():
    # gap of 1 quarter -> rest; gap of 0.0625 (staccato) -> absorbed into the note
    p, ln = skyline([0, 2, 3], [1, 0.9375, 1], [60, 62, 64], min_rest=0.125)
    assert p.tolist() == [60, -1, 62, 64]
    assert ln.tolist() == [1.0, 1.0, 1.0, 1.0]


def test_skyline_drops_leading_silence_and_zero_length_notes():
    p, ln = skyline([4, 4, 5], [0, 1, 1], [90, 60, 62], min_rest=0.125)
    assert p.tolist() == [60, 62]


def test_skyline_is_order_independent():
    rng = np.random.default_rng(0)
    on = rng.integers(0, 40, 60) / 2
    le = rng.integers(1, 4, 60) / 2
    pi = rng.integers(50, 80, 60)
    perm = rng.permutation(60)
    a = skyline(on, le, pi, min_rest=0.125)
    b = skyline(on[perm], le[perm], pi[perm], min_rest=0.125)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


# --------------------------------------------------------------- statistics
def test_entropy_bits_known_values():
    assert entropy_bits(np.array([60, 62, 64, 65] * 5)) == pytest.approx(2.0)
    assert entropy_bits(np.array([60] * 9)) == 0.0
    assert entropy_bits(np.array([60, 60, 60, 62])) == pytest.approx(0.8112781, abs=1e-6)


def test_lower_median_is_an_element():
    assert lower_median(np.array([0.5, 1.0])) == 0.5
    assert lower_median(np.array([3, 1, 2])) == 2


def test_octave_shift_moves_median_to_octave_4():
    assert octave_shift(np.array([84, 86, 88])) == -24  # C6 -> C4
    assert octave_shift(np.array([36, 40, 43])) == 24  # C2 -> C4
    assert octave_shift(np.array([60, 71])) == 0


# --------------------------------------------------------------- normalise
def test_normalise_known_track():
    # E6 F6 G6 (rest) A6 ... in eighths and quarters at 90 qpm; median length 0.5
    pitch = np.array([88, 89, 91, -1, 93, 91, 89, 88])
    length = np.array([0.5, 0.5, 1.0, 0.5, 0.25, 0.25, 0.5, 1.5])
    r = normalise_track(pitch, length, 90.0, **RULES)
    assert r.dropped_by is None
    assert r.unit_seconds == pytest.approx(0.5 * 60 / 90)
    assert ratios(r.events) == [1, 1, 2, 1, Fraction(1, 2), Fraction(1, 2), 1, 3]
    assert r.events[3].tolist()[:2] == [REST, OCT_NONE]
    # shifted down two octaves: median (lower median of notes = F6=89) -> F4
    got = midi_pitch(r.events)
    assert got[r.events[:, 0] != REST].tolist() == [64, 65, 67, 69, 67, 65, 64]
    assert r.distinct_durations == 4


def test_shift_is_whole_octaves_and_median_lands_in_octave_4():
    rng = np.random.default_rng(3)
    for _ in range(20):
        pitch = rng.integers(30, 100, 30)
        r = normalise_track(pitch, np.ones(30), 120.0, **{**RULES, "min_pitch_entropy": 0})
        if r.dropped_by == "range":
            continue
        moved = midi_pitch(r.events) - pitch
        assert len(set(moved.tolist())) == 1 and moved[0] % 12 == 0
        assert 60 <= lower_median(midi_pitch(r.events)) <= 71


@pytest.mark.parametrize(
    "pitch,length,reason",
    [
        ([60, 62, 64], [1, 1, 1], "too_short"),
        ([60, 62, 64, 65, 67, 65], [1, 1, 1, 1, 0.2, 1], "off_grid"),  # 1/5 is no vocabulary ratio
        (
            list(range(60, 72)),
            [1, 2, 3, 4, 1 / 2, 3 / 2, 5 / 2, 1 / 4, 3 / 4, 6, 8, 5],
            "durations",  # twelve distinct ratios > eleven
        ),
        ([20, 60, 61, 62, 120, 60], [1] * 6, "range"),  # spans more than nine octaves
        ([60] * 20, [1] * 20, "low_entropy"),
        ([60, 62] * 10, [1] * 20, "low_entropy"),  # exactly 1 bit < 1.5
    ],
)
def test_filters(pitch, length, reason):
    rules = {**RULES, "min_pitch_entropy": 1.5}
    r = normalise_track(np.array(pitch), np.array(length, float), 120.0, **rules)
    assert r.dropped_by == reason
    assert r.events is None
    assert reason in FILTERS


def test_eleven_distinct_durations_are_allowed():
    length = [1, 2, 3, 4, 1 / 2, 3 / 2, 5 / 2, 1 / 4, 3 / 4, 6, 1, 1]
    r = normalise_track(np.arange(60, 72), np.array(length), 120.0, **RULES)
    assert r.dropped_by is None and r.distinct_durations == 10
    length[-1] = 8
    r = normalise_track(np.arange(60, 72), np.array(length), 120.0, **RULES)
    assert r.dropped_by is None and r.distinct_durations == 11


def test_off_grid_share_is_a_threshold():
    length = np.ones(50)
    length[7] = 0.2  # one off-grid event in 50 = 2%
    pitch = np.arange(50) % 7 + 60
    assert normalise_track(pitch, length, 120.0, **RULES).dropped_by == "off_grid"
    ok = normalise_track(pitch, length, 120.0, **{**RULES, "max_off_grid_share": 0.02})
    assert ok.dropped_by is None


def test_long_rests_are_shortened_to_max_rest_ratio():
    pitch = np.array([60, 62, -1, 64, 65, -1, 67, 69])
    length = np.array([1, 1, 13, 1, 1, 17, 1, 1], float)
    r = normalise_track(pitch, length, 120.0, **{**RULES, "max_rest_ratio": 8.0})
    assert r.dropped_by is None
    assert ratios(r.events)[2] == 8 and ratios(r.events)[5] == 8
    assert r.distinct_durations == 2
    kept = normalise_track(pitch, length, 120.0, **{**RULES, "max_rest_ratio": 100.0})
    assert kept.dropped_by == "off_grid"  # 17 is beyond the vocabulary


# -------------------------------------------------------- melody-likeness
ALBERTI = [60, 67, 64, 67, 62, 67, 65, 67, 60, 67, 64, 67, 59, 67, 62, 67]  # C, G7, C, G


@pytest.mark.parametrize(
    ("pitch", "expected"),
    [
        (ALBERTI, 1.0),  # the chord changes from block to block, the figure's shape not
        ([60, 64, 67] * 6, 1.0),  # a broken C major chord
        ([60, 64, 67, 72, 59, 62, 67, 71], 1.0),  # rising arpeggios, C then G
        ([60, 62, 64, 65, 67, 69, 71, 72] * 2, 0.0),  # scales: no block is a chord
        ([60, 64, 67, 64, 62, 59, 55, 59], 0.0),  # outlines C and G, not twice the same shape
        ([60, 62] * 8, 0.0),  # a trill: two pitch classes
        ([60, 67, 64, 67, -1, 62, 67, 65, 67], 0.0),  # a rest breaks the figure
        ([72, 74, 76, 77] + ALBERTI[:8] + [79, 77, 76, 74], 8 / 16),  # a figure inside a tune
        ([], 0.0),
        ([-1, -1], 0.0),
    ],
)
def test_accompaniment_share_on_known_figures(pitch, expected):
    assert accompaniment_share(np.array(pitch, np.int64)) == pytest.approx(expected)


def test_accompaniment_filter_is_off_unless_a_share_is_given():
    length = np.ones(len(ALBERTI))
    off = normalise_track(np.array(ALBERTI), length, 120.0, **RULES)
    assert off.dropped_by is None and off.accompaniment == 1.0
    on = normalise_track(np.array(ALBERTI), length, 120.0, **RULES, max_accompaniment_share=0.5)
    assert on.dropped_by == "accompaniment" and on.accompaniment == 1.0
    tune = np.array([60, 62, 64, 65, 67, 65, 64, 62, 60, 64, 67, 72, 71, 69, 67, 65])
    kept = normalise_track(tune, np.ones(16), 120.0, **RULES, max_accompaniment_share=0.5)
    assert kept.dropped_by is None and kept.accompaniment == 0.0


def test_filter_order_has_the_cross_track_duplicate_last():
    assert FILTERS[:2] == ("drums", "sound_effect") and FILTERS[-1] == "duplicate"
    assert "accompaniment" in FILTERS and len(set(FILTERS)) == len(FILTERS)
