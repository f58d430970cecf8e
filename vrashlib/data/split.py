"""Pieces, duplicates and the train/validation/test split.

A piece is one work unit: a file, or one tune of an ABC file. :func:`piece_groups`
joins pieces that share a track up to transposition (a copy of a tune, a part
doubled in another file), :func:`mark_duplicates` drops the second and later
copies of a normalised track (a ``duplicate`` in the funnel), and
:func:`split_tracks` splits by group, stratified by style, seeded, so that the
voices of a chorale and the copies of a tune stay on one side.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from vrashlib.data.encoding import midi_pitch
from vrashlib.data.sources import WorkUnit
from vrashlib.data.tracks import SPLITS


def mark_duplicates(results: list) -> tuple[list, dict[str, str]]:
    """Results with every later copy of a kept track's events dropped as ``duplicate``.

    ``results`` are :func:`vrashlib.data.ingest.process_unit`'s, in unit order.
    Copies are found by the normalised event sequence, within and across files; the
    first in unit order (source, then path) is kept. Returns the new results and
    ``{dropped id: kept id}``.
    """
    first: dict[bytes, str] = {}
    copies: dict[str, str] = {}
    out = []
    for err, outcomes in results:
        new = []
        for o in outcomes:
            if o.events is not None:
                key = np.ascontiguousarray(o.events).tobytes()
                if key in first:
                    copies[o.id] = first[key]
                    o = dataclasses.replace(o, events=None, dropped_by="duplicate")
                else:
                    first[key] = o.id
            new.append(o)
        out.append((err, new))
    return out, copies


def contour_key(events: np.ndarray) -> bytes:
    """A key equal for a track and its transpositions: intervals, rests and durations."""
    pitch = midi_pitch(events).astype(np.int64)  # -1 for rests
    notes = pitch >= 0
    rel = np.where(notes, pitch - (pitch[notes][0] if notes.any() else 0), 1000)
    return np.stack([rel, events[:, 2].astype(np.int64)], axis=1).tobytes()


def piece_groups(units: list[WorkUnit], results: list) -> dict[str, int]:
    """Group id (numbered in unit order) of every kept track's id (call it before
    :func:`mark_duplicates`, so that copies still link their pieces).

    A piece is one unit: a file, or one tune of an ABC file. Pieces that share a
    track up to transposition (a copy of a tune, a doubled part) form one group,
    so that a split by group keeps copies on one side.
    """
    parent = list(range(len(units)))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    owner: dict[bytes, int] = {}
    by_id: dict[str, int] = {}
    for i, (_, outcomes) in enumerate(results):
        for o in outcomes:
            if o.events is None:
                continue
            by_id[o.id] = i
            key = contour_key(o.events)
            if key in owner:
                parent[find(i)] = find(owner[key])
            else:
                owner[key] = i
    numbers: dict[int, int] = {}
    return {tid: numbers.setdefault(find(i), len(numbers)) for tid, i in by_id.items()}


def split_tracks(
    style: np.ndarray,
    *,
    val_fraction: float,
    test_fraction: float,
    seed: int,
    groups: np.ndarray | None = None,
) -> np.ndarray:
    """Split codes (0 train / 1 val / 2 test) per track, by group, stratified by style, seeded.

    A group (a piece: its tracks share a ``groups`` value; default: every track its
    own) goes to one split as a whole, under the style of its first track. In
    every style the groups are shuffled and taken in turn for validation while it
    holds fewer than ``round(n * val_fraction)`` of the style's ``n`` tracks, then
    for test likewise, then training; with one track per group that is exactly
    ``round(n * fraction)`` tracks each, else it may exceed that by less than a group.
    """
    if val_fraction < 0 or test_fraction < 0 or val_fraction + test_fraction >= 1:
        raise ValueError(f"bad split fractions val={val_fraction} test={test_fraction}")
    style = np.asarray(style)
    groups = np.arange(len(style)) if groups is None else np.asarray(groups)
    if len(groups) != len(style):
        raise ValueError(f"{len(groups)} group ids for {len(style)} tracks")
    _, first, member = np.unique(groups, return_index=True, return_inverse=True)
    member = member.reshape(-1)
    size = np.bincount(member)
    gstyle = style[first]
    gsplit = np.full(len(first), SPLITS["train"], np.uint8)
    for s in np.unique(style):
        gidx = np.flatnonzero(gstyle == s)
        rng = np.random.default_rng([seed, int(s)])
        gidx = gidx[rng.permutation(len(gidx))]
        n = int(size[gidx].sum())
        n_val, n_test = round(n * val_fraction), round(n * test_fraction)
        n_in = {SPLITS["val"]: 0, SPLITS["test"]: 0}
        for g in gidx:
            for code, target in ((SPLITS["val"], n_val), (SPLITS["test"], n_test)):
                if n_in[code] < target:
                    gsplit[g] = code
                    n_in[code] += int(size[g])
                    break
    return gsplit[member]
