"""Normalisation of one track (Section 2 of the paper) and the filters that drop tracks.

From raw notes (onsets, lengths in quarter notes, MIDI pitches) to events:

1. **Skyline** (:func:`skyline`): a polyphonic part or MIDI track becomes one
   melodic line. Notes are taken in onset order; at each onset the highest
   starting pitch wins, and it is hidden if a higher earlier note still sounds.
   A note lasts until the next kept onset (inter-onset length); if it ends
   earlier by at least ``min_rest`` quarter notes, the gap becomes a rest event,
   a shorter gap (staccato, MIDI release jitter) is absorbed into the note.
   Leading and trailing silence is dropped.
2. **Durations**: every event length is divided by the track's median event
   length (the *lower* median, so that it is an actual event length and ratio 1
   exists) and snapped to the global vocabulary of rational ratios
   (:func:`vrashlib.data.encoding.duration_index`). A rest longer than
   ``max_rest_ratio`` medians is shortened to that length: a voice of a
   polyphonic piece that waits for bars would otherwise add one rare duration
   value per silence (9, 13, 17 ... medians) and fail the distinct-durations
   filter for its silences, not its melody. ``unit_seconds`` = median length in
   quarter notes x 60 / tempo (qpm) keeps the original time scale.
3. **Octave**: the whole track is shifted by whole octaves so that its (lower)
   median pitch lies in octave 4 (MIDI 60..71).

Filters, applied in this order; a track is dropped by the first one it fails
(the funnel counts each track once): ``drums`` (MIDI drum tracks),
``sound_effect`` (General MIDI programs 120-127: guitar fret noise ... gunshot),
``too_short`` (fewer than ``min_events`` events), ``off_grid`` (more than
``max_off_grid_share`` of the events have a ratio no vocabulary entry matches
within :data:`~vrashlib.data.encoding.DURATION_TOLERANCE`), ``durations`` (more than
``max_distinct_durations`` distinct ratios, the paper's eleven), ``range``
(a note outside octaves 0..8 after the shift), ``low_entropy`` (pitch
entropy below ``min_pitch_entropy`` bits), ``accompaniment`` (off by default:
more than ``max_accompaniment_share`` of the notes in repeated broken-chord
figures, :func:`accompaniment_share`) and, across all tracks read,
``duplicate`` (the same normalised events as a track read before it, see
:func:`vrashlib.data.ingest.mark_duplicates`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vrashlib.data.encoding import (
    MEDIAN_OCTAVE,
    N_OCTAVES,
    OCT_NONE,
    REST,
    duration_index,
)

FILTERS: tuple[str, ...] = (
    "drums", "sound_effect", "too_short", "off_grid", "durations", "range", "low_entropy",
    "accompaniment", "duplicate",
)  # fmt: skip
_EPS = 1e-9


@dataclass(frozen=True)
class Normalised:
    """Outcome for one track: ``events`` when kept, else the filter that dropped it."""

    events: np.ndarray | None  # (n, 3) int16 when kept
    unit_seconds: float  # seconds per duration ratio 1
    dropped_by: str | None  # a name from FILTERS, None when kept
    n_events: int
    pitch_entropy: float  # bits, pitch with octave, notes only
    distinct_durations: int
    accompaniment: float = 0.0  # accompaniment_share of the line


def skyline(
    onsets: np.ndarray, lengths: np.ndarray, pitches: np.ndarray, *, min_rest: float
) -> tuple[np.ndarray, np.ndarray]:
    """One melodic line from possibly overlapping notes (times in quarter notes).

    Returns ``(pitch, length)`` per event, pitch ``-1`` for a rest; see the
    module docstring for the rule.
    """
    onsets = np.asarray(onsets, np.float64)
    lengths = np.asarray(lengths, np.float64)
    pitches = np.asarray(pitches, np.int64)
    keep = lengths > _EPS
    onsets, lengths, pitches = onsets[keep], lengths[keep], pitches[keep]
    if len(onsets) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float64)
    order = np.lexsort((-lengths, -pitches, onsets))  # onset, then highest, then longest
    onsets, lengths, pitches = onsets[order], lengths[order], pitches[order]
    first = np.concatenate([[True], np.diff(onsets) > _EPS])  # top note of each onset
    out_p: list[int] = []
    out_l: list[float] = []
    cur_p, cur_start, cur_end = None, 0.0, 0.0
    for t, length, p in zip(onsets[first], lengths[first], pitches[first], strict=True):
        if cur_p is not None:
            if cur_end > t + _EPS and cur_p >= p:
                continue  # hidden under a higher note that still sounds
            gap = t - cur_end
            if gap >= min_rest - _EPS and gap > _EPS:
                out_p += [cur_p, -1]
                out_l += [cur_end - cur_start, gap]
            else:
                out_p.append(cur_p)
                out_l.append(t - cur_start)
        cur_p, cur_start, cur_end = int(p), float(t), float(t + length)
    out_p.append(cur_p)
    out_l.append(cur_end - cur_start)
    return np.asarray(out_p, np.int64), np.asarray(out_l, np.float64)


def lower_median(values: np.ndarray) -> float:
    """The lower middle value (an element of ``values``, unlike the mean of two)."""
    v = np.sort(np.asarray(values))
    return v[(len(v) - 1) // 2]


def entropy_bits(symbols: np.ndarray) -> float:
    """Plug-in Shannon entropy (bits) of the empirical distribution of ``symbols``;
    0 for an empty sequence (and +0.0, never -0.0, for a constant one).

    The one such function of the library: the track filter's pitch entropy, and the
    tests' brute-force reference for :mod:`vrashlib.filter.features`.
    """
    symbols = np.asarray(symbols)
    if symbols.size == 0:
        return 0.0
    _, counts = np.unique(symbols, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum() + 0.0)


def octave_shift(note_pitches: np.ndarray) -> int:
    """Semitones (a multiple of 12) that move the median pitch into octave 4."""
    median = int(lower_median(note_pitches))
    return 12 * (MEDIAN_OCTAVE - (median // 12 - 1))


def normalise_track(
    pitch: np.ndarray,
    length: np.ndarray,
    qpm: float,
    *,
    min_events: int,
    max_off_grid_share: float,
    max_distinct_durations: int,
    min_pitch_entropy: float,
    max_rest_ratio: float,
    max_accompaniment_share: float | None = None,
) -> Normalised:
    """Events of one monophonic line (``pitch`` -1 = rest, ``length`` in quarters).

    The rules are :class:`vrashlib.config.DataConfig`'s fields of the same names."""
    pitch = np.asarray(pitch, np.int64)
    length = np.asarray(length, np.float64)
    n = len(pitch)
    notes = pitch >= 0
    ent = entropy_bits(pitch[notes])
    acc = accompaniment_share(pitch)
    if n == 0 or not notes.any():
        return Normalised(None, 0.0, "too_short", n, ent, 0, acc)
    median = float(lower_median(length))
    unit_seconds = median * 60.0 / qpm
    ratio = length / median
    ratio[~notes] = np.minimum(ratio[~notes], max_rest_ratio)
    dur, on_grid = duration_index(ratio)
    distinct = len(np.unique(dur))

    def drop(reason: str) -> Normalised:
        return Normalised(None, unit_seconds, reason, n, ent, distinct, acc)

    if n < min_events:
        return drop("too_short")
    if (~on_grid).mean() > max_off_grid_share + _EPS:
        return drop("off_grid")
    if distinct > max_distinct_durations:
        return drop("durations")
    shifted = pitch[notes] + octave_shift(pitch[notes])
    octave = shifted // 12 - 1
    if octave.min() < 0 or octave.max() >= N_OCTAVES:
        return drop("range")
    if ent < min_pitch_entropy:
        return drop("low_entropy")
    if max_accompaniment_share is not None and acc > max_accompaniment_share + _EPS:
        return drop("accompaniment")
    events = np.empty((n, 3), np.int16)
    events[:, 0] = REST
    events[:, 1] = OCT_NONE
    events[notes, 0] = shifted % 12
    events[notes, 1] = octave
    events[:, 2] = dur
    return Normalised(events, unit_seconds, None, n, ent, distinct, acc)


# Chords whose broken figures make accompaniment: pitch-class sets of the triads and
# seventh chords on every root (major, minor, diminished, augmented; dominant, minor,
# major and half-diminished sevenths).
_CHORD_SHAPES = ((0, 4, 7), (0, 3, 7), (0, 3, 6), (0, 4, 8),
                 (0, 4, 7, 10), (0, 3, 7, 10), (0, 4, 7, 11), (0, 3, 6, 10))  # fmt: skip
_CHORD_MASKS = np.array(
    [sum(1 << ((root + i) % 12) for i in shape) for shape in _CHORD_SHAPES for root in range(12)]
)
# _IN_CHORD[mask]: the pitch classes of ``mask`` (at least three) lie in one chord.
_IN_CHORD = np.array(
    [bin(m).count("1") >= 3 and bool(((m & ~_CHORD_MASKS) == 0).any()) for m in range(4096)]
)


def accompaniment_share(pitch: np.ndarray, *, blocks: tuple[int, ...] = (3, 4)) -> float:
    """Share of a line's notes that lie in repeated broken-chord figures (0..1).

    ``pitch`` is one event per entry, MIDI pitch or ``-1`` for a rest. A figure is
    two adjacent blocks of ``b`` notes (``b`` in ``blocks``, no rest inside) with
    the same contour (the order of their pitches, ties included), each block's
    pitch classes, at least three, within one triad or seventh chord: an Alberti
    bass (C G E G | D G F G), a broken chord (C E G | B D G), an arpeggio. The
    chord may change from block to block, the shape of the figure does not. A
    melody outlines chords too, but rarely twice in a row with the same shape.
    """
    pitch = np.asarray(pitch, np.int64)
    n = len(pitch)
    notes = pitch >= 0
    if not notes.any():
        return 0.0
    covered = np.zeros(n + 1, np.int64)  # difference array of covered spans
    for b in blocks:
        if n < 2 * b:
            continue
        win = np.lib.stride_tricks.sliding_window_view(pitch, b)  # (n - b + 1, b)
        mask = np.zeros(len(win), np.int64)
        for j in range(b):
            mask |= 1 << (win[:, j] % 12)
        chordal = _IN_CHORD[mask] & (win >= 0).all(axis=1)
        shape = np.zeros(len(win), np.int64)  # the signs of every pair, base 3
        for j in range(b):
            for k in range(j + 1, b):
                shape = shape * 3 + np.sign(win[:, k] - win[:, j]) + 1
        start = np.flatnonzero(chordal[:-b] & chordal[b:] & (shape[:-b] == shape[b:]))
        np.add.at(covered, start, 1)
        np.add.at(covered, start + 2 * b, -1)
    inside = np.cumsum(covered[:n]) > 0
    return float((inside & notes).sum() / notes.sum())
