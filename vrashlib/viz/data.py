"""Figures of the prepared dataset (notebook 01): funnel, distributions, an example."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from vrashlib.data.encoding import (
    DURATION_RATIOS,
    N_OCTAVES,
    N_PITCH_CLASSES,
    PITCH_NAMES,
    REST,
)
from vrashlib.data.normalise import FILTERS
from vrashlib.data.prepare import PreparedData
from vrashlib.data.tracks import TrackSet
from vrashlib.viz import piano_roll


def plot_funnel(ax, funnel: pd.DataFrame) -> None:
    """Stacked bars per style: tracks kept and dropped by each filter (log-free counts)."""
    styles = funnel["style"].tolist()
    left = np.zeros(len(styles))
    cols = [("tracks_kept", "kept")] + [(f"dropped_{f}", f) for f in FILTERS]
    for k, (col, label) in enumerate(cols):
        vals = funnel[col].to_numpy(float)
        if vals.sum() == 0 and col != "tracks_kept":
            continue
        ax.barh(styles, vals, left=left, label=label, color=f"C{k}")
        left += vals
    ax.set_xlabel("tracks read")
    ax.set_title("ingest funnel per style")
    ax.legend(fontsize=7, loc="lower right")


def plot_pitch_classes(ax, tracks: TrackSet) -> None:
    """Share of events per pitch class and rest."""
    counts = np.bincount(tracks.events[:, 0], minlength=REST + 1)[: REST + 1]
    ax.bar(range(REST + 1), counts / max(counts.sum(), 1), color="C0")
    ax.set_xticks(range(REST + 1), [*PITCH_NAMES, "rest"], rotation=90, fontsize=7)
    ax.set_ylabel("share of events")
    ax.set_title("pitch class")


def plot_octaves(ax, tracks: TrackSet) -> None:
    """Share of notes per octave after the median shift to octave 4."""
    notes = tracks.events[:, 0] < N_PITCH_CLASSES
    counts = np.bincount(tracks.events[notes, 1], minlength=N_OCTAVES)[:N_OCTAVES]
    ax.bar(range(N_OCTAVES), counts / max(counts.sum(), 1), color="C1")
    ax.set_xticks(range(N_OCTAVES))
    ax.set_xlabel("octave")
    ax.set_title("octave (median shifted to 4)")


def plot_durations(ax, tracks: TrackSet, top: int = 12) -> None:
    """Share of events per duration ratio (to the track's median), most common first."""
    counts = np.bincount(tracks.events[:, 2], minlength=len(DURATION_RATIOS))
    order = np.argsort(-counts, kind="stable")[:top]
    order = np.sort(order)
    share = counts / max(counts.sum(), 1)
    ax.bar(range(len(order)), share[order], color="C2")
    ax.set_xticks(
        range(len(order)), [str(DURATION_RATIOS[i]) for i in order], rotation=90, fontsize=7
    )
    ax.set_title(f"duration / median ({top} commonest: {share[order].sum():.1%})")


def plot_entropy(ax, stats: pd.DataFrame, threshold: float) -> None:
    """Pitch entropy (bits) of every track read, kept vs dropped, with the threshold."""
    bins = np.linspace(0, max(6.0, float(stats["pitch_entropy"].max()) + 0.1), 40)
    kept = stats["dropped_by"] == ""
    ax.hist(stats.loc[kept, "pitch_entropy"], bins=bins, label="kept", color="C0", alpha=0.8)
    ax.hist(stats.loc[~kept, "pitch_entropy"], bins=bins, label="dropped", color="C3", alpha=0.8)
    ax.axvline(threshold, color="k", ls="--", label=f"threshold {threshold:g} bits")
    ax.set_xlabel("pitch entropy (bits)")
    ax.set_yscale("log")
    ax.set_title("per-track pitch entropy")
    ax.legend(fontsize=7)


def plot_lengths(ax, tracks: TrackSet) -> None:
    """Track length (events) per style, log scale."""
    names = tracks.style_names()
    styles = sorted(set(names))
    ax.boxplot([tracks.lengths[names == s] for s in styles], showfliers=False)
    ax.set_xticks(range(1, len(styles) + 1), styles, rotation=45, fontsize=7, ha="right")
    ax.set_yscale("log")
    ax.set_ylabel("events per track")
    ax.set_title("track length per style")


def example_index(
    tracks: TrackSet, style: str = "bach", min_len: int = 40, max_len: int = 120
) -> int:
    """A deterministic example: the first track of ``style`` with a readable length."""
    names = tracks.style_names()
    ok = np.flatnonzero(
        (names == style) & (tracks.lengths >= min_len) & (tracks.lengths <= max_len)
    )
    if len(ok) == 0:
        ok = np.flatnonzero(tracks.lengths >= min(min_len, tracks.lengths.max()))
    return int(ok[0])


def fig_data_overview(data: PreparedData, threshold: float, example: int | None = None):
    """The dataset at a glance (Section 2): funnel, distributions, entropy, lengths, a melody."""
    t = data.tracks
    fig = plt.figure(figsize=(13, 10), layout="constrained")
    grid = fig.add_gridspec(3, 3, height_ratios=[1, 1, 0.8])
    plot_funnel(fig.add_subplot(grid[0, 0]), data.funnel)
    plot_pitch_classes(fig.add_subplot(grid[0, 1]), t)
    plot_octaves(fig.add_subplot(grid[0, 2]), t)
    plot_durations(fig.add_subplot(grid[1, 0]), t)
    plot_entropy(fig.add_subplot(grid[1, 1]), data.track_stats, threshold)
    plot_lengths(fig.add_subplot(grid[1, 2]), t)
    i = example_index(t) if example is None else example
    piano_roll(
        t[i], float(t.unit_seconds[i]), fig.add_subplot(grid[2, :]), title=f"example: {t.ids[i]}"
    )
    fig.suptitle(f"Prepared dataset: {len(t):,} tracks, {int(t.lengths.sum()):,} events")
    return fig
