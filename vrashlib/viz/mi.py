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


def plot_excess(excess: pd.DataFrame, names: list[str], ax=None, *, title: str | None = None):
    """Excess MI (bits above the within-track shuffle floor) against distance, log x,
    one line per named curve with its 95 % bootstrap band; distances a curve cannot
    estimate (too few pairs) are left out. ``excess``: :func:`vrashlib.analysis.fig6.excess_frame`."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4.5))
    for i, name in enumerate(names):
        c = excess[(excess["curve"] == name) & excess["usable"].astype(bool)]
        if c.empty:
            continue
        color = f"C{i % 10}"
        ax.plot(c["distance"], c["excess_bits"], color=color, label=name, **curve_style(name))
        ax.fill_between(c["distance"], c["lo"], c["hi"], color=color, alpha=0.15, lw=0)
    ax.axhline(0.0, color="grey", lw=0.7)
    ax.set_xscale("log")
    ax.set_xlabel("distance between notes d (events)")
    ax.set_ylabel("I(d) - within-track shuffle (bits)")
    ax.legend(fontsize=7, frameon=False)
    ax.grid(True, which="major", alpha=0.3)
    if title:
        ax.set_title(title)
    return ax


def plot_fig6(
    curves: dict[str, dict[str, pd.DataFrame]],
    first: str,
    second: str,
    *,
    excess: pd.DataFrame | None = None,
):
    """Fig. 6 for each token of ``curves`` (token -> name -> curve), one row each: the
    real corpus by style, and the paper's line-up (:func:`vrashlib.analysis.fig6.fig6_view`)
    of generated against real curves; with ``excess`` (one token's excess curves), a last
    row of the line-up's excess MI above the within-track floor, the measure the
    verdicts use."""
    from vrashlib.analysis.fig6 import fig6_view

    rows = len(curves) + (excess is not None)
    fig, axes = plt.subplots(rows, 2, figsize=(13, 4.6 * rows), squeeze=False)
    for (token, by_name), (left, right) in zip(curves.items(), axes, strict=False):
        real = {k: v for k, v in by_name.items() if k.startswith("real/")}
        plot_mi_curves(real, left, title=f"real tracks by style ({token})")
        view = {k: by_name[k] for k in fig6_view(first, second) if k in by_name}
        plot_mi_curves(view, right, title=f"generated vs real ({token})")
    if excess is not None:
        left, right = axes[-1]
        token = str(excess["token"].iloc[0]) if len(excess) else ""
        names = fig6_view(first, second)
        left_names = [names[i] for i in (0, 2, 3, 6)]  # the first style's line-up
        right_names = [names[i] for i in (1, 4, 5, 7)]
        plot_excess(excess, left_names, left, title=f"{first}: excess MI ({token})")
        plot_excess(excess, right_names, right, title=f"{second}: excess MI ({token})")
    fig.tight_layout()
    return fig
