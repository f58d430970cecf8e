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


def draw_distributions(
    row, dists: dict[str, dict[str, np.ndarray]], *, top_durations: int, prefix: str = ""
) -> None:
    """Into three axes ``row``: the pitch-class, duration and length distributions of each
    set in ``dists`` (the most common durations of the ``"real"`` set, or of the first)."""
    names = list(dists)
    width = 0.8 / len(names)
    real = dists.get("real", next(iter(dists.values())))
    common = np.argsort(real["duration"])[::-1][:top_durations]
    longest = max(
        (float(d["length"].max()) for d in dists.values() if len(d["length"])), default=1.0
    )
    bins = np.linspace(0, longest, 30)
    for k, name in enumerate(names):
        d, color = dists[name], MODEL_COLORS.get(name, "C7")
        shift = (k - len(names) / 2 + 0.5) * width
        row[0].bar(np.arange(13) + shift, d["pitch_class"], width, color=color, label=name)
        row[1].bar(
            np.arange(len(common)) + shift, d["duration"][common], width, color=color, label=name
        )
        if len(d["length"]):
            row[2].hist(
                d["length"],
                bins=bins,
                density=True,
                histtype="step",
                color=color,
                label=name,
                lw=1.5,
            )
    row[0].set_xticks(range(13), [*PITCH_NAMES, "rest"], fontsize=7)
    row[1].set_xticks(range(len(common)), [str(DURATION_RATIOS[i]) for i in common], fontsize=7)
    row[0].set_title(f"{prefix}pitch class")
    row[1].set_title(f"{prefix}duration (x median), most common in real tracks")
    row[2].set_title(f"{prefix}melody length (events)")
    for ax in row:
        ax.legend(fontsize=7)


def plot_distributions(dists: dict[str, dict[str, np.ndarray]], *, top_durations: int = 12):
    """Pitch-class, duration and length distributions of each model against real tracks."""
    fig, axes = plt.subplots(1, 3, figsize=(15, 3.6))
    draw_distributions(axes, dists, top_durations=top_durations)
    axes[0].set_ylabel("share")
    fig.tight_layout()
    return fig


def plot_latent_diagnostics(diag: pd.DataFrame):
    """Does z carry the melody? Per model with a latent code: KL per melody beside the
    free-bits floor, active units of the code, and reconstruction accuracy from the
    melody's own code against a code from the prior (``reconstruct.diagnostics_table``)."""
    d = diag[np.isfinite(diag["kl_bits_per_melody"].to_numpy(float))].reset_index(drop=True)
    names = d["model"].tolist()
    x = np.arange(len(names))
    colors = [MODEL_COLORS.get(n, "C7") for n in names]
    fig, (ax, bx, cx) = plt.subplots(
        1, 3, figsize=(13, 3.8), gridspec_kw={"width_ratios": [1, 1, 2]}
    )
    ax.bar(x, d["kl_bits_per_melody"], color=colors, edgecolor="k", linewidth=0.4)
    ax.scatter(x, d["free_bits_floor_bits"], marker="_", s=900, color="k", zorder=3)
    ax.scatter([], [], marker="_", color="k", label="free-bits floor")
    for i, v in enumerate(d["kl_bits_per_melody"]):
        ax.text(i, v, f"{v:.1f}", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(x, [n.upper() for n in names])
    ax.set_ylabel("KL per melody (bits)")
    ax.set_title("What the code costs")
    ax.legend(fontsize=7)

    bx.bar(x, d["z_dim"], color="none", edgecolor="k", linewidth=0.6, label="dimensions")
    bx.bar(x, d["active_units"], color=colors, edgecolor="k", linewidth=0.4, label="active")
    for i, (a, z) in enumerate(zip(d["active_units"], d["z_dim"], strict=True)):
        bx.text(i, z, f"{a:.0f}/{z:.0f}", ha="center", va="bottom", fontsize=8)
    bx.set_xticks(x, [n.upper() for n in names])
    bx.set_ylabel("latent dimensions")
    bx.set_title("Active units (Cov > 0.01)")
    bx.legend(fontsize=7)

    bars = {
        "teacher-forced, own code": "recon_tf_posterior",
        "teacher-forced, prior code": "recon_tf_prior",
        "free-running, own code": "recon_free_posterior",
        "free-running, prior code": "recon_free_prior",
    }
    width = 0.8 / len(bars)
    for k, (label, col) in enumerate(bars.items()):
        pos = x + (k - len(bars) / 2 + 0.5) * width
        cx.bar(
            pos,
            d[col],
            width,
            color=colors,
            alpha=1.0 if "own" in label else 0.35,
            hatch="" if "teacher" in label else "//",
            edgecolor="k",
            linewidth=0.4,
        )
        for p, v in zip(pos, d[col], strict=True):
            cx.text(p, v, f"{v:.2f}", ha="center", va="bottom", fontsize=7)
    cx.set_xticks(x, [n.upper() for n in names])
    cx.set_ylabel("share of events decoded correctly")
    cx.set_title("Reconstruction: own code (solid) vs prior code (pale); free-running hatched")
    cx.title.set_fontsize(9)
    fig.tight_layout()
    return fig


def plot_interpolations(paths: dict, *, seconds: float = 12.0):
    """Greedy decodings along each model's slerp path between two real melodies
    (``reconstruct.Interpolation``): one column per model, path positions downwards."""
    names = list(paths)
    steps = max(len(p.melodies) for p in paths.values())
    fig, axes = plt.subplots(
        steps, len(names), figsize=(6 * len(names), 1.15 * steps + 0.6), squeeze=False
    )
    for c, name in enumerate(names):
        interp = paths[name]
        ts = interp.melodies
        for r in range(steps):
            ax = axes[r, c]
            if r >= len(ts):
                ax.set_axis_off()
                continue
            piano_roll(ts[r], float(ts.unit_seconds[r]), ax=ax, color=MODEL_COLORS.get(name, "C7"))
            ax.set_xlim(0, seconds)
            ax.set_ylabel(f"{r / max(len(ts) - 1, 1):.2f}", fontsize=8)
            ax.tick_params(labelsize=7)
            if r < steps - 1:
                ax.set_xlabel("")
                ax.set_xticklabels([])
        axes[0, c].set_title(
            f"{name.upper()}: {interp.ends[0]} -> {interp.ends[1]} ({interp.style})", fontsize=9
        )
    fig.tight_layout()
    return fig
