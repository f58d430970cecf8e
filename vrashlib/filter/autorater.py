"""The automatic rating panel: a documented STAND-IN for the paper's human raters.

The paper's 1000+ human ratings are private. For headless runs this panel
rates every track 1-5 from musical criteria that are deliberately *not* the
filter's entropy features (:mod:`vrashlib.filter.features`), so that Table 1 measures
whether entropies predict a different, musically motivated judgement rather
than re-deriving the label they were computed from. It is not human data and
the notebooks never call it that; its rater name is ``"auto-panel"``.

Criteria, per track (notes only; rests skipped for intervals):

==================  =====================================================  ==========
criterion           what                                                   judged
==================  =====================================================  ==========
``key_clarity``     best Pearson correlation of the duration-weighted       higher
                    pitch-class histogram with the 24 Krumhansl-Kessler
                    key profiles (Krumhansl-Schmuckler key finding)
``longest_run``     longest run of one repeated pitch (events)             lower
``step_share``      share of note-to-note intervals of 1-2 semitones        typical
``leap_share``      share of intervals larger than a fifth (> 7 semitones)  lower
``grid_share``      share of note onsets on the metrical grid: cumulative   higher
                    onset an integer number of median durations
``motif_recurrence``  share of 3-interval motifs (interval and length of    typical
                    each step) that recur elsewhere in the track
==================  =====================================================  ==========

Each criterion is judged against the distribution of the same criterion over
real tracks *of the same style* (the reference; styles with fewer than
``min_tracks`` real tracks use all real tracks): with ``F`` the empirical CDF,
a "typical" criterion scores ``2 min(F, 1 - F)``, a "higher" one
``min(1, 2F)`` and a "lower" one ``min(1, 2(1 - F))`` (1 = as good as the
median real track). A track's combined score is the geometric mean of its
criterion scores (floored at 0.02, so one very bad criterion drags the track
down), and the rating is 1 + the number of reference quantiles
:data:`RATING_QUANTILES` of the real tracks' own combined scores that it
reaches: about half of real tracks get 5 and a quarter get 4.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from vrashlib.data.encoding import (
    DUR,
    DURATION_48THS,
    DURATION_LCM,
    N_PITCH_CLASSES,
    PC,
    midi_pitch,
)
from vrashlib.data.tracks import TrackSet

# Krumhansl & Kessler (1982) probe-tone profiles, tonic first.
MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])

CRITERIA: dict[str, str] = {
    "key_clarity": "higher",
    "longest_run": "lower",
    "step_share": "typical",
    "leap_share": "lower",
    "grid_share": "higher",
    "motif_recurrence": "typical",
}
# Reference quantiles of the real tracks' combined score separating ratings 1|2|3|4|5.
RATING_QUANTILES = (0.02, 0.08, 0.25, 0.5)
SCORE_FLOOR = 0.02
POOLED = "*all*"


def _key_profiles() -> np.ndarray:
    """The 24 key profiles as rows, each standardised (zero mean, unit norm)."""
    rows = [np.roll(p, k) for p in (MAJOR_PROFILE, MINOR_PROFILE) for k in range(12)]
    prof = np.array(rows)
    prof = prof - prof.mean(1, keepdims=True)
    return prof / np.linalg.norm(prof, axis=1, keepdims=True)


_PROFILES = _key_profiles()


def musical_criteria(tracks: TrackSet) -> pd.DataFrame:
    """Raw criterion values (see the module table), one row per track; NaN where undefined."""
    n = len(tracks)
    ev, offsets = tracks.events, tracks.offsets
    seg = np.repeat(np.arange(n), np.diff(offsets))
    note = ev[:, PC] < N_PITCH_CLASSES
    pitch = midi_pitch(ev).astype(np.int64)
    d48 = DURATION_48THS[ev[:, DUR].astype(np.int64)] if len(ev) else np.zeros(0, np.int64)
    n_notes = np.bincount(seg[note], minlength=n).astype(np.float64)

    # Key clarity: duration-weighted pitch-class histogram against 24 key profiles.
    hist = np.bincount(
        seg[note] * 12 + ev[note, PC].astype(np.int64), weights=d48[note], minlength=12 * n
    ).reshape(n, 12)
    hc = hist - hist.mean(1, keepdims=True)
    norm = np.linalg.norm(hc, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        key = (hc @ _PROFILES.T).max(1) / norm
    key = np.where(norm > 0, key, np.nan)

    # Longest run of one repeated pitch (a rest breaks a run).
    new_run = np.ones(len(ev), dtype=bool)
    new_run[1:] = (pitch[1:] != pitch[:-1]) | (seg[1:] != seg[:-1])
    run_id = np.cumsum(new_run) - 1
    run_len = np.bincount(run_id)
    run_first = np.flatnonzero(new_run)
    longest = np.zeros(n)
    ok = note[run_first]
    np.maximum.at(longest, seg[run_first][ok], run_len[ok])
    longest = np.where(n_notes > 0, longest, np.nan)

    # Intervals between consecutive notes (rests skipped).
    nseg, npitch = seg[note], pitch[note]
    same = nseg[1:] == nseg[:-1]
    step = np.abs(np.diff(npitch))[same]
    iseg = nseg[1:][same]
    n_int = np.bincount(iseg, minlength=n).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        step_share = np.bincount(iseg, weights=(step >= 1) & (step <= 2), minlength=n) / n_int
        leap_share = np.bincount(iseg, weights=step > 7, minlength=n) / n_int

    # Onsets on the grid: cumulative onset (in 1/48 units) a multiple of one median length.
    cum = np.cumsum(d48) - d48
    start = np.append(cum, 0)[offsets[:-1]]  # the pad serves empty tracks at the end
    onset = cum - np.repeat(start, np.diff(offsets))
    with np.errstate(invalid="ignore", divide="ignore"):
        grid_share = (
            np.bincount(seg[note], weights=(onset[note] % DURATION_LCM) == 0, minlength=n) / n_notes
        )

    motif = _motif_recurrence(ev, seg, pitch, note, n)
    return pd.DataFrame(
        {
            "key_clarity": key,
            "longest_run": longest,
            "step_share": step_share,
            "leap_share": leap_share,
            "grid_share": grid_share,
            "motif_recurrence": motif,
        },
        index=pd.Index(tracks.ids, name="track_id"),
    )


def _motif_recurrence(
    ev: np.ndarray, seg: np.ndarray, pitch: np.ndarray, note: np.ndarray, n: int
) -> np.ndarray:
    """Share of 3-step motifs (interval + length per step) occurring more than once in their track."""
    nseg, npitch, ndur = seg[note], pitch[note], ev[note, DUR].astype(np.int64)
    if len(nseg) < 4:
        return np.full(n, np.nan)
    tok = (np.clip(np.diff(npitch), -60, 60) + 64) * 256 + ndur[1:]  # < 2^15
    tseg = nseg[1:]
    valid = nseg[1:] == nseg[:-1]  # step inside one track
    ok = valid[:-2] & valid[1:-1] & valid[2:]
    gram = (tok[:-2] << 30) | (tok[1:-1] << 15) | tok[2:]
    gseg = tseg[:-2][ok]
    gram = gram[ok]
    n_grams = np.bincount(gseg, minlength=n).astype(np.float64)
    if gram.size == 0:
        return np.full(n, np.nan)
    key = np.stack([gseg.astype(np.int64), gram], axis=1)
    _, inv, counts = np.unique(key, axis=0, return_inverse=True, return_counts=True)
    recurring = counts[inv.reshape(-1)] >= 2
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.bincount(gseg, weights=recurring, minlength=n) / n_grams


def _typicality(values: np.ndarray, reference: np.ndarray, kind: str) -> np.ndarray:
    """Score in [0, 1] of each value against a sorted reference sample (NaN -> 0)."""
    lo = np.searchsorted(reference, values, side="left")
    hi = np.searchsorted(reference, values, side="right")
    f = (lo + hi) / (2.0 * len(reference))  # mid-rank empirical CDF
    if kind == "typical":
        s = 2 * np.minimum(f, 1 - f)
    elif kind == "higher":
        s = np.minimum(1.0, 2 * f)
    elif kind == "lower":
        s = np.minimum(1.0, 2 * (1 - f))
    else:
        raise ValueError(f"unknown criterion kind {kind!r}")
    return np.where(np.isnan(values), 0.0, s)


@dataclass
class Panel:
    """Reference distributions of each criterion per style, fitted on real tracks."""

    reference: dict[str, dict[str, np.ndarray]]  # style -> criterion -> sorted values
    cutoffs: dict[str, np.ndarray]  # style -> combined-score thresholds for ratings 2..5
    n_reference: dict[str, int] = field(default_factory=dict)

    def _style_key(self, style: str) -> str:
        return style if style in self.reference else POOLED

    def _score_rows(self, raw: pd.DataFrame, rows: np.ndarray, key: str) -> tuple[dict, np.ndarray]:
        """Criterion scores and combined score of ``raw.iloc[rows]`` against reference ``key``."""
        scores, logs = {}, np.zeros(len(rows))
        for name, kind in CRITERIA.items():
            s = _typicality(raw[name].to_numpy()[rows], self.reference[key][name], kind)
            scores[name] = s
            logs += np.log(np.maximum(s, SCORE_FLOOR))
        return scores, np.exp(logs / len(CRITERIA))

    def scores(self, tracks: TrackSet) -> pd.DataFrame:
        """Raw criteria, their scores ``<name>_score`` in [0, 1], ``combined`` and ``rating``."""
        raw = musical_criteria(tracks)
        keys = np.array([self._style_key(s) for s in tracks.style_names()], dtype=object)
        out = raw.copy()
        per = {name: np.zeros(len(tracks)) for name in CRITERIA}
        combined = np.zeros(len(tracks))
        rating = np.ones(len(tracks), dtype=np.int64)
        for key in np.unique(keys) if len(keys) else []:
            rows = np.flatnonzero(keys == key)
            scores, combined[rows] = self._score_rows(raw, rows, key)
            for name in CRITERIA:
                per[name][rows] = scores[name]
            rating[rows] = 1 + (combined[rows, None] >= self.cutoffs[key][None, :]).sum(1)
        for name in CRITERIA:
            out[f"{name}_score"] = per[name]
        out["combined"] = combined
        out["reference"] = keys
        out["rating"] = rating
        return out

    def rate(self, tracks: TrackSet) -> np.ndarray:
        """Rating 1..5 (int) of every track."""
        return self.scores(tracks)["rating"].to_numpy()


def fit_panel(real: TrackSet, *, min_tracks: int = 20) -> Panel:
    """Reference distributions from real tracks, per style and pooled (``*all*``)."""
    if len(real) < min_tracks:
        raise ValueError(f"the panel needs at least {min_tracks} real tracks, got {len(real)}")
    raw = musical_criteria(real)
    names = real.style_names()
    groups = {POOLED: np.arange(len(real))}
    for style in np.unique(names):
        rows = np.flatnonzero(names == style)
        if len(rows) >= min_tracks:
            groups[str(style)] = rows
    reference, counts = {}, {}
    for key, rows in groups.items():
        reference[key] = {
            name: np.sort(col[~np.isnan(col)])
            for name, col in ((c, raw[c].to_numpy()[rows]) for c in CRITERIA)
        }
        for name, ref in reference[key].items():
            if ref.size == 0:
                raise ValueError(f"no real track of style {key!r} defines criterion {name}")
        counts[key] = len(rows)
    panel = Panel(reference=reference, cutoffs={}, n_reference=counts)
    for key, rows in groups.items():
        _, combined = panel._score_rows(raw, rows, key)
        panel.cutoffs[key] = np.quantile(combined, RATING_QUANTILES)
    return panel


def holdout_sample(real: TrackSet, n: int, seed: int = 0) -> TrackSet:
    """Up to ``n`` real tracks outside the train split (the panel's reference), seeded."""
    pool = np.flatnonzero(real.split != 0)
    if len(pool) == 0:
        pool = np.arange(len(real))
    pick = np.random.default_rng(seed).choice(pool, size=min(n, len(pool)), replace=False)
    return real.subset(np.sort(pick))


def auto_ratings(panel: Panel, sets: dict[str, TrackSet]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The panel's ratings of several sets as a ratings table (rater ``auto-panel``)
    and its per-criterion scores, index ``(source, track_id)``."""
    scores = pd.concat(
        [panel.scores(ts) for ts in sets.values()], keys=list(sets), names=["source", "track_id"]
    )
    ratings = pd.DataFrame(
        {
            "track_id": scores.index.get_level_values("track_id"),
            "rater": "auto-panel",
            "rating": scores["rating"].to_numpy(),
        }
    )
    return ratings, scores


def obtain_ratings(
    sets: dict[str, TrackSet], real: TrackSet, csv: str | None = None
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The ratings notebook 04 builds Table 1 from: a human CSV, or the automatic panel.

    With ``csv`` (``track_id,rater,rating``), its ratings of the tracks in ``sets``
    (validated; unknown track ids raise) and no criteria. Without, the panel is fitted
    on the *training* split of ``real`` (so the real tracks rated, drawn from the
    validation and test splits, are not its reference) and rates every set; the
    second value is then its per-criterion scores.
    """
    if csv:
        from vrashlib.filter.ratings import load_ratings

        known = np.concatenate([s.ids for s in sets.values()])
        return load_ratings(csv, known_ids=known), None
    return auto_ratings(fit_panel(real.select(split="train")), sets)
