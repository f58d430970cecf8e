"""How good a model is: bits per event on a track set, and Fig. 4's table.

Cross-entropy per head and in total, KL and the bound are in bits per event
(KL also per track). Evaluation is deterministic: batches in a fixed order and,
for a latent model, the posterior noise drawn from a generator seeded by ``seed``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import torch

from vrashlib.data.datamodule import make_loader
from vrashlib.data.tracks import TrackSet
from vrashlib.models.module import MelodyModule, summarize
from vrashlib.models.network import MelodyNet, count_parameters, loss_terms


def align_styles(tracks: TrackSet, styles: list[str] | tuple[str, ...]) -> TrackSet:
    """The same tracks with style ids renumbered into a model's style list."""
    if tuple(tracks.styles) == tuple(styles):
        return tracks
    missing = sorted(set(tracks.style_names()) - set(styles))
    if missing:
        raise KeyError(f"styles {missing} are unknown to the model (it knows {list(styles)})")
    lookup = np.array([list(styles).index(s) for s in tracks.styles], dtype=np.int16)
    return dataclasses.replace(tracks, style=lookup[tracks.style], styles=tuple(styles))


def evaluate(
    model: MelodyModule | MelodyNet, tracks: TrackSet, batch_size: int = 64, *, seed: int = 0
) -> dict[str, float]:
    """Cross-entropy per head and total (bits/event) and KL (bits/event, bits/track).

    For VAE/VRASH the cross-entropy is the reconstruction term with z drawn from
    the posterior (seeded), so ``bound_total`` = CE + KL/event is the number that
    compares with the LM's CE (an upper bound on bits/event).
    """
    net = model.net if isinstance(model, MelodyModule) else model
    styles = model.styles if isinstance(model, MelodyModule) else tracks.styles
    tracks = align_styles(tracks, styles)
    gen = torch.Generator().manual_seed(seed)
    sums: dict[str, float] = {}
    was_training = net.training
    net.eval()
    with torch.inference_mode():
        for batch in make_loader(tracks, batch_size, max_len=None, shuffle=False):
            eps = torch.randn(len(batch["lengths"]), max(net.z_dim, 1), generator=gen)
            out = net(batch["events"], batch["lengths"], batch["style"], eps=eps[:, : net.z_dim])
            for k, v in loss_terms(out, batch["events"], batch["lengths"]).items():
                sums[k] = sums.get(k, 0.0) + float(v)
    net.train(was_training)
    return summarize(sums)


def cross_entropy_table(
    models: dict[str, MelodyModule], tracks: TrackSet, batch_size: int = 64, *, threads: int = 1
) -> pd.DataFrame:
    """Fig. 4's table: one row per model (e.g. lm, vae, vrash, random) with the
    cross-entropy per head and total (bits/event), KL, parameters, training time
    and steps. ``threads`` models at once, one process and thread each
    (:func:`vrashlib.threads.fork_map`; the numbers do not depend on it)."""
    from vrashlib.threads import fork_map

    scores = fork_map(_evaluate_task, [(m, tracks, batch_size) for m in models.values()], threads)
    rows = []
    for (name, module), s in zip(models.items(), scores, strict=True):
        rows.append(
            {
                "model": name,
                **{k: s[k] for k in ("ce_pc", "ce_oct", "ce_dur", "ce_total")},
                "kl_per_event": s["kl_per_event"] if module.net.latent else np.nan,
                "kl_per_track": s["kl_per_track"] if module.net.latent else np.nan,
                "bound_total": s["bound_total"],
                "params": count_parameters(module.net),
                "train_minutes": module.train_seconds / 60.0,
                "steps": int(module.history[-1]["step"]) if module.history else 0,
            }
        )
    return pd.DataFrame(rows)


def _evaluate_task(job: tuple) -> dict[str, float]:
    model, tracks, batch_size = job
    return evaluate(model, tracks, batch_size)
