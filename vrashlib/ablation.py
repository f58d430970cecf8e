"""Which remedy makes VRASH's latent code carry the melody? An ablation (issue 10).

An autoregressive decoder that hears the notes already played can ignore z. Each
variant below is a VRASH (or, for reference, the LM and the paper's VAE) trained
with the same budget (``cfg.ablation``: steps, validation interval, KL warm-up) on
the same data and seed, then measured on the validation split:

- the validation bound and cross-entropy (bits/event; :func:`~vrashlib.models.training.evaluate`);
- what z carries (:mod:`vrashlib.sampling.reconstruct`): KL per melody beside the
  free-bits floor, active units, I_q(x; z), reconstruction accuracy from the
  posterior and from the prior, teacher-forced and free-running;
- ``cfg.ablation.n_generated`` melodies (split over ``cfg.generate.styles``) rated by
  the automatic panel (:mod:`vrashlib.filter.autorater`, fitted on the training
  tracks): the share acceptable (mean rating >= 4), and the realism checks of
  :mod:`vrashlib.sampling.realism`.

Every variant states all remedy settings (:data:`BEFORE` plus its own change), so
the table does not move when ``ModelConfig``'s defaults do. The run is resumable:
each finished variant is a row of ``run.ablation_results`` (with the fingerprint of
its config and data) and is skipped next time; an interrupted training resumes from
its ``last.ckpt``. Because it is three modules' work at once (models, sampling,
filter), it sits at the top of the package, beside ``reproduce``.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vrashlib import paths
from vrashlib.config import Config
from vrashlib.data.tracks import TrackSet
from vrashlib.files import atomic_write_text
from vrashlib.filter.autorater import auto_ratings, fit_panel
from vrashlib.filter.ratings import acceptable
from vrashlib.models.diagnostics import IW_COLUMNS
from vrashlib.models.evaluation import evaluate
from vrashlib.models.module import load_model
from vrashlib.models.parallel import Job, train_models
from vrashlib.models.training import TrainResult, fingerprint
from vrashlib.paths import RunLayout
from vrashlib.sampling.generate import sample_styles
from vrashlib.sampling.realism import leap_share, realness_auc, run_share, short_share
from vrashlib.sampling.reconstruct import latent_diagnostics
from vrashlib.threads import torch_threads

logger = logging.getLogger(__name__)

# The remedy settings before issue 10 (the committed paper run): free bits 0.1 nats
# per dimension, nothing else. Each variant changes some of them.
BEFORE: dict[str, Any] = {
    "model.free_bits": 0.1,
    "model.history_dropout": 0.0,
    "model.kl_cycles": 0,
    "model.bow_weight": 0.0,
    "model.history_window": 1,
    "model.conductor_segment": 0,
}


@dataclass(frozen=True)
class Variant:
    name: str
    kind: str
    what: str  # one line for the table
    change: tuple[tuple[str, Any], ...] = ()  # settings over BEFORE


# In the order they run (what matters most first, should a run be cut short): the
# LM and VRASH as committed, one remedy at a time, two combinations, the VAE, then
# the window (alone and with the default's free bits), a second free-bits level, the
# cyclical annealing on top of the default's free bits, then the hierarchical decoder
# (MusicVAE's conductor, one code per phrase of 16 events: two bars of a reel in
# eighth notes, four of a chorale in quarters) alone and on top of the default's free
# bits.
VARIANTS: tuple[Variant, ...] = (
    Variant("lm", "lm", "the LM: the bound every VRASH is held to"),
    Variant("before", "vrash", "VRASH as committed: free bits 0.1 nat/dim"),
    Variant("fb0.5", "vrash", "free bits 0.5 nat/dim", (("model.free_bits", 0.5),)),
    Variant("hd0.3", "vrash", "history dropout 0.3", (("model.history_dropout", 0.3),)),
    Variant("cyclical", "vrash", "cyclical KL annealing, 3 cycles", (("model.kl_cycles", 3),)),
    Variant("bow", "vrash", "bag-of-notes loss, weight 1", (("model.bow_weight", 1.0),)),
    Variant("hd0.6", "vrash", "history dropout 0.6", (("model.history_dropout", 0.6),)),
    Variant(
        "fb0.5+hd0.3",
        "vrash",
        "free bits 0.5 + history dropout 0.3",
        (("model.free_bits", 0.5), ("model.history_dropout", 0.3)),
    ),
    Variant(
        "fb0.5+bow",
        "vrash",
        "free bits 0.5 + bag-of-notes loss",
        (("model.free_bits", 0.5), ("model.bow_weight", 1.0)),
    ),
    Variant(
        "fb0.5+hd0.3+bow",
        "vrash",
        "free bits 0.5 + history dropout 0.3 + bag-of-notes loss",
        (("model.free_bits", 0.5), ("model.history_dropout", 0.3), ("model.bow_weight", 1.0)),
    ),
    Variant("vae", "vae", "the paper's VAE: z and style only (vae_z_dim, no free bits)"),
    Variant("window4", "vrash", "the last 4 events as input", (("model.history_window", 4),)),
    Variant(
        "fb0.5+window4",
        "vrash",
        "free bits 0.5 + the last 4 events as input",
        (("model.free_bits", 0.5), ("model.history_window", 4)),
    ),
    Variant("fb1", "vrash", "free bits 1 nat/dim", (("model.free_bits", 1.0),)),
    Variant(
        "fb0.5+cyclical",
        "vrash",
        "free bits 0.5 + cyclical KL annealing",
        (("model.free_bits", 0.5), ("model.kl_cycles", 3)),
    ),
    Variant(
        "conductor16",
        "vrash",
        "hierarchical decoder: a conductor code per 16-event phrase",
        (("model.conductor_segment", 16),),
    ),
    Variant(
        "fb0.5+conductor16",
        "vrash",
        "free bits 0.5 + hierarchical decoder",
        (("model.free_bits", 0.5), ("model.conductor_segment", 16)),
    ),
)
BY_NAME = {v.name: v for v in VARIANTS}


def selected(cfg: Config) -> list[Variant]:
    """The variants ``cfg.ablation.variants`` names (all when empty), in run order."""
    names = cfg.ablation.variants or tuple(BY_NAME)
    unknown = sorted(set(names) - set(BY_NAME))
    if unknown:
        raise KeyError(f"unknown ablation variants {unknown}; choose from {list(BY_NAME)}")
    return [v for v in VARIANTS if v.name in names]


def variant_config(variant: Variant, cfg: Config) -> Config:
    """``cfg`` with the ablation's budget and the variant's remedy settings."""
    a = cfg.ablation
    settings = {**BEFORE, **dict(variant.change)}
    cyclical = settings["model.kl_cycles"] > 0
    settings["model.kl_warmup_steps"] = a.kl_cycle_steps if cyclical else a.kl_warmup_steps
    settings["train.max_steps"] = a.steps
    if a.width is not None:
        settings["model.hidden"] = settings["model.encoder_hidden"] = a.width
    settings["train.batch_size"] = a.batch_size
    settings["train.val_every_steps"] = a.val_every_steps
    settings["train.patience"] = 0  # the same budget for all: no early stopping
    settings["train.max_minutes"] = None  # nor a clock that depends on the machine
    # nor a rate that a noisy validation or two lowers: at 4 validations the "plateau"
    # schedule would decay on noise alone, differently from variant to variant
    settings["train.lr_schedule"] = "constant"
    sections: dict[str, dict[str, Any]] = {}
    for key, value in settings.items():
        section, _, name = key.partition(".")
        sections.setdefault(section, {})[name] = value
    return dataclasses.replace(
        cfg, **{sec: dataclasses.replace(getattr(cfg, sec), **kw) for sec, kw in sections.items()}
    )


def measure(
    variant: Variant, res: TrainResult, tracks: TrackSet, cfg: Config, panel
) -> dict[str, Any]:
    """Measure one trained variant (``res``: its :func:`train_models` result): one table row."""
    vcfg = variant_config(variant, cfg)
    model = load_model(res.checkpoint)
    val = tracks.select(split="val")
    start = time.perf_counter()
    with torch_threads(cfg.train.threads):  # as many as training uses: no oversubscription
        scores = evaluate(model, val, cfg.generate.batch_size, seed=cfg.seed)
        # without the importance-weighted bound: diagnostics.iw_samples decodings per melody
        # for each variant would cost minutes of the ablation's budget (and the shipped
        # rows have no such columns)
        dcfg = dataclasses.replace(cfg.diagnostics, iw_samples=0)
        diag, _ = latent_diagnostics(
            model, val, dcfg, style=cfg.generate.styles[0], name=variant.name
        )
    g = cfg.generate
    per_style = max(1, cfg.ablation.n_generated // len(g.styles))
    generated = sample_styles(
        model, g.styles, per_style, max_len=g.max_len, seed=g.seed, batch_size=g.batch_size
    )
    ratings, _ = auto_ratings(panel, {variant.name: generated})
    aucs = [
        realness_auc(val.select(style=s), generated.select(style=s), seed=cfg.seed)
        for s in g.styles
    ]
    row = {
        "variant": variant.name,
        "kind": variant.kind,
        "what": variant.what,
        "steps": int(res.history["step"].max()) if len(res.history) else 0,
        "bound_total": scores["bound_total"],
        "ce_total": scores["ce_total"],
        **{k: v for k, v in diag.items() if k not in ("n_melodies", *IW_COLUMNS)},
        "acceptance": float(np.mean(acceptable(ratings["rating"].to_numpy()))),
        "realness_auc": float(np.nanmean(aucs)) if np.isfinite(aucs).any() else np.nan,
        "short_share": short_share(generated),
        "run_share": run_share(generated),
        "leap_share": leap_share(generated),
        "train_minutes": res.seconds / 60.0,
        "measure_minutes": (time.perf_counter() - start) / 60.0,
        "fingerprint": fingerprint(variant.kind, tracks, vcfg),
    }
    logger.info(
        "ablation %s: bound %.3f bits/event, KL %.1f bits/melody, %s active units, acceptance %.3f",
        variant.name,
        row["bound_total"],
        row["kl_bits_per_melody"],
        row["active_units"],
        row["acceptance"],
    )
    return row


def run_ablation(
    tracks: TrackSet, cfg: Config, run: RunLayout, *, shipped: bool = True
) -> pd.DataFrame:
    """Train and measure every selected variant, skipping those already measured with
    the same fingerprint (the variant's config, the dataset, the training code);
    returns :func:`ablation_table`.

    Measured means in ``run.ablation_results`` (what this run folder measured; only
    such rows are written there) or, with ``shipped``, in the shipped measurements
    (``weights/<profile>/seed<N>/ablation.csv``), ``VRASH_RETRAIN`` or not: that
    retrains the three models, and the ablation is its own experiment of about 55
    minutes on 2 cores. ``shipped=False`` (``vrash ablation --fresh``, ``make
    ablation``) trains and measures here every variant the run folder has not measured,
    so an interrupted run goes on where it stopped.
    """
    own = _read_results(run.ablation_results)
    ship = paths.shipped_ablation(cfg.profile, cfg.seed)
    theirs = _read_results(ship if shipped else None)
    rows: dict[str, pd.DataFrame] = {}  # one row each
    todo = []
    for variant in selected(cfg):
        fp = fingerprint(variant.kind, tracks, variant_config(variant, cfg))
        for where, table in (("here", own), (ship, theirs)):
            row = _measured(table, variant.name, fp)
            if row is not None:
                logger.info("ablation %s: measured before (%s), skipped", variant.name, where)
                rows[variant.name] = row
                break
        else:
            todo.append(variant)
    # train what is missing, cfg.train.parallel at once
    jobs = {v.name: Job(v.kind, variant_config(v, cfg), run.ablation_dir / v.name) for v in todo}
    trained = train_models(jobs, tracks, parallel=cfg.train.parallel, progress=False, shipped=False)
    panel = None
    for variant in todo:
        if panel is None:
            panel = fit_panel(tracks.select(split="train"))
        rows[variant.name] = pd.DataFrame(
            [measure(variant, trained[variant.name], tracks, cfg, panel)]
        )
        kept = own[own["variant"] != variant.name]  # (an empty frame would make ints floats)
        own = pd.concat([kept, rows[variant.name]]) if len(kept) else rows[variant.name]
        _write_results(run, own)
    done = pd.concat([rows[v.name] for v in selected(cfg)], ignore_index=True)
    return ablation_table(done, cfg)


def results_to_ship(run: RunLayout, shipped: Path) -> pd.DataFrame:
    """What ``vrash export-weights`` ships: the run folder's measurements, and the
    shipped ones of the variants it did not measure (a run that measured one new
    variant keeps the others)."""
    own = _read_results(run.ablation_results)
    theirs = _read_results(shipped)
    return pd.concat([theirs[~theirs["variant"].isin(own["variant"])], own], ignore_index=True)


def _measured(table: pd.DataFrame, name: str, fp: str) -> pd.DataFrame | None:
    hit = table[(table["variant"] == name) & (table["fingerprint"] == fp)]
    return hit.iloc[:1] if len(hit) else None


def _read_results(path: Path | None) -> pd.DataFrame:
    if path is not None and path.exists():
        return pd.read_csv(path)
    return pd.DataFrame(columns=["variant", "fingerprint"])


def _write_results(run: RunLayout, df: pd.DataFrame) -> None:
    run.ablation_dir.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    df.to_csv(buf, index=False)
    atomic_write_text(run.ablation_results, buf.getvalue())


def ablation_table(results: pd.DataFrame, cfg: Config) -> pd.DataFrame:
    """The results with the gap to the LM's bound and the target checks of
    ``cfg.ablation`` (``meets_target``: all four), without the bookkeeping columns."""
    a = cfg.ablation
    out = results.drop(columns=["fingerprint"], errors="ignore").copy()
    lm = out.loc[out["kind"] == "lm", "bound_total"]
    out["bound_gap"] = out["bound_total"] - (float(lm.iloc[0]) if len(lm) else np.nan)
    latent = out["kind"] != "lm"
    checks = {
        "kl_ok": out["kl_bits_per_melody"] >= a.target_kl_bits,
        "active_ok": out["active_share"] >= a.target_active_share,
        "bound_ok": out["bound_gap"] <= a.target_bound_gap,
        "recon_ok": out["recon_free_posterior"] - out["recon_free_prior"] >= a.target_recon_gain,
    }
    for name, ok in checks.items():
        out[name] = ok & latent
    out["meets_target"] = out[list(checks)].all(axis=1)
    return out


def best_variant(table: pd.DataFrame) -> str | None:
    """The VRASH variant that meets the target with the lowest bound; if none does, the
    one meeting most of the four checks, ties broken by what its code carries (the
    free-running reconstruction gain, posterior minus prior), then by the bound. None
    without any VRASH row."""
    vrash = table[table["kind"] == "vrash"].copy()
    if not len(vrash):
        return None
    checks = ["kl_ok", "active_ok", "bound_ok", "recon_ok"]
    vrash["n_ok"] = vrash[checks].sum(axis=1)
    vrash["gain"] = vrash["recon_free_posterior"] - vrash["recon_free_prior"]
    ranked = vrash.sort_values(["n_ok", "gain", "bound_total"], ascending=[False, False, True])
    return str(ranked.iloc[0]["variant"])
