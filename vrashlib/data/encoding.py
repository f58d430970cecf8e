"""The note encoding shared by every part of vrashlib, documented in one place.

A *track* is one monophonic melodic line. After normalisation (``vrashlib.data.prepare``)
it is a sequence of *events*; each event is three small integers:

=========  ==================================================================
column     meaning
=========  ==================================================================
``PC``     pitch class 0..11 (C=0 ... B=11), ``REST`` (12) or ``END`` (13)
``OCT``    octave 0..8 of the note, after the track was shifted by whole
           octaves so that its median pitch lies in octave 4 (scientific
           pitch notation: middle C = C4 = MIDI 60); ``OCT_NONE`` (9) for a
           rest or the end marker
``DUR``    index into :data:`DURATION_RATIOS`: the event's length divided by
           the track's median event length, snapped to the nearest ratio of
           the global vocabulary; ``DUR_NONE`` for the end marker
=========  ==================================================================

Stored tracks hold no end marker; the models append one (:func:`with_end`) so
that they learn when a melody is over. Per track the dataset also keeps the
*meta-information*: the style label (an index into the dataset's style list)
and ``unit_seconds``, the length in seconds of a duration ratio of 1 in the
original piece, so that a normalised melody can be turned back into sound.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

PC, OCT, DUR = 0, 1, 2

N_PITCH_CLASSES = 12
REST = 12
END = 13
PC_VOCAB = 14

N_OCTAVES = 9
OCT_NONE = 9
OCT_VOCAB = 10

MEDIAN_OCTAVE = 4
PITCH_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


# The denominators of the duration ratios: binary subdivisions and triplets.
DURATION_DENOMINATORS: tuple[int, ...] = (1, 2, 3, 4, 6, 8, 12, 16)
# Their least common multiple: every ratio is a whole number of 1/48 units.
DURATION_LCM = 48


def _duration_vocabulary() -> tuple[Fraction, ...]:
    """All ratios n/d with d in :data:`DURATION_DENOMINATORS` between 1/16 and 16.

    Denominators cover binary subdivisions and triplets of the median length
    (the paper: "1/2 and 3/2 being especially popular"); the range covers a
    whole-note rest against a sixteenth-note median and the reverse.
    """
    ratios = {
        Fraction(n, d)
        for d in DURATION_DENOMINATORS
        for n in range(1, 16 * d + 1)
        if Fraction(1, 16) <= Fraction(n, d) <= 16
    }
    return tuple(sorted(ratios))


DURATION_RATIOS: tuple[Fraction, ...] = _duration_vocabulary()
DURATION_VALUES = np.array([float(r) for r in DURATION_RATIOS], dtype=np.float64)
# Each ratio in 1/48 units (exact integers: the ratio of two lengths is a fraction of two).
DURATION_48THS = np.array([int(r * DURATION_LCM) for r in DURATION_RATIOS], dtype=np.int64)
_LOG_DURATIONS = np.log(DURATION_VALUES)
DUR_NONE = len(DURATION_RATIOS)
DUR_VOCAB = len(DURATION_RATIOS) + 1
DUR_ONE = DURATION_RATIOS.index(Fraction(1))

VOCAB_SIZES = (PC_VOCAB, OCT_VOCAB, DUR_VOCAB)
END_EVENT = np.array([END, OCT_NONE, DUR_NONE], dtype=np.int16)

# A ratio more than this far from every vocabulary entry (relative, in log space)
# is "off grid": the track's timing is not expressible in the vocabulary.
DURATION_TOLERANCE = 0.04


def duration_index(ratios: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Snap ratios (event length / median length) to the vocabulary.

    Returns ``(index, on_grid)``: the nearest entry in log space and whether it
    lies within :data:`DURATION_TOLERANCE` of the ratio.
    """
    logs = np.log(np.asarray(ratios, dtype=np.float64))
    pos = np.clip(np.searchsorted(_LOG_DURATIONS, logs), 1, len(_LOG_DURATIONS) - 1)
    left, right = _LOG_DURATIONS[pos - 1], _LOG_DURATIONS[pos]
    idx = np.where(logs - left <= right - logs, pos - 1, pos)
    on_grid = np.abs(_LOG_DURATIONS[idx] - logs) <= np.log1p(DURATION_TOLERANCE)
    return idx.astype(np.int16), on_grid


def midi_pitch(events: np.ndarray) -> np.ndarray:
    """MIDI pitch of each event (C4 = 60); -1 for rests and the end marker."""
    events = np.asarray(events)
    pitch = 12 * (events[:, OCT].astype(np.int32) + 1) + events[:, PC]
    return np.where(events[:, PC] < N_PITCH_CLASSES, pitch, -1)


def event_from_midi(pitch: int | None, dur_index: int) -> tuple[int, int, int]:
    """One event from a MIDI pitch (``None`` for a rest) and a duration index."""
    if pitch is None:
        return (REST, OCT_NONE, dur_index)
    octave = pitch // 12 - 1
    if not 0 <= octave < N_OCTAVES:
        raise ValueError(f"MIDI pitch {pitch} lies outside octaves 0..{N_OCTAVES - 1}")
    return (pitch % 12, octave, dur_index)


def durations_in_units(events: np.ndarray) -> np.ndarray:
    """Length of each event in median-duration units (0 for the end marker)."""
    idx = np.asarray(events)[:, DUR]
    values = np.append(DURATION_VALUES, 0.0)
    return values[np.minimum(idx, DUR_NONE)]


def with_end(events: np.ndarray) -> np.ndarray:
    """The track with the end marker appended (model input/target form)."""
    return np.concatenate([np.asarray(events, dtype=np.int16), END_EVENT[None, :]], axis=0)


def strip_end(events: np.ndarray) -> np.ndarray:
    """Everything before the first end marker (a generated track's music)."""
    events = np.asarray(events)
    ends = np.flatnonzero(events[:, PC] == END)
    return events[: ends[0]] if len(ends) else events


def validate_events(events: np.ndarray, *, allow_end: bool = False) -> None:
    """Raise ``ValueError`` if any event is outside the vocabulary or inconsistent."""
    events = np.asarray(events)
    if events.ndim != 2 or events.shape[1] != 3:
        raise ValueError(f"events must have shape (n, 3), got {events.shape}")
    pc, octv, dur = events[:, PC], events[:, OCT], events[:, DUR]
    is_note = pc < N_PITCH_CLASSES
    is_end = pc == END
    problems = []
    if (pc < 0).any() or (pc >= PC_VOCAB).any():
        problems.append("pitch class out of range")
    if is_end.any() and not allow_end:
        problems.append("end marker inside a stored track")
    if ((octv < 0) | (octv >= N_OCTAVES))[is_note].any():
        problems.append("note octave out of range")
    if (octv != OCT_NONE)[~is_note].any():
        problems.append("rest/end with an octave")
    if ((dur < 0) | (dur >= DUR_NONE))[~is_end].any():
        problems.append("duration index out of range")
    if (dur != DUR_NONE)[is_end].any():
        problems.append("end marker with a duration")
    if problems:
        raise ValueError("invalid events: " + ", ".join(problems))


def describe(events: np.ndarray, limit: int = 16) -> str:
    """Human-readable text of the first ``limit`` events, e.g. ``C4:1 r:1/2``."""
    out = []
    for pc, octv, dur in np.asarray(events)[:limit]:
        if pc == END:
            out.append("END")
            continue
        name = "r" if pc == REST else f"{PITCH_NAMES[pc]}{octv}"
        out.append(f"{name}:{DURATION_RATIOS[dur]}")
    return " ".join(out)
