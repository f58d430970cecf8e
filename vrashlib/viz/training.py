"""Plots of notebooks 02 (training curves, Fig. 4) and 03 (generated melodies)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from vrashlib.data.encoding import DURATION_RATIOS, PITCH_NAMES
from vrashlib.data.tracks import TrackSet
from vrashlib.viz import piano_roll

MODEL_COLORS = {"lm": "C0", "vae": "C1", "vrash": "C2", "random": "0.5", "real": "k"}
HEAD_LABELS = {"ce_pc": "pitch class", "ce_oct": "octave", "ce_dur": "duration"}


def plot_cross_entropy(histories: dict[str, pd.DataFrame], table: pd.DataFrame):
    """Fig. 4: validation cross-entropy (bits/event) against training step, with the
    random network as the baseline, and the final values per head as stacked bars.

    ``table`` has one row per model plus ``random`` with columns ce_pc, ce_oct,
    ce_dur, ce_total, kl_per_event.
    """
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [3, 2]})
    random = float(table.loc[table["model"] == "random", "ce_total"].iloc[0])
    for name, hist in histories.items():
        val = hist[hist["split"] == "val"]
        ax.plot(
            val["step"],
            val["ce_total"],
            "-o",
            ms=3,
            color=MODEL_COLORS.get(name),
            label=name.upper(),
        )
        if val["kl_per_event"].max() > 0:
            ax.plot(
                val["step"],
                val["bound_total"],
                ":",
                color=MODEL_COLORS.get(name),
                label=f"{name.upper()} CE + KL",
            )
    ax.axhline(random, ls="--", color=MODEL_COLORS["random"], label="untrained (random)")
    ax.set_xlabel("training step")
    ax.set_ylabel("validation cross-entropy (bits/event)")
    ax.legend(fontsize=8)
    ax.set_title("Cross-entropy during training")

    names = table["model"].tolist()
    bottom = np.zeros(len(names))
    for (col, label), shade in zip(HEAD_LABELS.items(), (1.0, 0.65, 0.35), strict=True):
        vals = table[col].to_numpy(float)
        bx.bar(
            names,
            vals,
            bottom=bottom,
            color=[MODEL_COLORS.get(n, "C7") for n in names],
            alpha=shade,
            edgecolor="k",
            linewidth=0.4,
            label=label,
        )
        bottom += vals
    kl = table["kl_per_event"].fillna(0).to_numpy(float)
    bx.bar(
        names, kl, bottom=bottom, color="none", edgecolor="k", hatch="//", linewidth=0.4, label="KL"
    )
    for i, v in enumerate(bottom):
        bx.text(i, v + kl[i], f"{v:.2f}", ha="center", va="bottom", fontsize=8)
    bx.set_ylabel("bits/event (stacked: pitch class, octave, duration)")
    bx.set_title("Final validation cross-entropy")
    bx.legend(fontsize=7, loc="lower right", framealpha=0.9)
    bx.set_ylim(0, float((bottom + kl).max()) * 1.08)
    fig.tight_layout()
    return fig


def plot_generated_examples(
    sets: dict[str, TrackSet],
    styles: list[str] | tuple[str, ...],
    *,
    index: int = 0,
    seconds: float = 20.0,
):
    """A grid of piano rolls: one row per model (and the real corpus), one column per style."""
    fig, axes = plt.subplots(
        len(sets), len(styles), figsize=(5 * len(styles), 1.9 * len(sets)), squeeze=False
    )
    for r, (name, ts) in enumerate(sets.items()):
        for c, style in enumerate(styles):
            ax = axes[r, c]
            sel = ts.select(style=style)
            if len(sel) == 0:
                ax.set_axis_off()
                continue
            i = min(index, len(sel) - 1)
            piano_roll(
                sel[i], float(sel.unit_seconds[i]), ax=ax, color=MODEL_COLORS.get(name, "C7")
            )
            ax.set_xlim(0, min(ax.get_xlim()[1], seconds))
            ax.set_title(f"{name} / {style}: {sel.ids[i]}", fontsize=9)
            if r < len(sets) - 1:
                ax.set_xlabel("")
    fig.tight_layout()
    return fig


def plot_distributions(dists: dict[str, dict[str, np.ndarray]], *, top_durations: int = 12):
    """Pitch-class, duration and length distributions of each model against real tracks."""
    fig, axes = plt.subplots(1, 3, figsize=(15, 3.6))
    names = list(dists)
    width = 0.8 / len(names)
    real = dists.get("real", next(iter(dists.values())))
    common = np.argsort(real["duration"])[::-1][:top_durations]
    for k, name in enumerate(names):
        d, color = dists[name], MODEL_COLORS.get(name, "C7")
        x = np.arange(13) + (k - len(names) / 2 + 0.5) * width
        axes[0].bar(x, d["pitch_class"], width, color=color, label=name)
        x = np.arange(len(common)) + (k - len(names) / 2 + 0.5) * width
        axes[1].bar(x, d["duration"][common], width, color=color, label=name)
        if len(d["length"]):
            bins = np.linspace(
                0, max(float(v["length"].max()) for v in dists.values() if len(v["length"])), 30
            )
            axes[2].hist(
                d["length"],
                bins=bins,
                density=True,
                histtype="step",
                color=color,
                label=name,
                lw=1.5,
            )
    axes[0].set_xticks(range(13), [*PITCH_NAMES, "rest"], fontsize=7)
    axes[0].set_title("pitch class")
    axes[1].set_xticks(range(len(common)), [str(DURATION_RATIOS[i]) for i in common], fontsize=7)
    axes[1].set_title("duration (x median), most common in real tracks")
    axes[2].set_title("melody length (events)")
    for ax in axes:
        ax.legend(fontsize=7)
    axes[0].set_ylabel("share")
    fig.tight_layout()
    return fig
