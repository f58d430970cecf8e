"""Fig. 6's line-up of compared sets and the paper's observations."""

from __future__ import annotations

import numpy as np
import pandas as pd

from vrashlib.analysis import fig6, mi
from vrashlib.data.tracks import TrackSet


class _AcceptEven:
    """A stand-in filter that accepts every other track."""

    def accept(self, tracks: TrackSet) -> np.ndarray:
        return np.arange(len(tracks)) % 2 == 0


def test_fig6_sets_name_each_set_and_filter_only_the_vrash_sets(tiny_trackset):
    sets = fig6.fig6_sets(
        tiny_trackset, tiny_trackset, tiny_trackset, _AcceptEven(), ("bach", "fiddle")
    )
    for style in tiny_trackset.styles:
        assert len(sets[f"real/{style}"]) == len(tiny_trackset.select(style=style))
    for style in ("bach", "fiddle"):
        before, after = sets[f"vrash/{style}"], sets[f"vrash/{style}/filtered"]
        assert list(after.ids) == list(before.ids[::2])
        assert set(after.ids) <= set(before.ids)
        assert (
            set(before.ids)
            & set(tiny_trackset.select(style="bach" if style != "bach" else "fiddle").ids)
            == set()
        )
        assert len(sets[f"lm/{style}"]) == len(before)
    assert set(fig6.fig6_view("bach", "fiddle")) <= set(sets)


def test_paper_observations_are_computed_from_the_curves():
    d = mi.log_distances(64, 8).astype(float)

    def curve(alpha: float, scale: float = 1.0) -> pd.DataFrame:
        v = scale * d**-alpha
        return pd.DataFrame({"distance": d, "mi_bits": v, "lo": 0.98 * v, "hi": 1.02 * v})

    curves = {
        "real/bach": curve(0.5),
        "real/fiddle": curve(0.5),
        "vrash/bach": curve(0.3, 1.2),
        "vrash/bach/filtered": curve(0.2, 1.2),
        "vrash/fiddle": curve(0.6),
        "lm/bach": curve(1.0),
    }
    obs = fig6.paper_observations(curves, "fiddle")
    assert obs["agrees"].tolist()[:3] == ["yes", "yes", "yes"]
    assert obs["agrees"][3].startswith("n/a (vrash/fiddle/filtered missing")
    assert obs["agrees"][4] == "yes"
    curves["lm/bach"] = curve(0.1)  # now the LM keeps more MI than VRASH
    assert fig6.paper_observations(curves, "fiddle")["agrees"][4] == "no"
