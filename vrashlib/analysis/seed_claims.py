"""The claims measured on every training seed's models and on fresh melodies (notebook 07).

- **Fig. 4** (:func:`fig4_measurements`): validation bits per event (the bound,
  cross-entropy + KL) of LM, VAE, VRASH and an untrained network of each training
  seed, track by track (:func:`per_track_bits`); the bootstrap resamples validation
  tracks, the same tracks for every model (a paired comparison), then training seeds.
- **Melodies** (:func:`sample_claim_sets`, :func:`melody_measurements`): every
  training seed samples ``claims.generation_seeds`` fresh sets of
  ``claims.n_per_seed`` melodies per model, style and temperature
  (:data:`vrashlib.analysis.claims.TEMPERATURES`). At the profile's temperature
  the automatic panel rates them (the share acceptable, against the held-out real
  melodies of the same styles); at every temperature the repeated-note measures
  of :mod:`vrashlib.analysis.repeats` are taken; and the similarity metrics of
  :mod:`vrashlib.analysis.similarity` compare each set with real melodies of its style.
- **The stream** (:func:`stream_measurement`): the filtered, de-duplicated stream of
  notebook 06 run for ``claims.stream_seeds`` seeds on one thread; music seconds
  per wall-clock second, bootstrapped over the stream's batches.
"""

from __future__ import annotations

import dataclasses
import logging
import time

import numpy as np
import pandas as pd

from vrashlib.analysis import repeats, similarity
from vrashlib.analysis.claims import TEMPERATURES
from vrashlib.analysis.seeds import Run, describe, sample_runs, with_training_seed
from vrashlib.analysis.uncertainty import (
    Draws,
    Estimate,
    draws_from_runs,
    draws_from_sets,
    resample,
)
from vrashlib.config import Config
from vrashlib.data.tracks import TrackSet
from vrashlib.threads import fork_map, torch_threads

logger = logging.getLogger(__name__)

KINDS = ("lm", "vae", "vrash")


# ------------------------------------------------------------------- Fig. 4
def per_track_bits(model, tracks: TrackSet, batch_size: int = 64, *, seed: int = 0):
    """Bits (the bound: cross-entropy + KL, end marker included) and events of each track,
    two ``(n,)`` arrays: :func:`vrashlib.models.evaluation.evaluate` track by track, with
    the same batches and the same posterior noise, so that ``bits.sum() / events.sum()``
    is its ``bound_total``. Runs on one torch thread: on a busy 2-core machine two
    threads were 12x slower (their OpenMP workers wait on each other)."""
    import torch
    import torch.nn.functional as F

    from vrashlib.data.datamodule import make_loader
    from vrashlib.models.evaluation import align_styles
    from vrashlib.models.network import HEADS, LN2, gaussian_kl, padding_mask

    net = model.net
    tracks = align_styles(tracks, model.styles)
    gen = torch.Generator().manual_seed(seed)
    bits, events = np.zeros(len(tracks)), np.zeros(len(tracks))
    was_training = net.training
    net.eval()
    loader = make_loader(tracks, batch_size, max_len=None, shuffle=False)
    with torch.inference_mode(), torch_threads(1):
        for idx, batch in zip(loader.batch_sampler, loader, strict=True):
            rows = [i for i, _ in idx]
            ev, lengths = batch["events"], batch["lengths"]
            eps = torch.randn(len(lengths), max(net.z_dim, 1), generator=gen)
            out = net(ev, lengths, batch["style"], eps=eps[:, : net.z_dim])
            mask = padding_mask(lengths, ev.shape[0])
            nats = torch.zeros(len(lengths), dtype=torch.float64)
            for i, name in enumerate(HEADS):
                ce = F.cross_entropy(
                    out[name].flatten(0, 1), ev[..., i].flatten(), reduction="none"
                )
                nats += (ce.view(mask.shape) * mask).sum(0).double()
            if "mu" in out:
                nats += gaussian_kl(out["mu"], out["logvar"]).sum(1).double()
            bits[rows] = nats.numpy() / LN2
            events[rows] = mask.sum(0).numpy()
    net.train(was_training)
    return bits, events


def fig4_measurements(
    models: dict[int, dict], tracks: TrackSet, cfg: Config
) -> tuple[dict[str, Estimate], pd.DataFrame]:
    """The Fig. 4 claims' numbers (``fig4.*``) and a table of each model's bits per event
    (``model, bound_bits, lo, hi, per_seed``), the untrained network included.

    The validation tracks are ``claims.val_tracks`` of the validation split (a seeded
    sample, the same for every model and seed; all when there are fewer). They are
    resampled with replacement, the same tracks for every model of a training seed
    (a paired comparison), then training seeds. ``claims.threads`` models are measured
    at once (:func:`vrashlib.threads.fork_map`; the numbers do not depend on it)."""
    from vrashlib.models.training import build_module

    val = tracks.select(split="val")
    if len(val) > cfg.claims.val_tracks:
        pick = np.random.default_rng(cfg.claims.seed).choice(
            len(val), cfg.claims.val_tracks, replace=False
        )
        val = val.subset(np.sort(pick))
    rng = np.random.default_rng(cfg.claims.seed)
    names = (*KINDS, "random")
    full = {k: [] for k in names}
    reps = {k: [] for k in names}
    nets, idx = {}, {}
    for t, by_kind in models.items():
        nets[t] = {
            **by_kind,
            "random": build_module("lm", tracks, with_training_seed(cfg, t)).eval(),
        }
        idx[t] = resample(len(val), cfg.claims.n_bootstrap, rng)  # the same tracks for all
    jobs = [(nets[t][k], val, cfg.generate.batch_size) for t in models for k in names]
    bits = iter(fork_map(_per_track_bits_task, jobs, cfg.claims.threads))
    for t in models:
        for k in names:
            b, e = next(bits)
            full[k].append(b.sum() / e.sum())
            reps[k].append(b[idx[t]].sum(1) / e[idx[t]].sum(1))
        logger.info("Fig. 4, training seed %d: %s", t, {k: round(full[k][-1], 4) for k in names})
    seeds = describe(models)
    d = {
        k: Draws(np.array(full[k]), np.vstack(reps[k]), np.array(full[k]), len(val), seeds,
                 "bits/event", "validation tracks")
        for k in names
    }  # fmt: skip
    best = d["lm"].combine(d["vrash"], np.minimum)
    draws = {
        "fig4.vrash_minus_lm": (d["vrash"] - d["lm"]).with_unit("bits/event"),
        "fig4.vae_minus_best": (d["vae"] - best).with_unit("bits/event"),
        "fig4.random_over_vae": (d["random"] / d["vae"]).with_unit("ratio"),
    }
    est = {
        k: dataclasses.replace(v, n_units=len(val)).estimate(seed=cfg.claims.seed)
        for k, v in draws.items()
    }
    table = pd.DataFrame(
        [{"model": k, **_cols(d[k].estimate(seed=cfg.claims.seed), "bound_bits")} for k in names]
    )
    return est, table


def _cols(e: Estimate, name: str) -> dict:
    return {
        name: e.value,
        f"{name}_lo": e.lo,
        f"{name}_hi": e.hi,
        f"{name}_per_seed": " ".join(f"{v:.4f}" for v in e.per_seed),
    }


# ----------------------------------------------------------------- melodies
def sample_claim_sets(
    models: dict[int, dict], cfg: Config
) -> dict[float, dict[Run, dict[str, dict[str, TrackSet]]]]:
    """``{temperature: {(training seed, generation seed): {kind: {style: melodies}}}}``."""
    c = cfg.claims
    return {
        temp: sample_runs(
            models,
            cfg,
            n=c.n_per_seed,
            n_generation=c.generation_seeds,
            styles=tuple(cfg.generate.styles),
            max_len=cfg.generate.max_len,
            temperature=temp,
        )
        for temp in TEMPERATURES
    }


def _per_track_bits_task(job: tuple) -> tuple[np.ndarray, np.ndarray]:
    return per_track_bits(*job)


def _pool_styles(by_style: dict[str, TrackSet], fn) -> tuple[np.ndarray, np.ndarray]:
    parts = [fn(ts) for ts in by_style.values()]
    return (
        np.concatenate([p[0] for p in parts]),
        np.concatenate([p[1] for p in parts]),
    )


def _kind_draws(runs, kind: str, fn, cfg: Config, seeds: str, unit: str) -> Draws:
    """Draws of a ratio statistic over one kind's melodies, styles pooled."""
    order = sorted(runs)
    t_seeds = sorted({t for t, _ in order})
    sets = [[_pool_styles(runs[r][kind], fn) for r in order if r[0] == t] for t in t_seeds]
    return draws_from_sets(
        sets, n_boot=cfg.claims.n_bootstrap, seed=cfg.claims.seed, seeds=seeds, unit=unit
    )


def _constant_draws(num: np.ndarray, den: np.ndarray, like: Draws, cfg: Config) -> Draws:
    """Draws of a fixed set (the real melodies) laid out like ``like``: the same value
    for every seed, fresh bootstrap replicates per training seed."""
    per_t = [[(num, den)] for _ in range(len(like.full))]
    d = draws_from_sets(per_t, n_boot=like.reps.shape[1], seed=cfg.claims.seed + 1)
    return Draws(
        d.full, d.reps, np.full(len(like.runs), d.full[0]), len(num), like.seeds, like.unit
    )


def ones(v) -> np.ndarray:
    """The denominator of a per-melody mean: one per melody."""
    return np.ones(len(v))


def melody_measurements(
    sets: dict[float, dict[Run, dict[str, dict[str, TrackSet]]]],
    real: TrackSet,
    cfg: Config,
    n_seeds: str,
) -> tuple[dict[str, Estimate], pd.DataFrame, pd.DataFrame]:
    """The acceptance and repeated-note claims' numbers, and two tables: repeated notes
    per model, style and temperature, and the share rated acceptable per model and style.

    ``real``: the prepared tracks; the panel is fitted on their training split and the
    real reference is their held-out part (validation and test) of the compared styles.
    """
    from vrashlib.filter.autorater import fit_panel

    styles = tuple(cfg.generate.styles)
    held_out = real.subset(np.flatnonzero(real.split != 0))
    held_out = held_out.subset(np.flatnonzero(np.isin(held_out.style_names(), styles)))
    panel = fit_panel(real.select(split="train"))
    temp = cfg.generate.temperature
    if temp not in sets:
        raise ValueError(f"no melodies at the profile's temperature {temp} (have {sorted(sets)})")

    def accept(ts: TrackSet) -> tuple[np.ndarray, np.ndarray]:
        g = (panel.rate(ts) >= 4).astype(float)
        return g, ones(g)

    out: dict[str, Draws] = {}
    acc = {k: _kind_draws(sets[temp], k, accept, cfg, n_seeds, "share") for k in KINDS}
    real_good = accept(held_out)[0]
    acc["real"] = _constant_draws(real_good, ones(real_good), acc["lm"], cfg)
    for k in KINDS:
        out[f"accept.ratio_to_real.{k}"] = (acc[k] / acc["real"]).with_unit("ratio")
    out["accept.vrash_minus_lm"] = acc["vrash"] - acc["lm"]
    out["accept.vrash_minus_vae"] = acc["vrash"] - acc["vae"]

    def run4(ts: TrackSet) -> tuple[np.ndarray, np.ndarray]:
        r = repeats.melody_repeats(ts)["run4"].to_numpy(float)
        return r, ones(r)

    for t in TEMPERATURES:
        d = {k: _kind_draws(sets[t], k, run4, cfg, n_seeds, "share") for k in KINDS}
        for other in ("vae", "vrash"):
            out[f"repeats.run4.T{t:g}.lm_minus_{other}"] = d["lm"] - d[other]
    est = {k: v.estimate(seed=cfg.claims.seed) for k, v in out.items()}
    accept_rows = [
        {"model": k, **_cols(acc[k].estimate(seed=cfg.claims.seed), "acceptable_share")}
        for k in (*KINDS, "real")
    ]
    return est, repeat_table(sets, held_out, cfg, n_seeds), pd.DataFrame(accept_rows)


def model_table(fig4: pd.DataFrame, acceptance: pd.DataFrame) -> pd.DataFrame:
    """One row per model (and the untrained network, and real melodies): validation bits
    per event and the share rated acceptable, each with its 95 % interval and per-seed
    values (:func:`fig4_measurements`, :func:`melody_measurements`)."""
    return fig4.merge(acceptance, on="model", how="outer", sort=False)


def repeat_table(sets, held_out: TrackSet, cfg: Config, n_seeds: str) -> pd.DataFrame:
    """Per temperature, model and style (and the held-out real melodies): the
    immediate-repeat rate and the share with a run of four or more equal pitches
    (value and 95 % interval), the median and the largest longest run."""
    rows = []
    for style in cfg.generate.styles:
        real = repeats.melody_repeats(held_out.select(style=style))
        rows.append(_repeat_row("real", style, np.nan, [[real]], cfg, "held-out real"))
        for temp, runs in sets.items():
            order = sorted(runs)
            t_seeds = sorted({t for t, _ in order})
            for kind in KINDS:
                per = [
                    [repeats.melody_repeats(runs[r][kind][style]) for r in order if r[0] == t]
                    for t in t_seeds
                ]
                rows.append(_repeat_row(kind, style, temp, per, cfg, n_seeds))
    return pd.DataFrame(rows)


def _repeat_row(model, style, temp, per: list[list[pd.DataFrame]], cfg: Config, seeds: str) -> dict:
    kw = {"n_boot": cfg.claims.n_bootstrap, "seed": cfg.claims.seed}
    rate = draws_from_sets([[(p["same_pairs"], p["note_pairs"]) for p in ps] for ps in per], **kw)
    run4 = draws_from_sets(
        [[(p["run4"].astype(float), np.ones(len(p))) for p in ps] for ps in per], **kw
    )
    allp = pd.concat([p for ps in per for p in ps])
    return {
        "model": model, "style": style, "temperature": temp, "melodies": len(allp),
        **_cols(rate.estimate(seed=cfg.claims.seed), "repeat_rate"),
        **_cols(run4.estimate(seed=cfg.claims.seed), "run4_share"),
        "median_longest_run": float(allp["longest_run"].median()) if len(allp) else np.nan,
        "max_longest_run": int(allp["longest_run"].max()) if len(allp) else 0,
        "seeds": seeds,
    }  # fmt: skip


def similarity_table(
    runs: dict[Run, dict[str, dict[str, TrackSet]]], real: TrackSet, cfg: Config, n_seeds: str
) -> pd.DataFrame:
    """Per model and style: every :data:`vrashlib.analysis.similarity.METRICS` against the
    held-out real melodies of the style, and real against real (two random halves of
    them) as the reference.

    The overlapping areas and out-of-key measures are taken per seed run (mean over
    runs; 95 % interval over runs and training seeds). The realness AUC, a
    cross-validated classifier, is fitted once per training seed on its pooled
    melodies (:func:`vrashlib.analysis.similarity.capped_auc`); its interval combines
    the Hanley-McNeil standard error with the spread over training seeds. The
    measurements run ``claims.threads`` at once (the numbers do not depend on it)."""
    from vrashlib.analysis.seeds import concat
    from vrashlib.sampling.realism import split_in_two

    held_out = real.subset(np.flatnonzero(real.split != 0))
    order = sorted(runs)
    t_seeds = sorted({t for t, _ in order})
    c = cfg.claims
    # The measurements first, ``claims.threads`` at once; then the intervals, in order.
    refs = {style: held_out.select(style=style) for style in cfg.generate.styles}
    jobs: dict[tuple, tuple] = {}
    for style, ref in refs.items():
        jobs[(style, "real")] = ("row", *split_in_two(ref, c.seed), c.seed, True)
        for kind in KINDS:
            for r in order:
                jobs[(style, kind, r)] = ("row", ref, runs[r][kind][style], c.seed + r[1], False)
            for t in t_seeds:
                gen = concat([runs[r][kind][style] for r in order if r[0] == t])
                jobs[(style, kind, t)] = ("auc", ref, gen, c.seed, None)
    done = dict(zip(jobs, fork_map(_similarity_task, list(jobs.values()), c.threads), strict=True))
    rng = np.random.default_rng(c.seed)
    rows = []
    for style in refs:
        base = done[(style, "real")]
        rows.append({"model": "real (half vs half)", "style": style, **base, "seeds": ""})
        for kind in KINDS:
            row = {"model": kind, "style": style}
            per_run = {r: done[(style, kind, r)] for r in order}
            for m in similarity.METRICS[:-1]:
                values = [[per_run[r][m] for r in order if r[0] == t] for t in t_seeds]
                e = draws_from_runs(values, n_boot=c.n_bootstrap, seed=c.seed).estimate(seed=c.seed)
                row.update({m: e.value, f"{m}_lo": e.lo, f"{m}_hi": e.hi})
            aucs, reps = [], []
            for t in t_seeds:
                auc, n = done[(style, kind, t)]
                sd = similarity.auc_interval_sd(auc, n, n)
                aucs.append(auc)
                reps.append(auc + sd * rng.standard_normal(c.n_bootstrap))
            e = Draws(np.array(aucs), np.vstack(reps), np.array(aucs), 0, n_seeds).estimate(
                seed=c.seed
            )
            row.update({"realness_auc": e.value, "realness_auc_lo": e.lo, "realness_auc_hi": e.hi})
            row["seeds"] = n_seeds
            rows.append(row)
    return pd.DataFrame(rows)


def _similarity_task(job: tuple):
    """One measurement of :func:`similarity_table`: ``("row", a, b, seed, auc)`` is
    :func:`vrashlib.analysis.similarity.similarity_row`; ``("auc", ref, gen, seed, _)``
    the realness AUC of ``gen`` against ``ref`` and the melodies per side it used."""
    what, a, b, seed, auc = job
    if what == "row":
        return similarity.similarity_row(a, b, seed=seed, auc=auc)
    n = min(len(a), len(b), similarity.MAX_MELODIES)
    return similarity.capped_auc(a, b, seed=seed), n


# -------------------------------------------------------------------- stream
def stream_measurement(
    model, filt, cfg: Config, training: TrackSet
) -> tuple[dict[str, Estimate], pd.DataFrame]:
    """``stream.realtime_factor``: music seconds per wall-clock second of the filtered,
    de-duplicated stream (:func:`vrashlib.stream.live.stream_melodies`, notebook 06's
    loop) on one thread, ``cfg.stream.music_minutes`` per stream seed; the bootstrap
    resamples the stream's batches (a batch's sampling time falls on its first
    accepted melody). Also a table with one row per stream seed."""
    from vrashlib.stream.live import stream_melodies

    sc, gen = cfg.stream, cfg.generate
    per_seed, rows = [], []
    for s in range(cfg.claims.stream_seeds):
        start = time.perf_counter()
        items = list(
            stream_melodies(
                model, filt, sc.style, training_tracks=training, batch_size=sc.batch_size,
                max_len=gen.max_len, temperature=gen.temperature, seed=sc.seed + 1 + s,
                ngram=sc.ngram, max_similarity=sc.max_similarity, copy_run=sc.copy_run,
                max_music_seconds=sc.music_minutes * 60, threads=1, patience=sc.patience,
            )
        )  # fmt: skip
        log = pd.DataFrame(
            {
                "batch": [it.batch for it in items],
                "music": [it.seconds for it in items],
                "wall": np.diff([0.0, *[it.wall_seconds for it in items]]),
            }
        )
        by_batch = log.groupby("batch")[["music", "wall"]].sum()
        if items:
            per_seed.append((by_batch["music"].to_numpy(), by_batch["wall"].to_numpy()))
        else:  # the filter let nothing through: no music in all that time (index build included)
            per_seed.append((np.zeros(1), np.array([time.perf_counter() - start])))
        rows.append(
            {
                "stream_seed": sc.seed + 1 + s,
                "melodies": len(items),
                "music_seconds": float(log["music"].sum()),
                "wall_seconds": float(log["wall"].sum()),
                "realtime_factor": float(per_seed[-1][0].sum() / max(per_seed[-1][1].sum(), 1e-9)),
            }
        )
    d = draws_from_sets(
        [per_seed], n_boot=cfg.claims.n_bootstrap, seed=cfg.claims.seed,
        seeds=f"{cfg.claims.stream_seeds} stream seeds", unit="x real time",
    )  # fmt: skip
    return {"stream.realtime_factor": d.estimate(seed=cfg.claims.seed)}, pd.DataFrame(rows)
