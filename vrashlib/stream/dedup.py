"""De-duplication for the stream: hashed n-grams of (pitch, duration) tokens.

A melody is a *repeat* when it is identical or nearly identical to one already
played (Jaccard similarity of their sets of short runs), and a *copy* when it
shares a long run of consecutive events with a training melody. Both checks use
64-bit hashes of runs of note tokens, computed vectorised with numpy; training
runs are hashed once into a sorted array and looked up with ``searchsorted``.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from vrashlib.data.encoding import DUR, DUR_VOCAB, OCT, OCT_VOCAB, PC
from vrashlib.data.tracks import TrackSet

_MULT = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit constant (golden ratio) for hashing


def note_tokens(events: np.ndarray) -> np.ndarray:
    """One int64 per event: (pitch class, octave, duration); rests keep their duration."""
    ev = np.asarray(events).astype(np.int64)
    return (ev[:, PC] * OCT_VOCAB + ev[:, OCT]) * DUR_VOCAB + ev[:, DUR]


def ngram_hashes(tokens: np.ndarray, n: int) -> np.ndarray:
    """64-bit hashes of every run of ``n`` consecutive tokens (unsorted, one per start)."""
    tokens = np.asarray(tokens).astype(np.uint64)
    m = len(tokens) - n + 1
    if n < 1 or m < 1:
        return np.zeros(0, np.uint64)
    h = np.zeros(m, np.uint64)
    with np.errstate(over="ignore"):
        for j in range(n):  # polynomial rolling hash, wrapping mod 2^64
            h = h * _MULT + tokens[j : j + m] + np.uint64(1)
        h ^= h >> np.uint64(31)
    return h


def corpus_ngram_index(tracks: TrackSet, n: int) -> np.ndarray:
    """Sorted unique hashes of every ``n``-event run inside any track of ``tracks``."""
    tokens = note_tokens(tracks.events)
    h = ngram_hashes(tokens, n)
    if not len(h):
        return h
    lengths = tracks.lengths
    pos_in_track = np.arange(len(tokens)) - np.repeat(tracks.offsets[:-1], lengths)
    room = np.repeat(lengths, lengths) - pos_in_track  # events from here to the track's end
    return np.unique(h[room[: len(h)] >= n])


class RepeatGuard:
    """Decides whether a melody repeats one already played or copies a training tune.

    *Near-identical*: the Jaccard similarity of the two melodies' sets of
    ``ngram``-event runs (pitch with octave and duration) exceeds
    ``max_similarity``; a melody shorter than ``ngram`` is one run of its own
    length. *Copy*: the melody shares a run of ``copy_run`` or more consecutive
    events with a training melody (training runs are hashed once, in a sorted
    array). State: the runs of every melody played so far, indexed by hash.
    The three settings are ``cfg.stream``'s (:class:`vrashlib.config.StreamConfig`).
    """

    def __init__(
        self,
        training_tracks: TrackSet | None = None,
        *,
        ngram: int,
        max_similarity: float,
        copy_run: int,
    ) -> None:
        if ngram < 1 or copy_run < 1 or not 0 <= max_similarity <= 1:
            raise ValueError(
                f"need ngram >= 1, copy_run >= 1 and 0 <= max_similarity <= 1; got "
                f"{ngram}, {copy_run}, {max_similarity}"
            )
        self.ngram, self.max_similarity, self.copy_run = ngram, max_similarity, copy_run
        self.training = (
            corpus_ngram_index(training_tracks, copy_run)
            if training_tracks is not None
            else np.zeros(0, np.uint64)
        )
        self._index: dict[int, list[int]] = {}
        self._sizes: list[int] = []

    def _runs(self, tokens: np.ndarray) -> set[int]:
        return set(ngram_hashes(tokens, min(self.ngram, len(tokens))).tolist())

    def copies_training(self, events: np.ndarray) -> bool:
        """Whether ``events`` shares ``copy_run`` consecutive events with a training tune."""
        h = ngram_hashes(note_tokens(events), self.copy_run)
        if not len(h) or not len(self.training):
            return False
        pos = np.clip(np.searchsorted(self.training, h), 0, len(self.training) - 1)
        return bool((self.training[pos] == h).any())

    def max_similarity_to_played(self, events: np.ndarray) -> float:
        """Highest Jaccard similarity (0..1) of the melody's runs to any played melody."""
        runs = self._runs(note_tokens(events))
        shared = Counter(i for h in runs for i in self._index.get(h, ()))
        return max(
            (c / (len(runs) + self._sizes[i] - c) for i, c in shared.items()),
            default=0.0,
        )

    def check(self, events: np.ndarray) -> str:
        """``"ok"``, ``"repeat"`` (near-identical to a played melody) or ``"copy"``."""
        if self.max_similarity_to_played(events) > self.max_similarity:
            return "repeat"
        return "copy" if self.copies_training(events) else "ok"

    def add(self, events: np.ndarray) -> None:
        """Remember ``events`` as played."""
        runs = self._runs(note_tokens(events))
        for h in runs:
            self._index.setdefault(h, []).append(len(self._sizes))
        self._sizes.append(len(runs))
