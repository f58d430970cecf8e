"""Mutual information between two notes as a function of their distance (Fig. 6).

After Lin & Tegmark, "Critical behavior from deep dynamics" (2016): for a token
stream ``x_t`` (one token per event), ``I(d)`` is the mutual information between
``x_t`` and ``x_{t+d}``, pooled over every position ``t`` and every track (pairs
never straddle two tracks). Real music tends to lose information slowly, about
as a power law ``I ~ d^-alpha``; a Markov chain loses it exponentially,
``I ~ exp(-d / xi)``.

``I = S(X) + S(Y) - S(X, Y)`` with each entropy estimated from counts, either by
Grassberger's bias-corrected estimator (Grassberger 2003, the one Lin & Tegmark
use) or by the plug-in estimator. Entropies are computed in nats and reported
in bits. Everything is vectorised: token codes are made compact with
``np.unique``, the pairs at one distance get one code each, and counts come from
``np.bincount`` (with per-track weights for the bootstrap over tracks).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.special import digamma

from vrashlib.config import MIConfig
from vrashlib.data.encoding import DUR, DUR_VOCAB, N_PITCH_CLASSES, OCT, OCT_VOCAB, PC
from vrashlib.data.tracks import TrackSet

TOKENS = ("pitch", "pitch_class", "duration", "event", "degree", "interval")
KEY_INVARIANT = ("degree", "interval")  # tokens that do not change when a track is transposed
MAX_INTERVAL = 12  # the interval token keeps steps up to an octave; larger leaps share a symbol
ESTIMATORS = ("grassberger", "plugin")
LN2 = float(np.log(2.0))


# ------------------------------------------------------------------ tokens
def token_codes(tracks: TrackSet, token: str = "pitch") -> np.ndarray:
    """One integer per event of ``tracks`` (all tracks concatenated).

    ``pitch``: pitch class with octave (a rest is one more token);
    ``pitch_class``: pitch class or rest; ``duration``: duration index;
    ``event``: the whole (pitch class, octave, duration) triple. Key-invariant:
    ``degree``: pitch class relative to the track's estimated tonic
    (:func:`vrashlib.analysis.keys.relative_degree`), or rest;
    ``interval``: semitones from the previous note of the track (rests skipped
    over; leaps beyond an octave up or down are one symbol each), a rest, or
    the track's first note.
    """
    if token == "degree":
        from vrashlib.analysis.keys import relative_degree

        return relative_degree(tracks)
    if token == "interval":
        return _interval_codes(tracks)
    ev = tracks.events.astype(np.int64)
    if token == "pitch":
        return ev[:, PC] * OCT_VOCAB + ev[:, OCT]
    if token == "pitch_class":
        return ev[:, PC].copy()
    if token == "duration":
        return ev[:, DUR].copy()
    if token == "event":
        return (ev[:, PC] * OCT_VOCAB + ev[:, OCT]) * DUR_VOCAB + ev[:, DUR]
    raise ValueError(f"unknown token stream {token!r}; choose one of {TOKENS}")


def _interval_codes(tracks: TrackSet) -> np.ndarray:
    """The ``interval`` token (see :func:`token_codes`): 0..24 for steps of -12..+12
    semitones, 25 a leap down, 26 a leap up, 27 a rest, 28 a track's first note."""
    ev = tracks.events.astype(np.int64)
    seg = np.repeat(np.arange(len(tracks)), np.diff(tracks.offsets))
    note = ev[:, PC] < N_PITCH_CLASSES
    pitch = np.where(note, ev[:, PC] + 12 * ev[:, OCT], 0)
    # the latest note strictly before each event (any track), then kept if in the same track
    latest = np.maximum.accumulate(np.where(note, np.arange(len(ev)), -1)) if len(ev) else seg
    prev = np.concatenate([[-1], latest[:-1]]) if len(ev) else seg
    safe = np.maximum(prev, 0)
    has_prev = (prev >= 0) & (seg[safe] == seg)
    step = pitch - pitch[safe]
    m = MAX_INTERVAL
    codes = np.where(step < -m, 2 * m + 1, np.where(step > m, 2 * m + 2, step + m))
    codes = np.where(has_prev, codes, 2 * m + 4)
    return np.where(note, codes, 2 * m + 3)


def log_distances(max_distance: int, n: int) -> np.ndarray:
    """About ``n`` log-spaced integer distances from 1 to ``max_distance`` (events)."""
    if max_distance < 1 or n < 1:
        raise ValueError(f"need max_distance >= 1 and n >= 1, got {max_distance}, {n}")
    return np.unique(np.round(np.geomspace(1, max_distance, n)).astype(np.int64))


def n_pairs(lengths: np.ndarray, distances: np.ndarray) -> np.ndarray:
    """Number of within-track pairs ``(t, t + d)`` for each distance."""
    lengths = np.asarray(lengths, dtype=np.int64)
    return np.array([np.maximum(lengths - d, 0).sum() for d in np.asarray(distances)], np.int64)


def _pairs(offsets: np.ndarray, d: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions ``t`` (into the concatenated stream) with ``t + d`` in the same track,
    and the track index of each."""
    lengths = np.diff(offsets)
    keep = np.maximum(lengths - d, 0)
    track = np.repeat(np.arange(len(lengths)), keep)
    starts = np.repeat(offsets[:-1] - np.concatenate([[0], np.cumsum(keep)[:-1]]), keep)
    pos = np.arange(int(keep.sum()), dtype=np.int64) + starts
    return pos, track


# --------------------------------------------------------------- entropies
def _grassberger_table(n_max: int) -> np.ndarray:
    """``G(n)`` for n = 0..n_max (Grassberger 2003, Eq. 35); G(0) is unused (0)."""
    n = np.arange(1, n_max + 1, dtype=np.float64)
    sign = np.where(n % 2 == 0, 1.0, -1.0)
    g = digamma(n) + 0.5 * sign * (digamma((n + 1) / 2) - digamma(n / 2))
    return np.concatenate([[0.0], g])


def entropy_from_counts(
    counts: np.ndarray, estimator: str = "grassberger", *, table: np.ndarray | None = None
) -> np.ndarray:
    """Entropy in nats from counts along the last axis (zeros allowed).

    ``plugin``: ``-sum p ln p`` with ``p = n / N`` (biased low for small N);
    ``grassberger``: ``ln N - (1/N) sum n G(n)``.
    """
    counts = np.asarray(counts)
    n_total = counts.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        if estimator == "plugin":
            c = counts.astype(np.float64)
            terms = np.where(c > 0, c * np.log(np.where(c > 0, c, 1.0)), 0.0)
            h = np.log(n_total) - terms.sum(axis=-1) / n_total
        elif estimator == "grassberger":
            idx = np.rint(counts).astype(np.int64)
            if table is None or len(table) <= idx.max(initial=0):
                table = _grassberger_table(int(idx.max(initial=0)))
            h = np.log(n_total) - (idx * table[idx]).sum(axis=-1) / n_total
        else:
            raise ValueError(f"unknown estimator {estimator!r}; choose one of {ESTIMATORS}")
    return np.where(n_total > 0, h, np.nan)


def _mi_at(
    codes: np.ndarray,
    offsets: np.ndarray,
    d: int,
    weights: np.ndarray,
    estimators: tuple[str, ...],
    table: np.ndarray,
) -> dict[str, np.ndarray]:
    """MI (nats) at distance ``d`` for each row of track weights ``(n_rep, n_tracks)``.

    The pair counts of each track are one sparse ``(n_tracks, symbols)`` matrix, so
    the counts of every weighting (bootstrap replicate) are one matrix product.
    """
    pos, track = _pairs(offsets, d)
    if len(pos) == 0:
        return {e: np.full(len(weights), np.nan) for e in estimators}
    x, y = codes[pos], codes[pos + d]
    n_codes = int(codes.max()) + 1
    _, xy = np.unique(x * n_codes + y, return_inverse=True)
    xy = xy.reshape(-1)
    w = np.asarray(weights, dtype=np.float64).T  # (n_tracks, n_rep)
    ones = np.ones(len(pos))

    def counts(sym: np.ndarray, k: int) -> np.ndarray:  # (n_rep, k)
        per_track = sparse.csr_matrix((ones, (track, sym)), shape=(w.shape[0], k))
        return np.asarray(per_track.T @ w).T

    cx, cy, cxy = counts(x, n_codes), counts(y, n_codes), counts(xy, int(xy.max()) + 1)
    out = {}
    for e in estimators:
        hx, hy, hxy = (entropy_from_counts(c, e, table=table) for c in (cx, cy, cxy))
        out[e] = hx + hy - hxy
    return out


def _compact(tracks: TrackSet, token: str) -> tuple[np.ndarray, np.ndarray]:
    codes = token_codes(tracks, token)
    if len(codes):
        codes = np.unique(codes, return_inverse=True)[1].reshape(-1).astype(np.int64)
    return codes, np.asarray(tracks.offsets, dtype=np.int64)


# -------------------------------------------------------------- public API
def mutual_information(
    tracks: TrackSet,
    distances: np.ndarray | list[int],
    *,
    token: str = "pitch",
    estimator: str = "grassberger",
) -> np.ndarray:
    """``I(d)`` in bits for each distance (events), pooled over positions and tracks.

    ``d = 0`` gives the entropy of the token stream. A distance with no pair
    (longer than every track) gives NaN.
    """
    if estimator not in ESTIMATORS:
        raise ValueError(f"unknown estimator {estimator!r}; choose one of {ESTIMATORS}")
    codes, offsets = _compact(tracks, token)
    table = _grassberger_table(max(len(codes), 1))
    ones = np.ones((1, len(tracks)))
    return np.array(
        [
            _mi_at(codes, offsets, int(d), ones, (estimator,), table)[estimator][0] / LN2
            for d in distances
        ]
    )


def bootstrap_weights(n: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """``(1 + n_boot, n)`` track weights: all ones (the set itself), then ``n_boot`` sets
    of ``n`` tracks drawn with replacement (multinomial counts)."""
    if n == 0:
        return np.ones((1 + n_boot, 0))
    return np.vstack([np.ones(n), rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot)])


def mi_rows(
    tracks: TrackSet,
    distances: np.ndarray | list[int],
    weights: np.ndarray,
    *,
    token: str = "pitch",
    estimator: str = "grassberger",
) -> np.ndarray:
    """``I(d)`` in bits, ``(n_rows, len(distances))``: one row per row of integer track
    weights ``(n_rows, n_tracks)`` (e.g. :func:`bootstrap_weights`), every distance with
    at least one pair (no ``min_pairs`` cut: the caller decides which distances count)."""
    if estimator not in ESTIMATORS:
        raise ValueError(f"unknown estimator {estimator!r}; choose one of {ESTIMATORS}")
    weights = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    if weights.shape[1] != len(tracks):
        raise ValueError(f"weights have {weights.shape[1]} columns for {len(tracks)} tracks")
    out = np.full((len(weights), len(distances)), np.nan)
    if len(tracks) == 0:
        return out
    codes, offsets = _compact(tracks, token)
    table = _grassberger_table(2 * max(len(codes), 1))  # extended on demand
    for j, d in enumerate(distances):
        out[:, j] = _mi_at(codes, offsets, int(d), weights, (estimator,), table)[estimator] / LN2
    return out


def shuffled(tracks: TrackSet, *, seed: int = 0, within: str = "corpus") -> TrackSet:
    """The same tracks with their events permuted: a set whose true ``I(d)`` is 0.

    ``within="corpus"`` permutes all events across tracks (the estimator's noise
    floor); ``"track"`` permutes inside each track, which keeps what the tracks
    share as a whole (key, register), the long-distance limit of ``I(d)``.
    """
    rng = np.random.default_rng(seed)
    if within == "corpus":
        order = rng.permutation(len(tracks.events))
    elif within == "track":
        track = np.repeat(np.arange(len(tracks)), tracks.lengths)
        order = np.lexsort((rng.random(len(tracks.events)), track))
    else:
        raise ValueError(f"unknown shuffle {within!r}; use 'corpus' or 'track'")
    return TrackSet(
        events=tracks.events[order],
        offsets=tracks.offsets,
        style=tracks.style,
        styles=tracks.styles,
        unit_seconds=tracks.unit_seconds,
        split=tracks.split,
        ids=tracks.ids,
        latent=tracks.latent,
        meta=dict(tracks.meta),
    )


CURVE_COLUMNS = ("distance", "n_pairs", "mi_bits", "lo", "hi", "mi_plugin_bits", "noise_floor")


def mi_curve(tracks: TrackSet, cfg: MIConfig, *, seed: int = 0) -> pd.DataFrame:
    """``I(d)`` (bits) at log-spaced distances with a bootstrap band and noise floor.

    Columns: ``distance`` (events), ``n_pairs``, ``mi_bits`` (``cfg.estimator``),
    ``lo``/``hi`` (central ``cfg.band`` of the estimates on ``cfg.n_bootstrap``
    sets of tracks resampled with replacement, shifted so that their median is
    ``mi_bits``), ``mi_plugin_bits`` (plug-in estimate for comparison) and
    ``noise_floor`` (the same estimator on shuffled tracks, see :func:`shuffled`). Distances with fewer than ``cfg.min_pairs`` pairs or
    sets with fewer than two tracks are kept as rows of NaN, so curves of
    different sets share one distance axis.
    """
    distances = log_distances(cfg.max_distance, cfg.n_distances)
    pairs = n_pairs(tracks.lengths, distances)
    df = pd.DataFrame({"distance": distances, "n_pairs": pairs})
    for col in CURVE_COLUMNS[2:]:
        df[col] = np.nan
    if len(tracks) < 2:
        return df
    rng = np.random.default_rng(seed)
    codes, offsets = _compact(tracks, cfg.token)
    n = len(tracks)
    weights = np.vstack([np.ones(n), rng.multinomial(n, np.full(n, 1.0 / n), size=cfg.n_bootstrap)])
    table = _grassberger_table(2 * len(codes))  # bootstrap counts can exceed N a little
    noise_codes, _ = _compact(
        shuffled(tracks, seed=int(rng.integers(2**31)), within=cfg.shuffle), cfg.token
    )
    alpha = (1.0 - cfg.band) / 2
    estimators = tuple(dict.fromkeys((cfg.estimator, "plugin")))
    for i, d in enumerate(distances):
        if pairs[i] < cfg.min_pairs:
            continue
        res = _mi_at(codes, offsets, int(d), weights, estimators, table)
        main = res[cfg.estimator] / LN2
        df.loc[i, "mi_bits"] = main[0]
        if cfg.n_bootstrap > 0:
            # Resampled tracks repeat, which inflates the MI estimate: the band is the
            # bootstrap spread, shifted so that its median sits on the estimate.
            q_lo, q_mid, q_hi = np.nanquantile(main[1:], [alpha, 0.5, 1 - alpha])
            df.loc[i, ["lo", "hi"]] = main[0] - (q_mid - q_lo), main[0] + (q_hi - q_mid)
        df.loc[i, "mi_plugin_bits"] = res["plugin"][0] / LN2
        noise = _mi_at(noise_codes, offsets, int(d), weights[:1], (cfg.estimator,), table)
        df.loc[i, "noise_floor"] = noise[cfg.estimator][0] / LN2
    return df


# -------------------------------------------------------------------- fits
def significant(curve: pd.DataFrame) -> np.ndarray:
    """Rows whose estimate rises above the noise floor: ``I > 0`` and, where known,
    the lower band edge ``lo`` (else ``I``) above ``noise_floor``."""
    mi = curve["mi_bits"].to_numpy(dtype=np.float64)
    ok = np.isfinite(mi) & (mi > 0)
    if "noise_floor" in curve:
        floor = curve["noise_floor"].to_numpy(dtype=np.float64)
        low = curve["lo"].to_numpy(dtype=np.float64) if "lo" in curve else mi
        low = np.where(np.isfinite(low), low, mi)
        ok &= ~(np.isfinite(floor) & (low <= floor))
    return ok


def fit_decay(curve: pd.DataFrame, *, min_points: int = 3) -> dict[str, float | str | int]:
    """Fit ``I = A d^-alpha`` and ``I = B exp(-d / xi)`` to one curve and compare them.

    Both are straight-line least-squares fits of ``ln I`` (against ``ln d`` and
    against ``d``) on the :func:`significant` points (above the noise floor).
    With Gaussian errors in ``ln I`` both have ``AIC = n ln(RSS / n) + 2k`` with
    ``k = 3`` (two coefficients and the error variance); the lower AIC wins. Returns ``alpha`` (power-law exponent),
    ``xi`` (decay length, events), ``aic_power``, ``aic_exp``, ``delta_aic``
    (``aic_exp - aic_power``; positive favours the power law), ``n_points``,
    ``d_max`` (the longest distance used) and ``better`` (``power_law``,
    ``exponential`` or ``n/a`` when fewer than ``min_points`` usable points).
    """
    d = curve["distance"].to_numpy(dtype=np.float64)
    mi = curve["mi_bits"].to_numpy(dtype=np.float64)
    ok = significant(curve)
    out: dict[str, float | str | int] = {
        "alpha": np.nan,
        "xi": np.nan,
        "aic_power": np.nan,
        "aic_exp": np.nan,
        "delta_aic": np.nan,
        "n_points": int(ok.sum()),
        "d_max": float(d[ok].max()) if ok.any() else np.nan,
        "better": "n/a",
    }
    if ok.sum() < min_points:
        return out
    y = np.log(mi[ok])
    aic = {}
    for name, x in (("power", np.log(d[ok])), ("exp", d[ok])):
        coef, rss = _line(x, y)
        aic[name] = len(y) * np.log(max(rss, 1e-300) / len(y)) + 2 * 3
        if name == "power":
            out["alpha"] = -coef[0]
        else:
            out["xi"] = -1.0 / coef[0] if coef[0] != 0 else np.inf
    out["aic_power"], out["aic_exp"] = aic["power"], aic["exp"]
    out["delta_aic"] = aic["exp"] - aic["power"]
    out["better"] = "power_law" if aic["power"] < aic["exp"] else "exponential"
    return out


def _line(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """Least-squares slope and intercept of ``y`` on ``x``, and the residual sum of squares."""
    a = np.vstack([x, np.ones_like(x)]).T
    coef, *_ = np.linalg.lstsq(a, y, rcond=None)
    return coef, float(((a @ coef - y) ** 2).sum())


def fit_table(
    curves: dict[str, pd.DataFrame], n_tracks: dict[str, int] | None = None
) -> pd.DataFrame:
    """One row of :func:`fit_decay` per named curve (``name``, ``n_tracks``, fit columns)."""
    rows = []
    for name, curve in curves.items():
        row = {"curve": name}
        if n_tracks is not None:
            row["n_tracks"] = n_tracks.get(name, np.nan)
        row.update(fit_decay(curve))
        rows.append(row)
    return pd.DataFrame(rows)
