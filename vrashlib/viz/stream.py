"""Fig. 5: the stream's music time against wall-clock time, and what was kept."""

from __future__ import annotations

import logging

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from vrashlib.stream.live import REJECTIONS as REASONS

logger = logging.getLogger(__name__)


def plot_stream(log: pd.DataFrame, axes=None, *, title: str | None = None):
    """Two panels from a stream log (:func:`vrashlib.stream.live.run_stream`).

    Left: music seconds produced against wall-clock seconds, with the real-time
    line (1 s of music per second) and the 100x line for reference. Right: the
    share of examined melodies accepted and rejected per reason, as the stream
    goes on.
    """
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(11, 4))
    ax, ax2 = axes
    if log.empty:  # nothing accepted: say so, and show why with the rejection tally
        counts = log.attrs.get("counts", {})
        ax.text(0.5, 0.5, "no melody accepted", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        ax2.bar(list(REASONS), [counts.get(r, 0) for r in REASONS], color="C3")
        ax2.set_ylabel(f"rejected melodies (of {counts.get('generated', 0)} examined)")
        if title:
            ax.figure.suptitle(title)
        return axes
    wall = np.concatenate([[0.0], log["wall_seconds"].to_numpy(float)])
    music = np.concatenate([[0.0], log["music_seconds"].to_numpy(float)])
    ax.step(wall, music, where="post", color="C0", label="accepted music")
    top = max(wall[-1], 1e-3)
    for factor, ls in ((1, "-"), (100, "--")):
        t = np.linspace(0, top, 50)
        y = factor * t
        keep = y <= music[-1] * 1.05
        ax.plot(t[keep], y[keep], color="grey", ls=ls, lw=0.8, label=f"{factor}x real time")
    ax.set_xlabel("wall-clock time (s)")
    ax.set_ylabel("music produced (s)")
    ax.legend(frameon=False, fontsize=8)
    ax.grid(alpha=0.3)
    examined = log["n_generated"].to_numpy(float)
    shares = {"accepted": (log["index"].to_numpy(float) + 1) / examined}
    for r in REASONS:
        shares[f"rejected: {r}"] = log[f"n_rejected_{r}"].to_numpy(float) / examined
    ax2.stackplot(examined, *shares.values(), labels=list(shares), alpha=0.8)
    ax2.set_xlabel("melodies examined")
    ax2.set_ylabel("share of examined melodies")
    ax2.set_ylim(0, 1)
    ax2.legend(frameon=False, fontsize=8, loc="upper right")
    if title:
        ax.figure.suptitle(title)
    return axes


def show_first(played, *, seconds: float = 20):
    """Piano roll and audio excerpt of the stream's first melody (``None`` if it is empty)."""
    from vrashlib.sampling.audio import audio_preview
    from vrashlib.viz import piano_roll

    if len(played) == 0:
        logger.warning("the stream accepted no melody: nothing to show or play")
        return None
    piano_roll(played[0], float(played.unit_seconds[0]), title=f"stream melody 0 ({played.ids[0]})")
    return audio_preview(played[0], float(played.unit_seconds[0]), seconds=seconds)
