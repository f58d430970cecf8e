"""Fig. 6: mutual information against distance on log-log axes."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd


def curve_style(name: str) -> dict:
    """Line style from a curve name: ``real/...`` solid, ``vrash/...`` dashed,
    ``lm/...`` dotted; ``.../filtered`` gets filled markers, others hollow ones."""
    kind = name.split("/")[0]
    style = {"real": "-", "vrash": "--", "vae": "-.", "lm": ":"}.get(kind, "-")
    filtered = name.endswith("/filtered")
    return {
        "linestyle": style,
        "marker": "o" if kind != "real" else None,
        "markersize": 4,
        "markerfacecolor": None if filtered else "none",
    }


def plot_mi_curves(
    curves: dict[str, pd.DataFrame],
    ax=None,
    *,
    labels: dict[str, str] | None = None,
    floor: bool = True,
    title: str | None = None,
):
    """``I(d)`` in bits per named curve (see :func:`vrashlib.analysis.mi.mi_curve`), log-log.

    The bootstrap band is shaded; with ``floor`` the magnitude of the estimate on
    shuffled tracks (the noise floor) is drawn thin and dotted in the same colour.
    Points at or below zero cannot be shown on log axes and are left out.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4.5))
    labels = labels or {}
    shown = [c["mi_bits"][c["mi_bits"] > 0] for c in curves.values()]
    positive = pd.concat(shown) if shown else pd.Series(dtype=float)
    if floor:
        nf = [c["noise_floor"].abs() for c in curves.values() if "noise_floor" in c]
        positive = pd.concat([positive, *nf])
    positive = positive[positive > 0]
    bottom = float(positive.min()) / 3 if len(positive) else 1e-4  # bands reaching 0 stop here
    for i, (name, c) in enumerate(curves.items()):
        color = f"C{i % 10}"
        ok = (c["mi_bits"] > 0).to_numpy()
        if not ok.any():
            continue
        d = c["distance"].to_numpy(float)
        ax.plot(
            d[ok], c["mi_bits"][ok], color=color, label=labels.get(name, name), **curve_style(name)
        )
        if "lo" in c and c["lo"].notna().any():
            lo = np.clip(c["lo"].to_numpy(float), bottom, None)
            ax.fill_between(
                d[ok], lo[ok], c["hi"].to_numpy(float)[ok], color=color, alpha=0.15, lw=0
            )
        if floor and "noise_floor" in c:
            nf = np.abs(c["noise_floor"].to_numpy(float))
            good = np.isfinite(nf) & (nf > 0)
            ax.plot(d[good], nf[good], color=color, lw=0.7, ls=(0, (1, 2)), alpha=0.8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylim(bottom=bottom)
    ax.set_xlabel("distance between notes d (events)")
    ax.set_ylabel("mutual information I(d) (bits)")
    if floor:
        ax.plot([], [], color="grey", lw=0.7, ls=(0, (1, 2)), label="|shuffled| (noise floor)")
    ax.legend(fontsize=7, frameon=False)
    ax.grid(True, which="major", alpha=0.3)
    if title:
        ax.set_title(title)
    return ax


def plot_fig6(curves: dict[str, pd.DataFrame], first: str, second: str):
    """Fig. 6 in two panels: the real corpus by style, and the paper's line-up
    (:func:`vrashlib.analysis.fig6.fig6_view`) of generated against real curves."""
    from vrashlib.analysis.fig6 import fig6_view

    fig, axes = plt.subplots(1, 2, figsize=(13, 5), sharey=True)
    real = {k: v for k, v in curves.items() if k.startswith("real/")}
    plot_mi_curves(real, axes[0], title="real tracks by style")
    view = {k: curves[k] for k in fig6_view(first, second)}
    plot_mi_curves(view, axes[1], title="generated vs real")
    return fig
