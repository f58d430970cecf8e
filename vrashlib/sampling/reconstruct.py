"""Decoding real melodies back from their codes: does z carry the melody? (notebook 02)

Beside the code's own statistics (:mod:`vrashlib.models.diagnostics`: KL, active
units, I_q, teacher-forced accuracy), two measurements need the sampler:

``recon_free_*``
    Free-running reconstruction accuracy (MusicVAE): greedy decoding (the most
    likely pitch class, then octave, then duration at every step, fed back),
    compared with the melody position by position over its first ``max_len``
    events, end marker included; an event past the decoded melody's end counts as
    wrong. From the posterior mean of the melody's own code (``posterior``) and
    from a code drawn from the prior (``prior``): the gap is what z carries. A
    model without z has only the ``prior`` value (decoded with no code at all).
``interpolation``
    Greedy decodings along the spherical path (slerp) between the posterior means
    of two real melodies. A decoder that uses z changes the melody step by step
    along the path (``interp_step_change``: the share of events changed per step;
    ``interp_rho``: how steadily the melody moves away from where it started); one
    that ignores z decodes the same melody everywhere.

:func:`diagnostics_table` puts every number in one table, one row per model.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from vrashlib.config import DiagnosticsConfig
from vrashlib.data.encoding import DUR, END_EVENT, N_PITCH_CLASSES, PC, midi_pitch, with_end
from vrashlib.data.tracks import TrackSet
from vrashlib.models.diagnostics import (
    IW_COLUMNS,
    code_diagnostics,
    importance_weighted_bound,
    posteriors,
    prior_codes,
    slerp,
    teacher_forced_accuracy,
)
from vrashlib.models.evaluation import align_styles
from vrashlib.models.module import MelodyModule
from vrashlib.sampling.sampler import TorchDecoder, export_sampler, sample_batch

logger = logging.getLogger(__name__)


# ------------------------------------------------------------ reconstruction
def greedy_decode(
    module: MelodyModule, style: np.ndarray, z: np.ndarray | None, max_len: int
) -> list[np.ndarray]:
    """Greedy decodings (end marker stripped, at most ``max_len`` events), one per row of
    ``style`` (style ids of the module) and ``z``, in order."""
    p = export_sampler(module)
    out: list[np.ndarray | None] = [None] * len(style)
    for s in np.unique(style):
        rows = np.flatnonzero(style == s)
        zs = None if z is None else np.ascontiguousarray(z[rows], np.float32)
        with torch.inference_mode():
            melodies = sample_batch(
                TorchDecoder(p, int(s), zs, len(rows)),
                max_len,
                1.0,
                np.random.default_rng(0),
                greedy=True,
            )
        for r, m in zip(rows, melodies, strict=True):
            out[r] = m
    return out  # type: ignore[return-value]


def event_agreement(decoded: np.ndarray, target: np.ndarray, max_len: int) -> tuple[int, int]:
    """``(correct, compared)``: events of ``target`` (end marker included, first
    ``max_len``) equal to the event at the same position of ``decoded`` (with its end
    marker); positions past the decoded melody's end count as wrong."""
    want = with_end(target)[:max_len]
    got = np.concatenate([decoded, END_EVENT[None]])[: len(want)]
    return int((got == want[: len(got)]).all(1).sum()), len(want)


def free_running_accuracy(
    module: MelodyModule, tracks: TrackSet, z: np.ndarray | None, max_len: int
) -> float:
    """Greedy decoding from code ``z`` (one row per track), compared with each track
    position by position (first ``max_len`` events): the share decoded correctly."""
    decoded = greedy_decode(module, tracks.style, z, max_len)
    correct = total = 0
    for dec, ev in zip(decoded, tracks, strict=True):
        c, t = event_agreement(dec, ev, max_len)
        correct, total = correct + c, total + t
    return correct / total


# ------------------------------------------------------------ interpolation
def melody_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Share of positions (over the longer melody) where two melodies' events differ."""
    n = max(len(a), len(b))
    if n == 0:
        return 0.0
    m = min(len(a), len(b))
    return 1.0 - float((a[:m] == b[:m]).all(1).sum()) / n


def interpolation_features(melodies: list[np.ndarray]) -> pd.DataFrame:
    """Per decoded melody along a path: length, mean pitch (MIDI), mean absolute
    interval (semitones), rest share, mean duration index, and the share of events
    that differ from the previous melody and from the path's start."""
    rows = []
    for k, ev in enumerate(melodies):
        note = ev[:, PC] < N_PITCH_CLASSES
        pitch = midi_pitch(ev[note]).astype(float)
        rows.append(
            {
                "position": k,
                "length": len(ev),
                "mean_pitch": pitch.mean() if len(pitch) else np.nan,
                "mean_interval": np.abs(np.diff(pitch)).mean() if len(pitch) > 1 else np.nan,
                "rest_share": 1.0 - note.mean() if len(ev) else np.nan,
                "mean_duration": ev[:, DUR].mean() if len(ev) else np.nan,
                "changed_from_previous": melody_distance(ev, melodies[k - 1]) if k else 0.0,
                "changed_from_start": melody_distance(ev, melodies[0]),
            }
        )
    return pd.DataFrame(rows)


def gradualness(features: pd.DataFrame) -> dict[str, float]:
    """Summary of a path: the mean share of events changed per step, and the Spearman
    correlation of path position with the change from the start (1 = the melody moves
    steadily away from where it started; NaN when nothing changes at all)."""
    step = float(features["changed_from_previous"].iloc[1:].mean())
    far = features["changed_from_start"]
    rho = float(features["position"].corr(far, method="spearman")) if far.std() > 0 else np.nan
    return {"interp_step_change": step, "interp_rho": rho}


@dataclass
class Interpolation:
    """Greedy decodings along a slerp path between two real melodies' codes."""

    kind: str
    ends: tuple[str, str]  # the two melodies' track ids
    style: str
    melodies: TrackSet  # the decodings, in path order
    features: pd.DataFrame  # :func:`interpolation_features`


def interpolation_pair(tracks: TrackSet, style: str, *, min_len: int = 32, seed: int = 0):
    """Two melodies of ``style`` with at least ``min_len`` events (seeded pick), from
    different pieces where it can (a track id's piece is the part before ``#``)."""
    names = tracks.style_names()
    pool = np.flatnonzero((names == style) & (tracks.lengths >= min_len))
    if len(pool) < 2:
        pool = np.flatnonzero(names == style)
    if len(pool) < 2:
        raise ValueError(f"need two melodies of style {style!r} to interpolate between")
    rng = np.random.default_rng(seed)
    first = int(rng.choice(pool))
    piece = str(tracks.ids[first]).split("#")[0]
    others = [i for i in pool if i != first and str(tracks.ids[i]).split("#")[0] != piece]
    rest = others or [i for i in pool if i != first]
    return first, int(rng.choice(rest))


def interpolate_melodies(
    module: MelodyModule, tracks: TrackSet, pair: tuple[int, int], *, steps: int, max_len: int
) -> Interpolation:
    """Decode greedily along the slerp path between the posterior means of tracks
    ``pair`` (the first one's style throughout)."""
    net = module.net
    tracks = align_styles(tracks, module.styles)
    ends = tracks.subset(list(pair))
    mu, _ = posteriors(net, ends)
    path = slerp(mu[0], mu[1], steps)
    style = np.full(steps, int(ends.style[0]))
    melodies = greedy_decode(module, style, path, max_len)
    ts = TrackSet.from_tracks(
        melodies,
        module.styles,
        style,
        unit_seconds=np.full(steps, float(ends.unit_seconds[0])),
        ids=[f"{module.kind}/interp/{k}" for k in range(steps)],
        latent=path.astype(np.float32),
    )
    return Interpolation(
        kind=module.kind,
        ends=(str(ends.ids[0]), str(ends.ids[1])),
        style=str(ends.style_names()[0]),
        melodies=ts,
        features=interpolation_features(melodies),
    )


# ------------------------------------------------------------ all at once
def recon_subset(tracks: TrackSet, n: int, seed: int = 0) -> TrackSet:
    """Up to ``n`` tracks (seeded pick, track order kept) for reconstruction accuracy."""
    if len(tracks) <= n:
        return tracks
    return tracks.subset(np.sort(np.random.default_rng(seed).choice(len(tracks), n, replace=False)))


def latent_diagnostics(
    module: MelodyModule, tracks: TrackSet, cfg: DiagnosticsConfig, *, style: str, name: str = ""
) -> tuple[dict[str, float], Interpolation | None]:
    """Every diagnostic of one model on ``tracks`` (bits, shares), and its interpolation
    between two melodies of ``style`` (None for a model without z).

    KL, active units and I_q use every track; reconstruction accuracy and the
    importance-weighted bound (``cfg.iw_samples`` codes per melody; for a model
    without z, its cross-entropy on the same melodies) use ``cfg.n_recon`` of them
    (seeded) and, free-running, their first ``cfg.recon_max_len`` events. A model
    without z gets only the ``prior`` accuracies (decoded with no code) and NaN
    elsewhere. ``name`` labels the log line (default: the model's kind).
    """
    row, interp = _measure(module, tracks, cfg, style)
    _log(name or module.kind, row)
    return row, interp


def _log(name: str, row: dict[str, float]) -> None:
    logger.info(
        "%s: KL %.1f bits/melody, %s active units, I_q %.2f bits, free-running accuracy "
        "%.3f (posterior) vs %.3f (prior)",
        name,
        row["kl_bits_per_melody"],
        row["active_units"],
        row["mi_bits"],
        row["recon_free_posterior"],
        row["recon_free_prior"],
    )


def _measure(
    module: MelodyModule, tracks: TrackSet, cfg: DiagnosticsConfig, style: str
) -> tuple[dict[str, float], Interpolation | None]:
    """:func:`latent_diagnostics` without its log line."""
    net = module.net
    tracks = align_styles(tracks, module.styles)
    sub = recon_subset(tracks, cfg.n_recon, cfg.seed)
    nan = float("nan")
    row: dict[str, float] = {"z_dim": float(net.z_dim), "n_melodies": float(len(tracks))}
    if cfg.iw_samples:
        row.update(importance_weighted_bound(net, sub, samples=cfg.iw_samples, seed=cfg.seed))
    else:
        row.update(dict.fromkeys(IW_COLUMNS, nan))
    interp = None
    if net.latent:
        row.update(
            code_diagnostics(
                net,
                tracks,
                active_threshold=cfg.active_threshold,
                mi_samples=cfg.mi_samples,
                seed=cfg.seed,
            )
        )
        z_post, _ = posteriors(net, sub)
        z_prior = prior_codes(len(sub), net.z_dim, cfg.seed)
        row["recon_tf_posterior"] = teacher_forced_accuracy(net, sub, z_post)
        row["recon_tf_prior"] = teacher_forced_accuracy(net, sub, z_prior)
        row["recon_free_posterior"] = free_running_accuracy(module, sub, z_post, cfg.recon_max_len)
        row["recon_free_prior"] = free_running_accuracy(module, sub, z_prior, cfg.recon_max_len)
        pair = interpolation_pair(tracks, style, seed=cfg.seed)
        interp = interpolate_melodies(
            module, tracks, pair, steps=cfg.interp_steps, max_len=cfg.recon_max_len
        )
        row.update(gradualness(interp.features))
    else:
        for key in ("kl_bits_per_melody", "free_bits_floor_bits", "active_units"):
            row[key] = nan
        for key in ("active_share", "mi_bits", "mi_max_bits", "recon_tf_posterior"):
            row[key] = nan
        row["recon_tf_prior"] = teacher_forced_accuracy(net, sub, None)
        row["recon_free_posterior"] = nan
        row["recon_free_prior"] = free_running_accuracy(module, sub, None, cfg.recon_max_len)
        row["interp_step_change"] = row["interp_rho"] = nan
    return row, interp


def diagnostics_table(
    models: dict[str, MelodyModule], tracks: TrackSet, cfg: DiagnosticsConfig, *, style: str
) -> tuple[pd.DataFrame, dict[str, Interpolation]]:
    """One row per model (:func:`latent_diagnostics`, ``model`` first), and the
    interpolation of each model with a latent code; ``cfg.threads`` models at once,
    one process and thread each (:func:`vrashlib.threads.fork_map`; the numbers do not
    depend on it)."""
    from vrashlib.threads import fork_map

    jobs = [(module, tracks, cfg, style) for module in models.values()]
    rows, paths = [], {}
    for name, (row, interp) in zip(models, fork_map(_measure_task, jobs, cfg.threads), strict=True):
        _log(name, row)
        rows.append({"model": name, **row})
        if interp is not None:
            paths[name] = interp
    return pd.DataFrame(rows), paths


def _measure_task(job: tuple) -> tuple[dict[str, float], Interpolation | None]:
    return _measure(*job)


# Fig. 4's table gains these diagnostics (free-running reconstruction accuracy).
FIG4_COLUMNS = {
    "active_units": "active_units",
    "mi_bits": "mi_bits",
    "recon_acc_posterior": "recon_free_posterior",
    "recon_acc_prior": "recon_free_prior",
}


def with_diagnostics(table: pd.DataFrame, diagnostics: pd.DataFrame) -> pd.DataFrame:
    """Fig. 4's table with :data:`FIG4_COLUMNS` from ``diagnostics`` (matched on ``model``;
    NaN for a model that has none)."""
    diag = diagnostics.set_index("model")
    out = table.copy()
    for col, src in FIG4_COLUMNS.items():
        out[col] = out["model"].map(diag[src]).astype(float)
    return out
