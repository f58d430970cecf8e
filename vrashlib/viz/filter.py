"""Plots of the post-generation filter (notebook 04): features, Table 1, acceptance."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

# Features shown by default: whole-track pitch and rhythm entropies and two window scales.
SHOWN_FEATURES = ("pitch", "pitch_change", "dur", "dur_change", "win16_min", "win64_mean")


def plot_feature_distributions(
    features: pd.DataFrame,
    good: np.ndarray,
    model: np.ndarray,
    columns: tuple[str, ...] = SHOWN_FEATURES,
    *,
    labels: tuple[str, str] = ("to be removed (1-3)", "acceptable (4-5)"),
):
    """Violins of each feature (bits) per model, split by acceptability."""
    long = (
        features.loc[:, list(columns)]
        .reset_index(drop=True)
        .assign(
            model=np.asarray(model), rating=np.where(np.asarray(good, bool), labels[1], labels[0])
        )
    )
    long = long.melt(id_vars=["model", "rating"], var_name="feature", value_name="bits")
    ncols = 3
    nrows = int(np.ceil(len(columns) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.2 * nrows), squeeze=False)
    order = list(pd.unique(np.asarray(model)))
    for ax, col in zip(axes.flat, columns, strict=False):
        sns.violinplot(
            data=long[long["feature"] == col],
            x="model",
            y="bits",
            hue="rating",
            hue_order=list(labels),
            order=order,
            split=True,
            inner="quart",
            cut=0,
            density_norm="width",
            linewidth=0.6,
            ax=ax,
            legend=ax is axes.flat[0],
        )
        ax.set_title(f"entropy: {col}")
        ax.set_xlabel("")
    for ax in list(axes.flat)[len(columns) :]:
        ax.set_visible(False)
    if axes.flat[0].get_legend() is not None:
        axes.flat[0].legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return fig


def plot_table1(table: pd.DataFrame):
    """Precision of the "good" class vs test share, one panel per protocol: the mean over
    repeated splits with the central 95 % (bars), and the paper's values (dashed)."""
    protocols = list(pd.unique(table["protocol"]))
    fig, axes = plt.subplots(
        1, len(protocols), figsize=(5.2 * len(protocols), 3.8), squeeze=False, sharey=True
    )
    for ax, protocol in zip(axes[0], protocols, strict=True):
        rows_p = table[table["protocol"] == protocol]
        for k, (method, rows) in enumerate(rows_p.groupby("method", sort=False)):
            x = rows["test_share"].to_numpy() + (k - 1) * 0.008
            mid = rows["precision_good"].to_numpy()
            err = np.vstack([mid - rows["precision_lo"], rows["precision_hi"] - mid])
            ax.errorbar(x, mid, yerr=err, fmt="o-", color=f"C{k}", capsize=2, label=method)
            ax.plot(rows["test_share"], rows["paper_value"], "s--", color=f"C{k}", alpha=0.5)
        ax.plot([], [], "s--", color="grey", alpha=0.5, label="paper")
        ax.set_title(f"{protocol} protocol")
        ax.set_xlabel("share of tracks in the test split")
        ax.set_ylim(0, 1.02)
        ax.invert_xaxis()
        ax.legend(fontsize=7, loc="lower left")
    axes[0, 0].set_ylabel("precision of 'good' (95 % of splits)")
    fig.tight_layout()
    return fig


def plot_pr_curves(curves: pd.DataFrame):
    """Precision-recall curves of the "good" class (out-of-fold scores), one panel per
    protocol, one line per classifier; the dotted line is the share of good tracks."""
    protocols = list(pd.unique(curves["protocol"]))
    fig, axes = plt.subplots(
        1, len(protocols), figsize=(5.2 * len(protocols), 3.8), squeeze=False, sharey=True
    )
    for ax, protocol in zip(axes[0], protocols, strict=True):
        rows_p = curves[curves["protocol"] == protocol]
        for k, (method, c) in enumerate(rows_p.groupby("method", sort=False)):
            ap = float(c["average_precision"].iloc[0])
            ax.plot(c["recall"], c["precision"], color=f"C{k}", label=f"{method} (AP {ap:.2f})")
        ax.axhline(float(rows_p["base_rate"].iloc[0]), color="grey", ls=":", label="base rate")
        ax.axhspan(0.74, 0.87, color="grey", alpha=0.12, lw=0, label="paper's 0.74-0.87")
        ax.set_title(f"{protocol} protocol")
        ax.set_xlabel("recall of 'good'")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.legend(fontsize=7, loc="lower left")
    axes[0, 0].set_ylabel("precision of 'good'")
    fig.tight_layout()
    return fig


def plot_acceptance(acceptance: pd.DataFrame):
    """Per model: share rated good before filtering vs among the accepted tracks."""
    fig, ax = plt.subplots(figsize=(6, 3.4))
    x = np.arange(len(acceptance))
    ax.bar(x - 0.2, acceptance["rated_good_share"], 0.4, label="all generated")
    ax.bar(x + 0.2, acceptance["good_share_after_filter"].fillna(0), 0.4, label="after the filter")
    for xi, (n, acc) in enumerate(zip(acceptance["n_tracks"], acceptance["accepted"], strict=True)):
        ax.annotate(
            f"{acc}/{n} pass", (xi + 0.2, 0.02), ha="center", fontsize=8, rotation=90, va="bottom"
        )
    ax.set_xticks(x, acceptance["group"])
    ax.set_ylabel("share rated acceptable")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
