"""The claims ledger at a glance: every check's interval against its boundary."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np

from vrashlib.analysis.claims import CLAIMS, Claim, verdict
from vrashlib.analysis.uncertainty import Estimate

COLORS = {"holds": "C2", "fails": "C3", "undecided": "0.45", "not measured": "0.75"}


def plot_claims(measurements: dict[str, Estimate], claims: tuple[Claim, ...] = CLAIMS):
    """One small panel per check of every claim: the 95 % interval (bar), the value
    (dot) and each seed run (ticks) against the claim's boundary (dashed line, or
    the shaded band of a ``within`` / ``outside`` check), coloured by the check's
    verdict; a missing measurement is an empty, labelled panel."""
    checks = [(c, t) for c in claims for t in c.tests]
    ncols = 4
    nrows = math.ceil(len(checks) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.3 * ncols, 1.25 * nrows + 0.6), squeeze=False)
    for ax, (claim, check) in zip(axes.flat, checks, strict=False):
        est = measurements.get(check.name)
        label = check.name.split(".", 1)[1] if "." in check.name else check.name
        ax.set_title(f"{claim.key}\n{label}", fontsize=6.5, loc="left")
        ax.set_yticks([])
        if est is None or not (math.isfinite(est.lo) and math.isfinite(est.hi)):
            ax.text(
                0.5,
                0.5,
                "not measured",
                ha="center",
                va="center",
                transform=ax.transAxes,
                fontsize=7,
            )
            ax.set_xticks([])
            continue
        v = verdict(est.lo, est.hi, check.rule, check.bound)
        color = COLORS[v]
        if isinstance(check.bound, tuple):
            a, b = check.bound
            ax.axvspan(a, b, color="0.85" if check.rule == "within" else "0.95", lw=0)
            for edge in (a, b):
                ax.axvline(edge, color="0.3", ls="--", lw=0.8)
        else:
            ax.axvline(check.bound, color="0.3", ls="--", lw=0.8)
        seeds = np.array([s for s in est.per_seed if math.isfinite(s)])
        if len(seeds) > 1:
            ax.plot(seeds, np.full(len(seeds), -0.3), "|", color=color, alpha=0.6, ms=6)
        ax.plot([est.lo, est.hi], [0, 0], color=color, lw=3, solid_capstyle="butt")
        ax.plot([est.value], [0], "o", color=color, ms=4)
        ax.set_ylim(-0.7, 0.5)
        ax.tick_params(axis="x", labelsize=6)
        ax.text(
            0.99, 0.92, v, ha="right", va="top", transform=ax.transAxes, fontsize=7, color=color
        )
    for ax in list(axes.flat)[len(checks) :]:
        ax.set_visible(False)
    fig.suptitle(
        "Claims ledger: 95 % intervals against the claims' boundaries (ticks: seed runs)",
        fontsize=9,
    )
    fig.tight_layout()
    return fig
