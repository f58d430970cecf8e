"""Seeds of the claims ledger: which trained models exist, and fresh melodies from each.

Training seeds. The run's own models (notebook 02, ``cfg.train.seed``) always
count; every other seed counts when shipped weights for it exist under
``weights/<profile>/seed<N>/<kind>/`` (:mod:`vrashlib.models.weights`) and were
trained with this config and dataset (the manifest's fingerprint). A seed with a
missing or stale model is left out with a warning, never silently:
:func:`trained_models` logs which seeds it uses and the ledger says how many.

Generation seeds. Melodies for the ledger are always fresh: generation seed
``g`` samples with seed :func:`generation_seed` (``cfg.generate.seed + 1 + g``,
plus 1000 per style, as :func:`vrashlib.sampling.generate.sample_styles` does),
never the seed of notebook 03's set that the filter was fitted on.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np

from vrashlib import paths
from vrashlib.config import Config
from vrashlib.data.tracks import TrackSet
from vrashlib.models.module import MelodyModule, load_model

logger = logging.getLogger(__name__)

Run = tuple[int, int]  # (training seed, generation seed)


def with_training_seed(cfg: Config, seed: int) -> Config:
    """``cfg`` with ``train.seed`` replaced (the config a seed's models were trained with)."""
    return dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, seed=seed))


def shipped_seeds(cfg: Config, root: Path | None = None) -> list[int]:
    """Seeds with a folder under ``weights/<profile>/`` (``seed<N>``), ascending."""
    folder = (paths.WEIGHTS if root is None else Path(root)) / cfg.profile
    seeds = []
    for sub in folder.glob("seed*") if folder.is_dir() else []:
        tail = sub.name[len("seed") :]
        if sub.is_dir() and tail.isdigit():
            seeds.append(int(tail))
    return sorted(seeds)


def trained_models(
    cfg: Config,
    run: paths.RunLayout,
    tracks: TrackSet,
    kinds: tuple[str, ...],
    *,
    weights_root: Path | None = None,
) -> dict[int, dict[str, MelodyModule]]:
    """``{training seed: {kind: model}}``: the run's own models (seed ``cfg.train.seed``,
    from ``run.checkpoint``; required) and every shipped seed whose weights of every
    kind in ``kinds`` match this config and ``tracks`` (see the module docstring)."""
    from vrashlib.models import weights
    from vrashlib.models.training import fingerprint

    main = cfg.train.seed
    out = {main: {kind: load_model(run.checkpoint(kind)) for kind in kinds}}
    for seed in shipped_seeds(cfg, weights_root):
        if seed == main:
            continue
        cfg_s = with_training_seed(cfg, seed)
        models = {}
        for kind in kinds:
            folder = weights.find_shipped(
                kind, cfg_s, fingerprint(kind, tracks, cfg_s), weights_root
            )
            if folder is None:
                logger.warning(
                    "training seed %d left out: no shipped %s model for this config and dataset "
                    "under %s", seed, kind, paths.shipped_dir(cfg.profile, seed, kind, weights_root),
                )  # fmt: skip
                break
            models[kind] = weights.load_shipped(folder)[0]
        else:
            out[seed] = models
    logger.info("training seeds: %s (%d; the run's own is %d)", sorted(out), len(out), main)
    return dict(sorted(out.items()))


def generation_seed(cfg: Config, g: int, style_index: int = 0) -> int:
    """The sampling seed of generation seed ``g`` for the ``style_index``-th style."""
    if not 0 <= g < 999:
        raise ValueError(f"generation seed index {g} outside 0..998")
    return cfg.generate.seed + 1 + g + 1000 * style_index


def sample_runs(
    models: dict[int, dict[str, MelodyModule]],
    cfg: Config,
    *,
    n: int,
    n_generation: int,
    styles: tuple[str, ...],
    max_len: int,
    temperature: float,
    min_len: int = 1,
) -> dict[Run, dict[str, dict[str, TrackSet]]]:
    """``{(training seed, generation seed): {kind: {style: n melodies}}}``, fresh
    (:func:`generation_seed`), sampled with ``cfg.generate``'s batch size and threads:
    the batches of all of them at once (:func:`vrashlib.sampling.generate.sample_many`),
    so that ``threads`` cores work even when each set is one batch."""
    from vrashlib.sampling.generate import Request, sample_many

    keys, requests = [], []
    for t, by_kind in models.items():
        for g in range(n_generation):
            for kind, model in by_kind.items():
                for k, style in enumerate(styles):
                    keys.append(((t, g), kind, style))
                    requests.append(
                        Request(
                            model,
                            n,
                            style,
                            max_len=max_len,
                            temperature=temperature,
                            seed=generation_seed(cfg, g, k),
                            batch_size=cfg.generate.batch_size,
                            min_len=min_len,
                        )
                    )
    out: dict[Run, dict[str, dict[str, TrackSet]]] = {}
    for (run, kind, style), tracks in zip(
        keys, sample_many(requests, threads=cfg.generate.threads), strict=True
    ):
        out.setdefault(run, {}).setdefault(kind, {})[style] = tracks
    return out


def concat(sets: list[TrackSet]) -> TrackSet:
    """Several track sets with one style list as one (ids prefixed ``<set>:``; latent kept
    only when every set has one of the same size)."""
    if not sets:
        raise ValueError("nothing to concatenate")
    styles = sets[0].styles
    if any(s.styles != styles for s in sets):
        raise ValueError("track sets with different style lists")
    lengths = np.concatenate([s.lengths for s in sets])
    latents = [s.latent for s in sets]
    same = all(z is not None for z in latents) and len({z.shape[1] for z in latents}) == 1
    return TrackSet(
        events=np.concatenate([s.events for s in sets]),
        offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        style=np.concatenate([s.style for s in sets]),
        styles=styles,
        unit_seconds=np.concatenate([s.unit_seconds for s in sets]),
        split=np.concatenate([s.split for s in sets]),
        ids=np.concatenate([np.char.add(f"{i}:", s.ids.astype(str)) for i, s in enumerate(sets)]),
        latent=np.concatenate(latents) if same else None,
        meta=dict(sets[0].meta),
    )


def panel_filter(model: MelodyModule, panel, cfg: Config, *, seed_index: int = 998):
    """A stream filter for another training seed's model: fitted, like notebook 04's, on
    ``cfg.generate.n_per_style`` melodies of ``cfg.stream.style`` (latent included,
    ``cfg.filter.stream_method``), rated by the automatic ``panel``.

    The latent coordinates of one training seed mean nothing to another seed's model,
    so each seed needs its own filter; with human ratings only the run's own seed has
    them. The melodies use generation seed index ``seed_index``, apart from the
    ledger's fresh sets.
    """
    from vrashlib.filter.classifiers import fit_stream_filter
    from vrashlib.sampling.generate import sample

    style = cfg.stream.style
    tracks = sample(
        model,
        cfg.generate.n_per_style,
        style,
        max_len=cfg.generate.max_len,
        temperature=cfg.generate.temperature,
        seed=generation_seed(cfg, seed_index),
        batch_size=cfg.generate.batch_size,
        threads=cfg.generate.threads,
    )
    good = panel.rate(tracks) >= 4
    flt = fit_stream_filter(
        tracks,
        good,
        method=cfg.filter.stream_method,
        seed=cfg.filter.seed,
        windows=cfg.filter.windows,
        max_rules=cfg.filter.heuristic_max_rules,
    )
    flt.info.update(model=model.kind, style=style, ratings="auto-panel")
    return flt


def seed_filters(
    models: dict[int, dict[str, MelodyModule]], run_filter, cfg: Config, real: TrackSet
) -> dict:
    """``{training seed: filter}``: notebook 04's filter (``run_filter``) for the run's own
    seed, :func:`panel_filter` for every other seed (the panel fitted on the real
    training split, as notebook 04 does)."""
    out = {cfg.train.seed: run_filter}
    others = [t for t in models if t != cfg.train.seed]
    if others:
        from vrashlib.filter.autorater import fit_panel

        panel = fit_panel(real.select(split="train"))
        for t in others:
            out[t] = panel_filter(models[t][cfg.stream.model], panel, cfg)
    return out


def describe(models: dict[int, dict], n_generation: int | None = None) -> str:
    """``"3 training seeds x 10 generation seeds"`` (what an interval rests on)."""
    t = len(models)
    text = f"{t} training seed{'s' if t != 1 else ''}"
    if n_generation is not None:
        text += f" x {n_generation} generation seed{'s' if n_generation != 1 else ''}"
    return text
