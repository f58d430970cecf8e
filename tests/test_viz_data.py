"""The dataset overview figure draws what the prepared data holds."""

from __future__ import annotations

import shutil
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from vrashlib.config import DataConfig  # noqa: E402
from vrashlib.data.prepare import prepare  # noqa: E402
from vrashlib.files import savefig  # noqa: E402
from vrashlib.viz.data import example_index, fig_data_overview, plot_entropy, plot_funnel  # noqa: E402

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("viz")
    shutil.copytree(DATA / "midi", root / "midi")
    cfg = DataConfig(collections=("bach", "airdsAirs"), max_tunes_per_collection=2, workers=1)
    return prepare(cfg, root / "out", midi_dirs=[(root / "midi", "pop")], progress=False)


def test_funnel_bars_add_up_to_tracks_read(prepared):
    fig, ax = plt.subplots()
    plot_funnel(ax, prepared.funnel)
    widths = {}
    for patch in ax.patches:
        y = round(patch.get_y() + patch.get_height() / 2)
        widths[y] = widths.get(y, 0) + patch.get_width()
    read = prepared.funnel["tracks_read"].tolist()
    assert [widths[k] for k in sorted(widths)] == read
    plt.close(fig)


def test_entropy_histogram_counts_every_track_read(prepared):
    fig, ax = plt.subplots()
    plot_entropy(ax, prepared.track_stats, threshold=1.5)
    assert sum(p.get_height() for p in ax.patches) == len(prepared.track_stats)
    assert any(np.allclose(line.get_xdata(), 1.5) for line in ax.lines)
    plt.close(fig)


def test_overview_figure_is_written(prepared, tmp_path):
    i = example_index(prepared.tracks)
    assert prepared.tracks.style_names()[i] == "bach"
    fig = fig_data_overview(prepared, threshold=1.5)
    assert len(fig.axes) == 7
    savefig(fig, "fig_data_overview", tmp_path)
    assert all((tmp_path / f"fig_data_overview.{e}").stat().st_size > 1000 for e in ("png", "pdf"))
    plt.close(fig)
