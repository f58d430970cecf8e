"""Plotting helpers shared by the notebooks (one module per analysis area)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from vrashlib.data.encoding import N_PITCH_CLASSES, durations_in_units, midi_pitch


def piano_roll(
    events: np.ndarray,
    unit_seconds: float = 0.25,
    ax=None,
    *,
    title: str | None = None,
    color: str = "C0",
):
    """Draw one track as a piano roll: time in seconds across, MIDI pitch up."""
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 2.5))
    events = np.asarray(events)
    lengths = durations_in_units(events) * unit_seconds
    starts = np.concatenate([[0.0], np.cumsum(lengths)[:-1]])
    pitch = midi_pitch(events)
    notes = events[:, 0] < N_PITCH_CLASSES
    ax.barh(
        pitch[notes],
        lengths[notes],
        left=starts[notes],
        height=0.8,
        color=color,
        edgecolor="k",
        linewidth=0.3,
    )
    ax.set_xlabel("time (s)")
    ax.set_ylabel("MIDI pitch")
    if notes.any():
        ax.set_ylim(pitch[notes].min() - 2, pitch[notes].max() + 2)
    ax.set_xlim(0, max(float(starts[-1] + lengths[-1]) if len(events) else 1.0, 1e-3))
    if title:
        ax.set_title(title)
    return ax
