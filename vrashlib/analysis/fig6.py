"""Fig. 6's line-up: which sets of melodies are compared, and the paper's observations.

The sets are named ``<source>/<style>[/filtered]``: ``real/bach``, ``vrash/bach``,
``vrash/bach/filtered`` (the generated melodies the stream's filter accepts),
``lm/bach``, and the same for the second style. :func:`paper_observations` checks
each of the paper's five Fig. 6 observations on the curves of those sets
(:func:`vrashlib.analysis.mi.mi_curve`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from vrashlib.analysis.mi import significant
from vrashlib.data.tracks import TrackSet


def curve_name(source: str, style: str, *, filtered: bool = False) -> str:
    """The name of one compared set, e.g. ``vrash/bach/filtered``."""
    return f"{source}/{style}" + ("/filtered" if filtered else "")


def fig6_sets(
    real: TrackSet, vrash: TrackSet, lm: TrackSet, filt: Any, styles: tuple[str, str]
) -> dict[str, TrackSet]:
    """Every real style, and per compared style: VRASH before and after ``filt``, the LM.

    ``filt`` is the stream's fitted filter (anything with ``accept(tracks) -> bool
    array``); a filtered set may be empty when the filter rejects every melody.
    """
    sets = {curve_name("real", s): real.select(style=s) for s in real.styles}
    for style in styles:
        before = vrash.select(style=style)
        sets[curve_name("vrash", style)] = before
        sets[curve_name("vrash", style, filtered=True)] = before.subset(
            np.flatnonzero(filt.accept(before))
        )
        sets[curve_name("lm", style)] = lm.select(style=style)
    return sets


def fig6_view(first: str, second: str) -> list[str]:
    """The curves of the paper's Fig. 6 panel, real references first."""
    return [
        curve_name("real", first),
        curve_name("real", second),
        curve_name("vrash", first),
        curve_name("vrash", first, filtered=True),
        curve_name("vrash", second),
        curve_name("vrash", second, filtered=True),
        curve_name("lm", first),
        curve_name("lm", second),
    ]


def shared_mask(a: pd.DataFrame, b: pd.DataFrame) -> np.ndarray:
    """Row mask of the distances where both curves are :func:`significant`."""
    return significant(a) & significant(b)


def tail_mi(curve: pd.DataFrame, mask: np.ndarray) -> tuple[float, float, float]:
    """Mean ``mi_bits``, ``lo``, ``hi`` (bits) over the longest third of the masked distances."""
    rows = curve[mask]
    rows = rows.iloc[len(rows) - max(1, len(rows) // 3) :]
    return float(rows["mi_bits"].mean()), float(rows["lo"].mean()), float(rows["hi"].mean())


def decay_ratio(curve: pd.DataFrame, mask: np.ndarray) -> float:
    """Tail MI over the MI at the shortest masked distance: smaller = faster decay."""
    return tail_mi(curve, mask)[0] / float(curve.loc[mask, "mi_bits"].iloc[0])


def log_gap(a: pd.DataFrame, b: pd.DataFrame) -> float:
    """Mean absolute difference of ``log10 I`` over shared distances (0 = same profile)."""
    m = shared_mask(a, b)
    return float(np.abs(np.log10(a.loc[m, "mi_bits"]) - np.log10(b.loc[m, "mi_bits"])).mean())


def paper_observations(
    curves: dict[str, pd.DataFrame], second: str, first: str = "bach"
) -> pd.DataFrame:
    """Check each of the paper's Fig. 6 observations on our curves.

    ``curves`` holds ``real/<first>``, ``real/<second>``, ``vrash/<first>``,
    ``vrash/<first>/filtered``, ``vrash/<second>``, ``vrash/<second>/filtered`` and
    ``lm/<first>`` (the paper's first style is Bach). One row per observation: ``observation``, ``ours`` (the numbers
    compared) and ``agrees`` (``yes``/``no``, or ``n/a`` with the reason when a
    curve has fewer than two distances above the noise floor shared with its
    partner, e.g. a filtered set that the filter emptied).
    """
    vb, vbf = curve_name("vrash", first), curve_name("vrash", first, filtered=True)
    rb, lm = curve_name("real", first), curve_name("lm", first)
    vs, vsf = curve_name("vrash", second), curve_name("vrash", second, filtered=True)
    rs = curve_name("real", second)
    checks = [
        (f"{first}-stylised VRASH (filtered) keeps higher MI at long distances than real {first}",
         vbf, rb, "tail"),
        (f"VRASH in the second style ({second}) has the MI profile closest to real data",
         vs, rs, "closest"),
        (f"... but its MI decays faster with distance than in real {second} tunes",
         vs, rs, "faster"),
        (f"Filtering changes the long-distance MI of {second} VRASH tunes (bands apart)",
         vs, vsf, "changes"),
        ("LM-generated tunes lose MI faster than VRASH-generated ones", lm, vb, "faster"),
    ]  # fmt: skip
    rows = []
    for text, a, b, kind in checks:
        missing = [n for n in (a, b) if n not in curves]
        if missing or shared_mask(curves[a], curves[b]).sum() < 2:
            why = (
                f"{missing[0]} missing"
                if missing
                else f"{a} and {b} share < 2 distances above the noise floor"
            )
            rows.append({"observation": text, "ours": "", "agrees": f"n/a ({why})"})
            continue
        ca, cb = curves[a], curves[b]
        m = shared_mask(ca, cb)
        if kind == "tail":
            x, y = tail_mi(ca, m)[0], tail_mi(cb, m)[0]
            ours, ok = f"tail MI {x:.4f} ({a}) vs {y:.4f} bits ({b})", x > y
        elif kind == "faster":
            x, y = decay_ratio(ca, m), decay_ratio(cb, m)
            ours, ok = f"tail/first MI {x:.3f} ({a}) vs {y:.3f} ({b})", x < y
        elif kind == "changes":
            (_, la, ha), (_, lb, hb) = tail_mi(ca, m), tail_mi(cb, m)
            ours = (
                f"tail/first MI {decay_ratio(ca, m):.3f} before vs {decay_ratio(cb, m):.3f} "
                f"after; tail bands [{la:.4f}, {ha:.4f}] vs [{lb:.4f}, {hb:.4f}] bits"
            )
            ok = ha < lb or hb < la
        else:  # closest: compare with every other generated curve against its own real style
            gaps = {a: log_gap(ca, cb)}
            for gen in (vbf, vb, lm):
                if gen in curves and shared_mask(curves[gen], curves[rb]).sum() >= 2:
                    gaps[gen] = log_gap(curves[gen], curves[rb])
            ours = "mean |log10 I| gap to real: " + ", ".join(
                f"{k} {v:.3f}" for k, v in gaps.items()
            )
            ok = min(gaps, key=gaps.get) == a
        rows.append({"observation": text, "ours": ours, "agrees": "yes" if ok else "no"})
    return pd.DataFrame(rows, columns=["observation", "ours", "agrees"])
