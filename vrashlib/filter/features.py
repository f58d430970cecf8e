"""Information-theoretic features of a track: the filter's inputs (paper, Section 4).

Exactly the paper's list, per track, all entropies in **bits** (plug-in
estimates from the track's own symbol counts):

============================  ==============================================
column                        entropy of ...
============================  ==============================================
``pc``                        notes without octave (pitch class; a rest is
                              one more symbol)
``pc_change``                 changes between consecutive notes without
                              octave: the interval mod 12 between two notes,
                              or one of three symbols note->rest, rest->note,
                              rest->rest
``dur``                       note lengths (duration index)
``dur_change``                changes between consecutive lengths: the exact
                              ratio next / previous length
``pitch``                     notes with octave (MIDI pitch; rest = symbol)
``pitch_change``              changes between consecutive notes with octave:
                              the interval in semitones, or a rest symbol
``win{w}_min``, ``win{w}_mean``  minimal and average entropy of the notes
                              with octave over every window of ``w``
                              consecutive events (stride 1), w = 8 ... 128
``z0`` ... ``z{d-1}``         coordinates of the sampling (latent) vector,
                              only when the track set has one
============================  ==============================================

Tracks shorter than a window (``length < w``): the whole track is their only
window, so ``win{w}_min == win{w}_mean == pitch`` for them. An empty track (a
generated melody that ended at once) has every entropy 0 and a track of one
event has every ``*_change`` entropy 0.

Everything is vectorised over tracks: whole-track entropies are one
``np.unique`` over (track, symbol) keys, and sliding windows are updated
incrementally over time steps for all tracks and all window sizes at once, so
a loop of ``max(length)`` cheap numpy steps handles thousands of tracks
(``benchmarks/bench_features.py`` prints the throughput).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from vrashlib.data.encoding import DUR, DURATION_48THS, N_PITCH_CLASSES, PC, midi_pitch
from vrashlib.data.tracks import TrackSet

WINDOWS: tuple[int, ...] = (8, 16, 32, 64, 128)
TRACK_FEATURES: tuple[str, ...] = ("pc", "pc_change", "dur", "dur_change", "pitch", "pitch_change")


def feature_names(windows: tuple[int, ...] = WINDOWS, z_dim: int = 0) -> list[str]:
    """Column names of :func:`compute_features`, in order."""
    names = list(TRACK_FEATURES)
    names += [f"win{w}_{stat}" for w in windows for stat in ("min", "mean")]
    names += [f"z{i}" for i in range(z_dim)]
    return names


def compute_features(
    tracks: TrackSet, windows: tuple[int, ...] = WINDOWS, include_latent: bool = True
) -> pd.DataFrame:
    """One row per track (index = track id), the columns of :func:`feature_names`, in bits."""
    windows = tuple(int(w) for w in windows)
    if any(w < 1 for w in windows):
        raise ValueError(f"windows must be positive event counts, got {windows}")
    ev, offsets = tracks.events, tracks.offsets
    n = len(tracks)
    seg = np.repeat(np.arange(n), np.diff(offsets))
    pc = ev[:, PC].astype(np.int64)
    pitch = midi_pitch(ev).astype(np.int64)
    dur = ev[:, DUR].astype(np.int64)
    rest = pc >= N_PITCH_CLASSES

    # Consecutive pairs inside one track: positions i with i + 1 in the same track.
    pair = np.ones(len(ev), dtype=bool)
    pair[offsets[1:] - 1] = False  # last event of each track (harmless for empty tracks)
    pair = np.flatnonzero(pair[:-1]) if len(ev) else np.zeros(0, np.int64)
    a, b = pair, pair + 1
    rest_code = 2 * rest[a] + rest[b]  # 0 note->note, 1 note->rest, 2 rest->note, 3 rest->rest
    pc_change = np.where(rest_code == 0, (pc[b] - pc[a]) % 12, 11 + rest_code)
    pitch_change = np.where(rest_code == 0, pitch[b] - pitch[a], 1000 + rest_code)
    num, den = DURATION_48THS[dur[b]], DURATION_48THS[dur[a]]  # exact integer ratio
    g = np.gcd(num, den)
    dur_change = (num // g) * 10_000 + den // g

    cols: dict[str, np.ndarray] = {
        "pc": _segment_entropy(pc, seg, n),
        "pc_change": _segment_entropy(pc_change, seg[a], n),
        "dur": _segment_entropy(dur, seg, n),
        "dur_change": _segment_entropy(dur_change, seg[a], n),
        "pitch": _segment_entropy(pitch, seg, n),
        "pitch_change": _segment_entropy(pitch_change, seg[a], n),
    }
    wmin, wmean = window_entropies(pitch, offsets, windows)
    for k, w in enumerate(windows):
        cols[f"win{w}_min"] = wmin[:, k]
        cols[f"win{w}_mean"] = wmean[:, k]
    if include_latent and tracks.latent is not None:
        for i in range(tracks.latent.shape[1]):
            cols[f"z{i}"] = tracks.latent[:, i].astype(np.float64)
    return pd.DataFrame(cols, index=pd.Index(tracks.ids, name="track_id"))


def _segment_entropy(tokens: np.ndarray, seg: np.ndarray, n: int) -> np.ndarray:
    """Entropy (bits) of ``tokens`` within each segment id 0..n-1 (0 for empty)."""
    if tokens.size == 0:
        return np.zeros(n)
    _, inv = np.unique(tokens, return_inverse=True)
    v = int(inv.max()) + 1
    keys, counts = np.unique(seg.astype(np.int64) * v + inv.reshape(-1), return_counts=True)
    s = np.bincount(keys // v, weights=counts * np.log2(counts), minlength=n)
    m = np.bincount(seg, minlength=n).astype(np.float64)
    safe = np.maximum(m, 1.0)
    return np.where(m > 0, np.log2(safe) - s / safe, 0.0)


def window_entropies(
    tokens: np.ndarray, offsets: np.ndarray, windows: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Minimal and mean entropy (bits) over sliding windows, each ``(n_tracks, len(windows))``.

    ``tokens`` holds one symbol per event of all tracks concatenated (track ``i``
    is ``tokens[offsets[i]:offsets[i+1]]``). A track shorter than a window has
    one window, the whole track; an empty track gets 0.
    """
    lengths = np.diff(offsets)
    n, k = len(lengths), len(windows)
    wmin, wmean = np.zeros((n, k)), np.zeros((n, k))
    if n == 0 or k == 0 or lengths.max() == 0:
        return wmin, wmean
    w_arr = np.asarray(windows, dtype=np.int64)
    order = np.argsort(-lengths, kind="stable")  # active tracks are always a prefix
    lens = lengths[order]
    _, inv = np.unique(tokens, return_inverse=True)
    inv = inv.reshape(-1).astype(np.int64)
    v, maxlen = int(inv.max()) + 1, int(lens[0])
    mat = np.zeros((n, maxlen), dtype=np.int64)
    row = np.repeat(np.arange(n), lens)
    col = np.arange(int(lens.sum())) - np.repeat(np.cumsum(lens) - lens, lens)
    starts = offsets[:-1][order]
    mat[row, col] = inv[np.repeat(starts, lens) + col]

    g = np.zeros(int(w_arr.max()) + 2)  # g[c] = c log2 c
    g[1:] = np.arange(1, len(g)) * np.log2(np.arange(1, len(g)))
    counts = np.zeros((k, n, v), dtype=np.int64)
    s = np.zeros((k, n))
    lo, total, seen = np.full((k, n), np.inf), np.zeros((k, n)), np.zeros((k, n))
    n_active = np.searchsorted(-lens, -np.arange(maxlen), side="left")  # tracks with len > t
    kk = np.arange(k)[:, None]
    for t in range(maxlen):
        a = int(n_active[t])
        rows = np.arange(a)[None, :]
        x = np.broadcast_to(mat[:a, t], (k, a))
        c = counts[kk, rows, x]
        s[:, :a] += g[c + 1] - g[c]
        counts[kk, rows, x] = c + 1
        out = np.flatnonzero(w_arr <= t)  # windows that drop their oldest event now
        if out.size:
            y = mat[:a, t - w_arr[out]].T  # (len(out), a)
            ko = out[:, None]
            c = counts[ko, rows, y]
            s[out, :a] += g[c - 1] - g[c]
            counts[ko, rows, y] = c - 1
        m = np.minimum(t + 1, w_arr)[:, None].astype(np.float64)
        h = np.log2(m) - s[:, :a] / m
        record = (t + 1 >= w_arr)[:, None] | (lens[:a] == t + 1)[None, :]
        lo[:, :a] = np.where(record, np.minimum(lo[:, :a], h), lo[:, :a])
        total[:, :a] += np.where(record, h, 0.0)
        seen[:, :a] += record
    has = seen > 0
    wmin[order] = np.where(has, lo, 0.0).T
    wmean[order] = np.where(has, total / np.maximum(seen, 1), 0.0).T
    return np.maximum(wmin, 0.0), np.maximum(wmean, 0.0)


def compute_features_many(
    sets: dict[str, TrackSet], windows: tuple[int, ...] = WINDOWS, include_latent: bool = False
) -> pd.DataFrame:
    """Features of several track sets stacked, index ``(source, track_id)``.

    Latent coordinates are left out by default: the sets usually come from
    different models (or none), whose latent spaces are not comparable.
    """
    frames = [compute_features(ts, windows, include_latent) for ts in sets.values()]
    return pd.concat(frames, keys=list(sets), names=["source", "track_id"])
