"""Generated against real melodies of the same style (notebook 03)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from vrashlib.viz.training import draw_distributions


def plot_distributions_by_style(
    by_style: dict[str, dict[str, dict[str, np.ndarray]]], *, top_durations: int = 10
):
    """One row per style: pitch-class, duration and length distributions of each model
    beside the real melodies of that style
    (:func:`vrashlib.analysis.similarity.distributions_by_style`)."""
    styles = list(by_style)
    fig, axes = plt.subplots(len(styles), 3, figsize=(15, 3.3 * len(styles)), squeeze=False)
    for row, style in zip(axes, styles, strict=True):
        draw_distributions(row, by_style[style], top_durations=top_durations, prefix=f"{style}: ")
        row[0].set_ylabel(f"{style}\nshare")
    fig.tight_layout()
    return fig
