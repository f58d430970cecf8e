"""Fig. 6: which sets are compared, the fresh melodies they are measured on, and the
paper's five observations, each a difference between curves with a 95 % interval.

The sets are named ``<source>/<style>[/filtered]``: ``real/bach``, ``vrash/bach``,
``vrash/bach/filtered`` (the generated melodies the stream's filter accepts),
``lm/bach``, and the same for the second style.

How the comparison is made (issue 11's method fixes):

- **Fresh, long melodies.** The generated sets are sampled for Fig. 6 alone
  (:func:`vrashlib.analysis.seeds.sample_runs`), so the filter that makes the
  "filtered" sets never saw them (out of sample), with the end marker held back
  for ``mi.min_len`` events so that curves reach ``d >= 200``.
- **Key-invariant token, within-track reference.** Pitch is absolute and each
  track has its own key, so pooled over tracks the MI of absolute pitch at long
  distances is a plateau that says how firmly each track stays in one key. Each
  curve here is the *excess* MI: ``I(d)`` minus the same estimate on the same
  tracks shuffled within each track (which keeps every track's pitch
  distribution and destroys its order), for the key-invariant token
  ``mi.key_token`` (pitch relative to the track's tonic) beside the paper's
  absolute pitch.
- **Differences with intervals.** Every observation is a statistic of one or two
  excess curves on the distances both can estimate (at least ``mi.min_pairs``
  pairs): the *tail* (mean excess MI at ``d >= mi.tail_from``), the *decay
  ratio* (tail over the excess at the shortest distance) and the *gap* (mean
  absolute difference between two curves over log-distance, the area between
  them). Its interval comes from :class:`vrashlib.analysis.uncertainty.Draws`:
  tracks resampled within each training seed's pooled sets, and training seeds
  resampled; each seed run alone gives one per-seed value.
"""

from __future__ import annotations

import contextlib
import dataclasses
import warnings
from typing import Any

import numpy as np
import pandas as pd

from vrashlib.analysis import claims, mi
from vrashlib.analysis.seeds import Run, concat
from vrashlib.analysis.uncertainty import Draws, Estimate
from vrashlib.config import MIConfig
from vrashlib.data.tracks import TrackSet


def curve_name(source: str, style: str, *, filtered: bool = False) -> str:
    """The name of one compared set, e.g. ``vrash/bach/filtered``."""
    return f"{source}/{style}" + ("/filtered" if filtered else "")


def generated_sets(
    vrash: dict[str, TrackSet], lm: dict[str, TrackSet], filt: Any, styles: tuple[str, ...]
) -> dict[str, TrackSet]:
    """Per style: VRASH before and after ``filt``, and the LM (``vrash``/``lm``: style ->
    melodies). ``filt`` is anything with ``accept(tracks) -> bool array``; a filtered
    set may be empty when the filter rejects every melody."""
    sets = {}
    for style in styles:
        before = vrash[style]
        sets[curve_name("vrash", style)] = before
        sets[curve_name("vrash", style, filtered=True)] = before.subset(
            np.flatnonzero(filt.accept(before))
        )
        sets[curve_name("lm", style)] = lm[style]
    return sets


def fig6_sets(
    real: TrackSet, vrash: TrackSet, lm: TrackSet, filt: Any, styles: tuple[str, str]
) -> dict[str, TrackSet]:
    """Every real style, and per compared style: VRASH before and after ``filt``, the LM."""
    sets = {curve_name("real", s): real.select(style=s) for s in real.styles}
    by_style = {s: vrash.select(style=s) for s in styles}
    sets.update(generated_sets(by_style, {s: lm.select(style=s) for s in styles}, filt, styles))
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


def run_sets(
    samples: dict[Run, dict[str, dict[str, TrackSet]]], filters: dict[int, Any], styles
) -> dict[Run, dict[str, TrackSet]]:
    """The generated Fig. 6 sets of every seed run, each filtered by its training seed's
    filter (``samples`` from :func:`vrashlib.analysis.seeds.sample_runs` with ``vrash``
    and ``lm``)."""
    return {
        run: generated_sets(by_kind["vrash"], by_kind["lm"], filters[run[0]], styles)
        for run, by_kind in samples.items()
    }


def pooled(runs: dict[Run, dict[str, TrackSet]], seed: int) -> dict[str, TrackSet]:
    """The sets of one training seed with its generation seeds pooled."""
    keys = [r for r in runs if r[0] == seed]
    return {name: concat([runs[r][name] for r in keys]) for name in runs[keys[0]]}


# --------------------------------------------------------------- excess curves
@dataclasses.dataclass(frozen=True)
class CurveDraws:
    """Excess MI (bits above the within-track shuffle floor) of one named set.

    ``usable``: distances with at least ``min_pairs`` pairs in every training seed's
    pooled set; ``full`` ``(T, D)``, ``reps`` ``(T, B, D)`` (bootstrap over tracks,
    centred on ``full`` as :func:`vrashlib.analysis.mi.mi_curve` centres its band),
    ``runs`` ``(R, D)`` (each seed run alone).
    """

    distance: np.ndarray
    usable: np.ndarray
    full: np.ndarray
    reps: np.ndarray
    runs: np.ndarray
    n_tracks: int


def excess_rows(
    tracks: TrackSet,
    distances: np.ndarray,
    weights: np.ndarray,
    cfg: MIConfig,
    token: str,
    seed: int,
) -> np.ndarray:
    """``I(d)`` minus the same estimate on ``tracks`` shuffled (``cfg.shuffle``), in bits,
    one row per row of track ``weights`` (the same weights for both)."""
    if len(tracks) < 2:
        return np.full((len(weights), len(distances)), np.nan)
    raw = mi.mi_rows(tracks, distances, weights, token=token, estimator=cfg.estimator)
    noise = mi.shuffled(tracks, seed=seed, within=cfg.shuffle)
    return raw - mi.mi_rows(noise, distances, weights, token=token, estimator=cfg.estimator)


@contextlib.contextmanager
def _quiet():
    """Silence numpy's "All-NaN slice" / "Mean of empty slice" warnings (an empty
    filtered set, or a distance no curve reaches, is a result, not an error)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def _excess_task(task: tuple) -> np.ndarray:
    """:func:`excess_rows` of one ``(tracks, distances, weights, cfg, token, seed)``."""
    return excess_rows(*task)


def _centred(tracks: TrackSet, rows: np.ndarray, distances: np.ndarray, cfg: MIConfig):
    """(full (D,), centred reps (B, D), usable (D,)) of one set from its excess rows."""
    full, reps = rows[0], rows[1:]
    with _quiet():
        reps = reps - np.nanmedian(reps, axis=0) + full
    usable = (mi.n_pairs(tracks.lengths, distances) >= cfg.min_pairs) & (len(tracks) >= 2)
    return full, reps, usable


def curve_draws(
    runs: dict[Run, dict[str, TrackSet]],
    real: dict[str, TrackSet],
    cfg: MIConfig,
    *,
    token: str,
    seed: int = 0,
) -> dict[str, CurveDraws]:
    """:class:`CurveDraws` of every set: the generated ones of ``runs`` (seed run ->
    name -> tracks) and the ``real`` ones (the same for every seed).

    The random draws (bootstrap weights, shuffle seeds) are made first, in one fixed
    order from ``seed``; then every set's excess rows are estimated, ``cfg.threads``
    at once (:func:`vrashlib.threads.fork_map`), so the result does not depend on
    ``cfg.threads``."""
    from vrashlib.threads import fork_map

    distances = mi.log_distances(cfg.max_distance, cfg.n_distances)
    rng = np.random.default_rng(seed)
    order = sorted(runs)
    t_seeds = sorted({t for t, _ in order})
    tasks: list[tuple] = []

    def task(tracks: TrackSet, weights: np.ndarray) -> int:
        tasks.append((tracks, distances, weights, cfg, token, int(rng.integers(2**31))))
        return len(tasks) - 1

    def bootstrapped(tracks: TrackSet) -> int:
        return task(tracks, mi.bootstrap_weights(len(tracks), cfg.n_bootstrap, rng))

    real_tasks = {name: bootstrapped(tracks) for name, tracks in real.items()}
    gen_tasks = {}
    for name in runs[order[0]]:
        pools = [concat([runs[r][name] for r in order if r[0] == t]) for t in t_seeds]
        seed_tasks = [bootstrapped(pool) for pool in pools]
        run_tasks = [task(runs[r][name], np.ones((1, len(runs[r][name])))) for r in order]
        gen_tasks[name] = (pools, seed_tasks, run_tasks)
    rows = fork_map(_excess_task, tasks, cfg.threads)

    out: dict[str, CurveDraws] = {}
    for name, i in real_tasks.items():
        full, reps, usable = _centred(real[name], rows[i], distances, cfg)
        out[name] = CurveDraws(
            distances,
            usable,
            np.tile(full, (len(t_seeds), 1)),
            np.tile(reps, (len(t_seeds), 1, 1)),
            np.tile(full, (len(order), 1)),
            len(real[name]),
        )
    for name, (pools, seed_tasks, run_tasks) in gen_tasks.items():
        parts = [
            _centred(p, rows[i], distances, cfg) for p, i in zip(pools, seed_tasks, strict=True)
        ]
        usable = np.logical_and.reduce([ok for _, _, ok in parts])
        out[name] = CurveDraws(
            distances,
            usable,
            np.array([full for full, _, _ in parts]),
            np.array([reps for _, reps, _ in parts]),
            np.array([rows[i][0] for i in run_tasks]),
            sum(len(p) for p in pools),
        )
    return out


# ------------------------------------------------------------------ statistics
def _tail(e: np.ndarray, d: np.ndarray, mask: np.ndarray, tail_from: int) -> np.ndarray:
    sel = mask & (d >= tail_from)
    with _quiet():
        return np.nanmean(e[..., sel], axis=-1) if sel.any() else np.full(e.shape[:-1], np.nan)


def _decay(e: np.ndarray, d: np.ndarray, mask: np.ndarray, tail_from: int) -> np.ndarray:
    if not mask.any():
        return np.full(e.shape[:-1], np.nan)
    first = e[..., int(np.flatnonzero(mask)[0])]
    with np.errstate(invalid="ignore", divide="ignore"):
        return _tail(e, d, mask, tail_from) / first


def _gap(a: np.ndarray, b: np.ndarray, d: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean |a - b| over log-distance on ``mask`` (trapezoids; one point: that point)."""
    if not mask.any():
        return np.full(np.broadcast_shapes(a.shape, b.shape)[:-1], np.nan)
    diff = np.abs(a[..., mask] - b[..., mask])
    x = np.log10(d[mask].astype(np.float64))
    if len(x) == 1:
        return diff[..., 0]
    return np.trapezoid(diff, x, axis=-1) / (x[-1] - x[0])


def _draws(f, *curves: CurveDraws, n_units: int, unit: str, seeds: str) -> Draws:
    """A statistic ``f`` of one or more curves, as :class:`Draws`."""
    return Draws(
        f(*(c.full for c in curves)),
        f(*(c.reps for c in curves)),
        f(*(c.runs for c in curves)),
        n_units,
        seeds,
        unit,
        "tracks",
    )


def observation_draws(
    curves: dict[str, CurveDraws], first: str, second: str, tail_from: int, seeds: str = ""
) -> dict[str, Draws]:
    """The statistics behind the five Fig. 6 claims of
    :data:`vrashlib.analysis.claims.CLAIMS`, named as their checks name them."""
    vf, vff = curve_name("vrash", first), curve_name("vrash", first, filtered=True)
    rf, lmf = curve_name("real", first), curve_name("lm", first)
    vs, vsf = curve_name("vrash", second), curve_name("vrash", second, filtered=True)
    rs = curve_name("real", second)
    d = next(iter(curves.values())).distance

    def mask(*names: str) -> np.ndarray:
        return np.logical_and.reduce([curves[n].usable for n in names])

    def stat_diff(stat, unit: str, a: str, b: str) -> Draws:
        """``stat`` (the tail MI or the decay ratio) of curve a minus that of curve b."""
        m = mask(a, b)
        return _draws(
            lambda x, y: stat(x, d, m, tail_from) - stat(y, d, m, tail_from),
            curves[a], curves[b], n_units=curves[a].n_tracks + curves[b].n_tracks,
            unit=unit, seeds=seeds,
        )  # fmt: skip

    def tail_diff(a: str, b: str) -> Draws:
        return stat_diff(_tail, "bits", a, b)

    def decay_diff(a: str, b: str) -> Draws:
        return stat_diff(_decay, "", a, b)

    def gap_diff(a: str, ra: str, b: str, rb: str) -> Draws:
        ma, mb = mask(a, ra), mask(b, rb)
        return _draws(
            lambda x, rx, y, ry: _gap(x, rx, d, ma) - _gap(y, ry, d, mb),
            curves[a], curves[ra], curves[b], curves[rb],
            n_units=sum(curves[n].n_tracks for n in (a, ra, b, rb)), unit="bits", seeds=seeds,
        )  # fmt: skip

    return {
        "fig6.first_filtered_minus_real_tail": tail_diff(vff, rf),
        "fig6.second_gap_minus.vrash_first": gap_diff(vs, rs, vf, rf),
        "fig6.second_gap_minus.vrash_first_filtered": gap_diff(vs, rs, vff, rf),
        "fig6.second_gap_minus.lm_first": gap_diff(vs, rs, lmf, rf),
        "fig6.second_decay_minus_real": decay_diff(vs, rs),
        "fig6.second_filtered_decay_change": decay_diff(vsf, vs),
        "fig6.lm_decay_minus_vrash": decay_diff(lmf, vf),
    }


def measure(
    runs: dict[Run, dict[str, TrackSet]],
    real: dict[str, TrackSet],
    cfg: MIConfig,
    first: str,
    second: str,
    *,
    tokens: tuple[str, ...],
    seeds: str = "",
    n_boot: int | None = None,
) -> tuple[dict[str, dict[str, Estimate]], dict[str, dict[str, CurveDraws]]]:
    """The Fig. 6 observations' estimates and the excess curves behind them, per token:
    ``({token: {measurement: Estimate}}, {token: {set: CurveDraws}})``."""
    refs = {
        k: v
        for k, v in real.items()
        if k in (curve_name("real", first), curve_name("real", second))
    }
    estimates, curves = {}, {}
    for token in tokens:
        curves[token] = curve_draws(runs, refs, cfg, token=token, seed=cfg.seed)
        draws = observation_draws(curves[token], first, second, cfg.tail_from, seeds)
        estimates[token] = {k: d.estimate(seed=cfg.seed, n_boot=n_boot) for k, d in draws.items()}
    return estimates, curves


def mi_curves(
    sets: dict[str, TrackSet], cfg: MIConfig, tokens: tuple[str, ...]
) -> dict[str, dict[str, pd.DataFrame]]:
    """:func:`vrashlib.analysis.mi.mi_curve` of every set for every token, ``cfg.threads``
    sets at once (each curve is seeded with ``cfg.seed`` alone)."""
    from vrashlib.threads import fork_map

    keys = [(token, name) for token in tokens for name in sets]
    curves = fork_map(
        _curve_task,
        [(sets[name], dataclasses.replace(cfg, token=token)) for token, name in keys],
        cfg.threads,
    )
    out: dict[str, dict[str, pd.DataFrame]] = {token: {} for token in tokens}
    for (token, name), curve in zip(keys, curves, strict=True):
        out[token][name] = curve
    return out


def _curve_task(task: tuple[TrackSet, MIConfig]) -> pd.DataFrame:
    tracks, cfg = task
    return mi.mi_curve(tracks, cfg, seed=cfg.seed)


def acceptance(runs: dict[Run, dict[str, TrackSet]], styles: tuple[str, ...]) -> pd.DataFrame:
    """Per training seed and style: fresh VRASH melodies and the share the filter accepts."""
    rows = []
    for t in sorted({r[0] for r in runs}):
        for style in styles:
            keys = [r for r in runs if r[0] == t]
            n = sum(len(runs[r][curve_name("vrash", style)]) for r in keys)
            kept = sum(len(runs[r][curve_name("vrash", style, filtered=True)]) for r in keys)
            rows.append(
                {"training_seed": t, "style": style, "melodies": n, "accepted": kept,
                 "accepted_share": kept / n if n else np.nan}
            )  # fmt: skip
    return pd.DataFrame(rows)


FIG6_CLAIMS = tuple(c for c in claims.CLAIMS if c.key.startswith("fig6_"))


def observations_table(estimates: dict[str, dict[str, Estimate]]) -> pd.DataFrame:
    """The five Fig. 6 claims judged per token (``estimates``: token -> measurements):
    one row per claim and token with the measurements, verdict and robustness."""
    rows = []
    for token, est in estimates.items():
        for claim in FIG6_CLAIMS:
            row = claims.judge(claim, est)
            rows.append(
                {
                    "observation": claim.words,
                    "token": token,
                    "measurement": row["measurement"],
                    "verdict": row["verdict"],
                    "robust_across_seeds": row["robust_across_seeds"],
                }
            )
    return pd.DataFrame(rows)


def excess_frame(curves: dict[str, CurveDraws], token: str) -> pd.DataFrame:
    """Long form of the excess curves of the run's own training seed (the first):
    ``curve, token, distance, usable, excess_bits, lo, hi`` (95 % bootstrap band)."""
    rows = []
    for name, c in curves.items():
        with _quiet():
            lo, hi = np.nanquantile(c.reps[0], [0.025, 0.975], axis=0)
        rows.append(
            pd.DataFrame(
                {
                    "curve": name,
                    "token": token,
                    "distance": c.distance,
                    "usable": c.usable,
                    "excess_bits": c.full[0],
                    "lo": lo,
                    "hi": hi,
                }
            )
        )
    return pd.concat(rows, ignore_index=True)
