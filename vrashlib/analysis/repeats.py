"""Repeated notes (paper, Section 4): "the tendency to repeat a certain note".

An immediate repeat is normal in real music (about 15 % of consecutive notes
in real Bach melodies), so the rate of immediate repeats alone cannot show a
failure mode. What a listener hears as a stuck generator is a *run*: the same
pitch four or more times in a row. Per melody (rests skipped over, as in
:func:`vrashlib.sampling.realism.note_pitches`; a rest does not end a run):

- ``same_pairs`` / ``note_pairs``: consecutive notes with the same pitch, and all
  consecutive note pairs (their ratio over a set is the immediate-repeat rate);
- ``longest_run``: the longest run of one pitch
  (:func:`vrashlib.sampling.realism.longest_run`; 0 for a melody without notes);
- ``run4``: whether the melody holds a run of :data:`RUN_LENGTH` or more.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from vrashlib.data.tracks import TrackSet
from vrashlib.sampling.realism import longest_run, note_pitches

RUN_LENGTH = 4  # "a run of four or more equal pitches"


def melody_repeats(tracks: TrackSet, run_length: int = RUN_LENGTH) -> pd.DataFrame:
    """One row per melody (index: track id): ``n_notes``, ``note_pairs``,
    ``same_pairs``, ``longest_run``, ``run4`` (see the module docstring)."""
    rows = []
    for ev in tracks:
        p = note_pitches(ev)
        rows.append((len(p), max(len(p) - 1, 0), int((p[1:] == p[:-1]).sum()), longest_run(p)))
    table = pd.DataFrame(
        rows or np.zeros((0, 4), np.int64),
        columns=["n_notes", "note_pairs", "same_pairs", "longest_run"],
        index=pd.Index(tracks.ids, name="track_id"),
    ).astype(np.int64)
    table["run4"] = table["longest_run"] >= run_length
    return table


def repeat_summary(tracks: TrackSet, run_length: int = RUN_LENGTH) -> dict[str, float]:
    """A set's immediate-repeat rate, share of melodies with a run of ``run_length`` or
    more, and its median and largest longest run."""
    per = melody_repeats(tracks, run_length)
    pairs = int(per["note_pairs"].sum())
    return {
        "n_tracks": len(per),
        "repeat_rate": float(per["same_pairs"].sum() / pairs) if pairs else float("nan"),
        "run4_share": float(per["run4"].mean()) if len(per) else float("nan"),
        "median_longest_run": float(per["longest_run"].median()) if len(per) else float("nan"),
        "max_longest_run": int(per["longest_run"].max()) if len(per) else 0,
    }
