"""The key of each melody (Krumhansl-Schmuckler), its scale, and notes outside it.

Each track's duration-weighted pitch-class histogram is correlated with the 24
Krumhansl-Kessler key profiles (:data:`vrashlib.filter.autorater.MAJOR_PROFILE`,
``MINOR_PROFILE``); the best one is the track's key. A melody is normalised to a
median octave, not to a key, so absolute pitch mixes the key of each track with
its melody: :func:`relative_degree` (pitch class relative to the tonic) removes
the key, which is what a key-invariant mutual-information token needs.
"""

from __future__ import annotations

import numpy as np

from vrashlib.data.encoding import DUR, DURATION_48THS, N_PITCH_CLASSES, PC
from vrashlib.data.tracks import TrackSet
from vrashlib.filter.autorater import MAJOR_PROFILE, MINOR_PROFILE

# Scale degrees (semitones above the tonic) counted as in the key. Minor keys keep
# the raised sixth and seventh of the melodic and harmonic minor: a leading tone in
# a minor-key chorale is not out of key.
MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
MINOR_SCALE = (0, 2, 3, 5, 7, 8, 9, 10, 11)


def _profiles() -> np.ndarray:
    rows = [np.roll(p, k) for p in (MAJOR_PROFILE, MINOR_PROFILE) for k in range(12)]
    prof = np.array(rows) - np.mean(rows, axis=1, keepdims=True)
    return prof / np.linalg.norm(prof, axis=1, keepdims=True)


_KEYS = _profiles()  # rows 0-11 major keys on C..B, 12-23 minor keys


def track_keys(tracks: TrackSet) -> tuple[np.ndarray, np.ndarray]:
    """``(tonic, minor)`` per track: tonic pitch class 0-11, and whether the key is minor.

    A track without notes gets tonic 0 (C major): it has no pitch to shift.
    """
    n = len(tracks)
    ev = tracks.events
    seg = np.repeat(np.arange(n), np.diff(tracks.offsets))
    note = ev[:, PC] < N_PITCH_CLASSES if len(ev) else np.zeros(0, bool)
    weight = DURATION_48THS[ev[note, DUR].astype(np.int64)] if note.any() else np.zeros(0)
    hist = np.bincount(
        seg[note] * 12 + ev[note, PC].astype(np.int64), weights=weight, minlength=12 * n
    ).reshape(n, 12)
    centred = hist - hist.mean(1, keepdims=True)
    best = np.argmax(centred @ _KEYS.T, axis=1)
    best = np.where(np.abs(centred).sum(1) > 0, best, 0)
    return (best % 12).astype(np.int64), best >= 12


def relative_degree(tracks: TrackSet) -> np.ndarray:
    """Per event: pitch class relative to the track's tonic (0-11), or the event's own
    code for a rest (12); one integer per event of ``tracks``."""
    tonic, _ = track_keys(tracks)
    ev = tracks.events
    seg = np.repeat(np.arange(len(tracks)), np.diff(tracks.offsets))
    pc = ev[:, PC].astype(np.int64)
    return np.where(pc < N_PITCH_CLASSES, (pc - tonic[seg]) % 12, pc)


def out_of_key(tracks: TrackSet) -> tuple[np.ndarray, np.ndarray]:
    """Per track: notes outside the scale of its own key, and notes (rests not counted)."""
    tonic, minor = track_keys(tracks)
    ev = tracks.events
    n = len(tracks)
    seg = np.repeat(np.arange(n), np.diff(tracks.offsets))
    note = ev[:, PC] < N_PITCH_CLASSES if len(ev) else np.zeros(0, bool)
    degree = (ev[note, PC].astype(np.int64) - tonic[seg[note]]) % 12
    major_ok = np.isin(np.arange(12), MAJOR_SCALE)
    minor_ok = np.isin(np.arange(12), MINOR_SCALE)
    inside = np.where(minor[seg[note]], minor_ok[degree], major_ok[degree])
    out = np.bincount(seg[note], weights=~inside, minlength=n)
    return out, np.bincount(seg[note], minlength=n).astype(np.float64)
