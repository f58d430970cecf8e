"""How close generated melodies are to real melodies of the same style (beyond the paper).

Overlapping areas (Yang & Lerch 2018, "On the evaluation of generative models in
music", Neural Computing and Applications 32: 4773-4784, 2020). For each feature
below, every melody gets one value (or one histogram); the distances between
real melodies (intra-set) and between real and generated melodies (inter-set)
are two distributions, smoothed by a Gaussian kernel density estimate; their
overlapping area (OA, 0-1) is 1 when a generated melody is as close to the real
ones as they are to each other. Features (notes only; rests skipped, except
that a rest lengthens the gap between two onsets):

=============================  ===================================================
``pitch_count``                distinct MIDI pitches in the melody
``pitch_class_histogram``      share of notes on each of the 12 pitch classes
``pitch_interval_histogram``   share of intervals -12..+12 semitones between
                               consecutive notes (larger leaps in the end bins)
``duration_histogram``         share of note lengths per half-octave of the
                               length ratio to the track's median (1/16 .. 16)
``inter_onset_interval``       mean time between consecutive note onsets, in
                               median note lengths
=============================  ===================================================

Beside them: the *out-of-key rate* (notes outside the scale of the melody's own
key, :func:`vrashlib.analysis.keys.out_of_key`) and the *realness AUC*
(:func:`vrashlib.sampling.realism.realness_auc`: a cross-validated classifier on
interval n-grams that tells real from generated; 0.5 = indistinguishable).
"""

from __future__ import annotations

import numpy as np
from scipy import signal

from vrashlib.analysis.keys import out_of_key
from vrashlib.data.encoding import DUR, DURATION_VALUES, N_PITCH_CLASSES, PC, midi_pitch
from vrashlib.data.tracks import TrackSet

FEATURES = (
    "pitch_count",
    "pitch_class_histogram",
    "pitch_interval_histogram",
    "duration_histogram",
    "inter_onset_interval",
)
MAX_MELODIES = 200  # melodies per set entering the pairwise distances (seeded subsample)
GRID = 512  # points at which the two densities are compared


def melody_features(tracks: TrackSet) -> dict[str, np.ndarray]:
    """Each feature of :data:`FEATURES` per melody: ``(n,)`` or ``(n, bins)``."""
    n = len(tracks)
    out = {name: [] for name in FEATURES}
    for ev in tracks:
        note = ev[:, PC] < N_PITCH_CLASSES
        pitch = midi_pitch(ev[note]).astype(np.int64)
        length = DURATION_VALUES[ev[:, DUR].astype(np.int64)]
        out["pitch_count"].append(len(np.unique(pitch)))
        out["pitch_class_histogram"].append(_hist(pitch % 12, 12))
        steps = np.clip(np.diff(pitch), -12, 12) + 12
        out["pitch_interval_histogram"].append(_hist(steps, 25))
        half_octaves = np.clip(np.round(2 * np.log2(length[note])), -8, 8).astype(np.int64) + 8
        out["duration_histogram"].append(_hist(half_octaves, 17))
        onsets = np.concatenate([[0.0], np.cumsum(length)[:-1]])[note]
        out["inter_onset_interval"].append(
            float(np.diff(onsets).mean()) if len(onsets) > 1 else 0.0
        )
    return {
        k: np.asarray(v, np.float64).reshape(n, -1) if n else np.zeros((0, 1))
        for k, v in out.items()
    }


def _hist(values: np.ndarray, bins: int) -> np.ndarray:
    counts = np.bincount(values, minlength=bins).astype(np.float64)
    return counts / counts.sum() if counts.sum() else counts


def _pairwise(a: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """Euclidean distances between the rows of ``a`` and ``b`` (all pairs), or among the
    rows of ``a`` (each unordered pair once)."""
    if b is None:
        d = np.sqrt(((a[:, None, :] - a[None, :, :]) ** 2).sum(-1))
        return d[np.triu_indices(len(a), k=1)]
    return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)).ravel()


def density(x: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Gaussian kernel density of ``x`` on an even ``grid`` (Scott's bandwidth, as
    ``scipy.stats.gaussian_kde``), computed on binned data: the sample is counted into
    one bin per grid point and smoothed with the kernel (fast for 10^4-10^5 distances;
    the binning moves each point by at most half a grid step). NaN when ``x`` has no
    spread."""
    x = np.asarray(x, np.float64)
    h = x.std(ddof=1) * len(x) ** (-1 / 5)
    if not h > 0:
        return np.full(len(grid), np.nan)
    step = grid[1] - grid[0]
    counts, _ = np.histogram(x, bins=len(grid), range=(grid[0] - step / 2, grid[-1] + step / 2))
    half = min(int(np.ceil(5 * h / step)), 2 * len(grid))
    kernel = np.exp(-0.5 * (np.arange(-half, half + 1) * step / h) ** 2)
    smooth = signal.fftconvolve(counts.astype(np.float64), kernel, mode="same")
    return np.maximum(smooth, 0.0) / (len(x) * h * np.sqrt(2 * np.pi))


def overlap_area(x: np.ndarray, y: np.ndarray) -> float:
    """Overlapping area (0-1) of the kernel density estimates of two samples
    (:func:`density`); when a sample has no spread (its KDE is singular), of their
    histograms on shared bins."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if len(x) < 2 or len(y) < 2:
        return float("nan")
    lo, hi = min(x.min(), y.min()), max(x.max(), y.max())
    if hi <= lo:
        return 1.0
    grid = np.linspace(lo - 0.2 * (hi - lo), hi + 0.2 * (hi - lo), GRID)
    p, q = density(x, grid), density(y, grid)
    if np.isfinite(p).all() and np.isfinite(q).all():
        return float(min(1.0, np.trapezoid(np.minimum(p, q), grid)))
    edges = np.linspace(lo, hi, 33)
    p, _ = np.histogram(x, edges)
    q, _ = np.histogram(y, edges)
    return float(np.minimum(p / p.sum(), q / q.sum()).sum())


def _subsample(tracks: TrackSet, n: int, rng: np.random.Generator) -> TrackSet:
    if len(tracks) <= n:
        return tracks
    return tracks.subset(np.sort(rng.choice(len(tracks), n, replace=False)))


def overlap_areas(real: TrackSet, generated: TrackSet, *, seed: int = 0) -> dict[str, float]:
    """OA of intra-set (real) and inter-set (real x generated) distances, per feature."""
    rng = np.random.default_rng(seed)
    fr = melody_features(_subsample(real, MAX_MELODIES, rng))
    fg = melody_features(_subsample(generated, MAX_MELODIES, rng))
    return {
        f"oa_{k}": overlap_area(_pairwise(fr[k]), _pairwise(fr[k], fg[k])) if len(fg[k]) else np.nan
        for k in FEATURES
    }


def out_of_key_rate(tracks: TrackSet) -> float:
    """Share of notes outside the scale of their melody's own key (all melodies pooled)."""
    out, notes = out_of_key(tracks)
    return float(out.sum() / notes.sum()) if notes.sum() else float("nan")


def similarity_row(
    real: TrackSet, generated: TrackSet, *, seed: int = 0, auc: bool = True
) -> dict[str, float]:
    """Every metric of the module for one generated set against real melodies of its style:
    the OAs, ``out_of_key_rate`` (generated), ``out_of_key_gap`` (generated minus real)
    and (``auc``) ``realness_auc`` (at most :data:`MAX_MELODIES` of each, seeded)."""
    row = overlap_areas(real, generated, seed=seed)
    row["out_of_key_rate"] = out_of_key_rate(generated)
    row["out_of_key_gap"] = row["out_of_key_rate"] - out_of_key_rate(real)
    if auc:
        row["realness_auc"] = capped_auc(real, generated, seed=seed)
    return row


def capped_auc(real: TrackSet, generated: TrackSet, *, seed: int = 0) -> float:
    """:func:`vrashlib.sampling.realism.realness_auc` on at most :data:`MAX_MELODIES`
    melodies of each set (seeded subsamples; the classifier is the costly part)."""
    from threadpoolctl import threadpool_limits

    from vrashlib.sampling.realism import realness_auc

    rng = np.random.default_rng(seed)
    a, b = _subsample(real, MAX_MELODIES, rng), _subsample(generated, MAX_MELODIES, rng)
    with threadpool_limits(1):  # small fits: BLAS threads only wait on each other
        return realness_auc(a, b, seed=seed)


def auc_interval_sd(auc: float, n_pos: int, n_neg: int) -> float:
    """Standard error of an ROC AUC from ``n_pos`` and ``n_neg`` examples (Hanley &
    McNeil 1982, Eq. 2), for an interval when the AUC is computed once."""
    if not np.isfinite(auc) or min(n_pos, n_neg) < 1:
        return float("nan")
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    var = auc * (1 - auc) + (n_pos - 1) * (q1 - auc**2) + (n_neg - 1) * (q2 - auc**2)
    return float(np.sqrt(max(var, 0.0) / (n_pos * n_neg)))


METRICS = (*(f"oa_{k}" for k in FEATURES), "out_of_key_rate", "out_of_key_gap", "realness_auc")


def distributions_by_style(
    generated: dict[str, TrackSet], real: TrackSet, styles: list[str] | tuple[str, ...]
) -> dict[str, dict[str, dict[str, np.ndarray]]]:
    """``{style: {"real" | model: distributions}}``
    (:func:`vrashlib.sampling.generate.distributions`): each model's melodies of a style
    beside the real melodies *of that style*, not of every style pooled (a Bach melody
    compared with folk and renaissance tunes mostly shows the style mismatch)."""
    from vrashlib.sampling.generate import distributions

    return {
        style: {
            "real": distributions(real.select(style=style)),
            **{k: distributions(ts.select(style=style)) for k, ts in generated.items()},
        }
        for style in styles
    }
