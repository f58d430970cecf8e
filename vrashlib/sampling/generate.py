"""Sample melodies from LM / VAE / VRASH (``vrash generate`` is in :mod:`vrashlib.cli`).

:func:`sample` draws melodies of one style (batched, seeded, with optional z and
temperature), :func:`interpolate` walks a line in latent space, :func:`encode`
gives posterior means of real tracks. The step loop itself, and the two decoders
(numpy for the one-melody live stream, torch for batches), are in
:mod:`vrashlib.sampling.sampler`. Also here: the statistics of generated melodies that
notebook 03 compares with the corpus (repeated notes, distributions, lengths).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from vrashlib.data.encoding import DUR_NONE, DUR_VOCAB, N_PITCH_CLASSES, PC_VOCAB
from vrashlib.data.tracks import TrackSet
from vrashlib.models.diagnostics import slerp
from vrashlib.models.module import MelodyModule
from vrashlib.sampling.sampler import export_sampler
from vrashlib.sampling.workers import Job, run_jobs


def _style_index(module: MelodyModule, style: str) -> int:
    if style not in module.styles:
        raise KeyError(
            f"style {style!r} unknown to this {module.kind} model; it knows {module.styles}"
        )
    return module.styles.index(style)


@dataclass(frozen=True)
class Request:
    """What :func:`sample` takes, as one value: ``n`` melodies of ``style`` from ``model``
    (see :func:`sample` for the settings)."""

    model: MelodyModule
    n: int
    style: str
    max_len: int
    temperature: float = 1.0
    seed: int = 0
    z: torch.Tensor | np.ndarray | None = None
    batch_size: int = 64
    shared_noise: bool = False
    min_len: int = 1


def sample(
    model: MelodyModule,
    n: int,
    style: str,
    *,
    max_len: int,
    temperature: float = 1.0,
    seed: int = 0,
    z: torch.Tensor | np.ndarray | None = None,
    batch_size: int = 64,
    shared_noise: bool = False,
    threads: int = 1,
    min_len: int = 1,
) -> TrackSet:
    """``n`` melodies of ``style`` (at most ``max_len`` events each), as a TrackSet.

    VAE/VRASH draw ``z ~ N(0, I)`` unless ``z`` (``(n, z_dim)`` or ``(z_dim,)``) is
    given, and store it in ``latent``; an LM takes no ``z``. Deterministic for a
    given ``seed`` and ``batch_size`` (each batch has its own random stream).
    ``shared_noise``: every melody of a batch uses the same random numbers (so
    melodies differ only through z). ``threads``: batches sampled at once, one
    thread each; the melodies do not depend on it. ``min_len``: no end marker before
    this many events (long melodies for Fig. 6's mutual information).
    """
    request = Request(
        model, n, style, max_len, temperature, seed, z, batch_size, shared_noise, min_len
    )
    return sample_many([request], threads=threads)[0]


def sample_many(requests: list[Request], *, threads: int = 1) -> list[TrackSet]:
    """:func:`sample` for each request, the batches of all of them ``threads`` at once:
    many small requests (one batch each) keep every core busy, where one :func:`sample`
    call after another would use one core. Each request's melodies are the ones
    :func:`sample` gives it alone."""
    samplers: dict[int, int] = {}  # id(model) -> index into exported
    exported: list[dict] = []
    jobs: list[Job] = []
    spans: list[tuple[int, int, int, np.ndarray | None]] = []  # jobs, style index, codes
    for r in requests:
        if r.n < 1 or r.max_len < 1 or r.temperature <= 0:
            raise ValueError(
                f"need n >= 1, max_len >= 1, temperature > 0; got n={r.n} "
                f"max_len={r.max_len} temperature={r.temperature}"
            )
        s_idx = _style_index(r.model, r.style)
        z = _codes(r.model, r.n, r.z, r.seed)
        if id(r.model) not in samplers:
            samplers[id(r.model)] = len(exported)
            exported.append(export_sampler(r.model))
        first = len(jobs)
        for b, start in enumerate(range(0, r.n, r.batch_size)):
            stop = min(start + r.batch_size, r.n)
            jobs.append(
                Job(
                    samplers[id(r.model)],
                    s_idx,
                    stop - start,
                    None if z is None else z[start:stop],
                    np.random.default_rng([r.seed, b]),
                    r.max_len,
                    r.temperature,
                    r.shared_noise,
                    r.min_len,
                )
            )
        spans.append((first, len(jobs), s_idx, z))
    parts = run_jobs(exported, jobs, threads=threads)
    return [
        _trackset(r, [m for part in parts[a:b] for m in part], s_idx, z)
        for r, (a, b, s_idx, z) in zip(requests, spans, strict=True)
    ]


def _codes(model: MelodyModule, n: int, z, seed: int) -> np.ndarray | None:
    """The ``(n, z_dim)`` float32 codes of a request: ``z`` as given (one row for all, or
    one per melody) or drawn from the prior with ``seed``; None for an LM."""
    z_dim = model.net.z_dim
    if model.net.latent:
        if z is None:
            z = np.random.default_rng(seed).standard_normal((n, z_dim)).astype(np.float32)
        z = np.asarray(z.detach().cpu() if isinstance(z, torch.Tensor) else z, np.float32)
        z = np.broadcast_to(z, (n, z_dim)) if z.ndim == 1 else z
        if z.shape != (n, z_dim):
            raise ValueError(f"z must have shape ({n}, {z_dim}), got {z.shape}")
        return z
    if z is not None:
        raise ValueError(f"a {model.kind} model has no latent code; pass z=None")
    return None


def _trackset(r: Request, melodies: list[np.ndarray], s_idx: int, z: np.ndarray | None) -> TrackSet:
    return TrackSet.from_tracks(
        melodies,
        r.model.styles,
        np.full(r.n, s_idx),
        unit_seconds=np.full(r.n, r.model.unit_seconds.get(r.style, 0.25)),
        ids=[f"{r.model.kind}/{r.style}/{i:04d}" for i in range(r.n)],
        latent=None if z is None else np.ascontiguousarray(z),
        meta={
            "model": r.model.kind,
            "temperature": r.temperature,
            "seed": r.seed,
            "max_len": r.max_len,
            "min_len": r.min_len,
        },  # fmt: skip
    )


def interpolate(
    model: MelodyModule,
    z0: torch.Tensor | np.ndarray,
    z1: torch.Tensor | np.ndarray,
    steps: int,
    style: str,
    *,
    max_len: int,
    temperature: float = 1.0,
    seed: int = 0,
    path: str = "line",
) -> TrackSet:
    """Melodies along the path from ``z0`` to ``z1`` (``steps`` points, ends included),
    all with the same sampling noise so that only z changes. ``path``: ``"line"``
    (straight) or ``"sphere"`` (spherical, :func:`vrashlib.models.diagnostics.slerp`:
    the midpoints keep a norm typical of the prior)."""
    if not model.net.latent:
        raise ValueError(f"a {model.kind} model has no latent space to interpolate in")
    if path not in ("line", "sphere"):
        raise ValueError(f"path must be 'line' or 'sphere', got {path!r}")
    z0, z1 = (
        np.asarray(v.detach().cpu() if isinstance(v, torch.Tensor) else v, np.float32)
        for v in (z0, z1)
    )
    if path == "sphere":
        z = slerp(z0, z1, steps).astype(np.float32)
    else:
        w = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
        z = (1 - w) * z0[None] + w * z1[None]
    return sample(
        model,
        steps,
        style,
        max_len=max_len,
        temperature=temperature,
        seed=seed,
        z=z,
        batch_size=steps,
        shared_noise=True,
    )


def encode(model: MelodyModule, tracks: TrackSet, batch_size: int = 64) -> np.ndarray:
    """Posterior means ``(n, z_dim)`` of real tracks (VAE/VRASH), in track order."""
    from vrashlib.data.datamodule import make_loader

    if not model.net.latent:
        raise ValueError(f"a {model.kind} model has no encoder")
    model.eval()
    out = np.zeros((len(tracks), model.net.z_dim), np.float32)
    loader = make_loader(tracks, batch_size, max_len=None, shuffle=False)
    with torch.inference_mode():
        for batch_idx, batch in zip(loader.batch_sampler, loader, strict=False):
            mu, _ = model.net.encode(batch["events"], batch["lengths"])
            out[[i for i, _ in batch_idx]] = mu.numpy()
    return out


def sample_styles(
    model: MelodyModule,
    styles: list[str] | tuple[str, ...],
    n_per_style: int,
    *,
    max_len: int,
    temperature: float = 1.0,
    seed: int = 0,
    batch_size: int = 64,
    threads: int = 1,
) -> TrackSet:
    """``n_per_style`` melodies for each style, in one TrackSet (ids ``kind/style/0007``)."""
    requests = [
        Request(
            model,
            n_per_style,
            style,
            max_len=max_len,
            temperature=temperature,
            seed=seed + 1000 * k,
            batch_size=batch_size,
        )
        for k, style in enumerate(styles)
    ]
    parts = sample_many(requests, threads=threads)
    latent = None if parts[0].latent is None else np.concatenate([p.latent for p in parts])
    return TrackSet.from_tracks(
        [ev for p in parts for ev in p],
        model.styles,
        np.concatenate([p.style for p in parts]),
        unit_seconds=np.concatenate([p.unit_seconds for p in parts]),
        ids=[i for p in parts for i in p.ids],
        latent=latent,
        meta={**parts[0].meta, "styles": list(styles), "n_per_style": n_per_style},
    )


def repeat_rate(tracks: TrackSet) -> float:
    """Share of consecutive note pairs (rests skipped over, not counted) with the
    same pitch: the paper's "tendency to repeat a certain note"."""
    same = pairs = 0
    for ev in tracks:
        notes = ev[ev[:, 0] < N_PITCH_CLASSES]
        if len(notes) > 1:
            pitch = notes[:, 0].astype(np.int32) + 12 * notes[:, 1]
            same += int((pitch[1:] == pitch[:-1]).sum())
            pairs += len(pitch) - 1
    return same / pairs if pairs else float("nan")


def _entropy_bits(counts: np.ndarray) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log2(p)).sum()) if len(p) else float("nan")


def melody_stats(tracks: TrackSet, *, max_len: int | None = None) -> dict[str, float]:
    """Summary of a set of melodies: repeat rate, lengths (events), rest share,
    pitch-class / duration entropy (bits), share cut at ``max_len`` (no end marker)."""
    ev = tracks.events
    pcs = np.bincount(ev[:, 0], minlength=PC_VOCAB)[: N_PITCH_CLASSES + 1]
    durs = np.bincount(ev[:, 2], minlength=DUR_VOCAB)
    out = {
        "n_tracks": len(tracks),
        "repeat_rate": repeat_rate(tracks),
        "median_length": float(np.median(tracks.lengths)) if len(tracks) else float("nan"),
        "mean_length": float(np.mean(tracks.lengths)) if len(tracks) else float("nan"),
        "rest_share": float(pcs[N_PITCH_CLASSES] / max(len(ev), 1)),
        "pc_entropy_bits": _entropy_bits(pcs[:N_PITCH_CLASSES]),
        "dur_entropy_bits": _entropy_bits(durs),
        "distinct_durations": int((durs > 0).sum()),
    }
    if max_len is not None:
        out["cut_at_max_len"] = float(np.mean(tracks.lengths >= max_len))
    return out


def stats_table(
    generated: dict[str, TrackSet],
    real: TrackSet,
    styles: list[str] | tuple[str, ...],
    max_len: int,
) -> pd.DataFrame:
    """One row per (model, style) plus the real corpus (test split if set) as reference."""
    rows = []
    for style in styles:
        rows.append({"model": "real", "style": style, **melody_stats(real.select(style=style))})
        for name, ts in generated.items():
            rows.append(
                {
                    "model": name,
                    "style": style,
                    **melody_stats(ts.select(style=style), max_len=max_len),
                }
            )
    return pd.DataFrame(rows)


def distributions(tracks: TrackSet) -> dict[str, np.ndarray]:
    """Normalised histograms: pitch class + rest (13), duration index, length (events)."""
    ev = tracks.events
    pcs = np.bincount(ev[:, 0], minlength=PC_VOCAB)[: N_PITCH_CLASSES + 1].astype(float)
    durs = np.bincount(ev[:, 2], minlength=DUR_VOCAB)[:DUR_NONE].astype(float)
    return {
        "pitch_class": pcs / max(pcs.sum(), 1),
        "duration": durs / max(durs.sum(), 1),
        "length": tracks.lengths.astype(float),
    }
