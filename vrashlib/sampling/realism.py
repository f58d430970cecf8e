"""Would a listener keep these melodies? Simple checks of generated against real (notebook 03).

``realness_auc``
    How well a simple classifier tells generated from real melodies: logistic
    regression on the relative counts of interval n-grams (n = 1..3; intervals in
    semitones between consecutive notes, rests skipped), cross-validated
    (stratified k folds, seeded) on as many real as generated melodies. 0.5 = the
    classifier cannot tell them apart (real against real); 1 = always can.
``short_share``
    Melodies with fewer than ``MIN_NOTES`` (24) notes: some end after one note.
``run_share``
    Melodies holding a run of ``RUN`` (5) or more equal pitches in a row (rests
    skipped): the paper's "tendency to repeat a certain note".
``leap_share``
    Melodies with a leap of more than ``LEAP`` (12) semitones, over an octave,
    between consecutive notes (rests skipped).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MaxAbsScaler

from vrashlib.data.encoding import N_PITCH_CLASSES, PC, midi_pitch
from vrashlib.data.tracks import TrackSet

MIN_NOTES = 24
RUN = 5
LEAP = 12
NGRAMS = 3  # interval n-grams of length 1..NGRAMS


def note_pitches(events: np.ndarray) -> np.ndarray:
    """MIDI pitches of a melody's notes, rests skipped."""
    return midi_pitch(events[events[:, PC] < N_PITCH_CLASSES]).astype(np.int64)


def longest_run(pitches: np.ndarray) -> int:
    """The longest run of one repeated pitch (0 for no notes)."""
    if len(pitches) == 0:
        return 0
    change = np.flatnonzero(np.diff(pitches) != 0)
    bounds = np.concatenate([[-1], change, [len(pitches) - 1]])
    return int(np.diff(bounds).max())


def _share(tracks: TrackSet, test) -> float:
    if len(tracks) == 0:
        return float("nan")
    return float(np.mean([test(note_pitches(ev)) for ev in tracks]))


def short_share(tracks: TrackSet, min_notes: int = MIN_NOTES) -> float:
    """Share of melodies with fewer than ``min_notes`` notes."""
    return _share(tracks, lambda p: len(p) < min_notes)


def run_share(tracks: TrackSet, run: int = RUN) -> float:
    """Share of melodies with ``run`` or more equal pitches in a row (rests skipped)."""
    return _share(tracks, lambda p: longest_run(p) >= run)


def leap_share(tracks: TrackSet, semitones: int = LEAP) -> float:
    """Share of melodies with a leap of more than ``semitones`` between consecutive notes."""
    return _share(tracks, lambda p: len(p) > 1 and bool(np.abs(np.diff(p)).max() > semitones))


def interval_ngrams(events: np.ndarray, n_max: int = NGRAMS) -> dict[str, float]:
    """Relative counts of the melody's interval n-grams, n = 1..``n_max`` (keys like
    ``"2 -1"``); empty for fewer than two notes."""
    steps = np.diff(note_pitches(events)).tolist()
    counts: dict[str, float] = {}
    for n in range(1, n_max + 1):
        grams = [" ".join(map(str, steps[i : i + n])) for i in range(len(steps) - n + 1)]
        for g in grams:
            counts[f"{n}:{g}"] = counts.get(f"{n}:{g}", 0.0) + 1.0 / len(grams)
    return counts


def realness_auc(real: TrackSet, generated: TrackSet, *, folds: int = 5, seed: int = 0) -> float:
    """Cross-validated ROC AUC of logistic regression telling ``generated`` from
    ``real`` by interval n-grams, on equally many of each (the larger set subsampled,
    seeded). NaN when either set has fewer than ``folds`` melodies."""
    n = min(len(real), len(generated))
    if n < folds:
        return float("nan")
    rng = np.random.default_rng(seed)
    pick = [np.sort(rng.choice(len(s), n, replace=False)) for s in (real, generated)]
    feats = [
        interval_ngrams(s[i]) for s, idx in zip((real, generated), pick, strict=True) for i in idx
    ]
    y = np.repeat([0, 1], n)
    model = make_pipeline(
        DictVectorizer(), MaxAbsScaler(), LogisticRegression(C=1.0, max_iter=2000)
    )
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    proba = cross_val_predict(
        model, np.array(feats, dtype=object), y, cv=cv, method="predict_proba"
    )
    return float(roc_auc_score(y, proba[:, 1]))


def split_in_two(tracks: TrackSet, seed: int = 0) -> tuple[TrackSet, TrackSet]:
    """Two random halves of a set (seeded): real against real is the AUC's 0.5 reference."""
    order = np.random.default_rng(seed).permutation(len(tracks))
    half = len(tracks) // 2
    return tracks.subset(np.sort(order[:half])), tracks.subset(np.sort(order[half:]))


def melody_metrics(
    generated: dict[str, TrackSet],
    real: TrackSet,
    styles: list[str] | tuple[str, ...],
    *,
    seed: int = 0,
) -> pd.DataFrame:
    """One row per (model, style), plus ``real`` per style (its AUC: one half of the real
    melodies against the other): n, realness_auc, short_share, run_share, leap_share."""
    rows = []
    for style in styles:
        ref = real.select(style=style)
        a, b = split_in_two(ref, seed)
        sets = {"real": (ref, realness_auc(a, b, seed=seed))}
        for name, ts in generated.items():
            sel = ts.select(style=style)
            sets[name] = (sel, realness_auc(ref, sel, seed=seed))
        for name, (ts, auc) in sets.items():
            rows.append(
                {
                    "model": name,
                    "style": style,
                    "n": len(ts),
                    "realness_auc": auc,
                    "short_share": short_share(ts),
                    "run_share": run_share(ts),
                    "leap_share": leap_share(ts),
                }
            )
    return pd.DataFrame(rows)
