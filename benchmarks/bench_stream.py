"""Real-time factor of the live stream on ONE thread, filtering and de-duplication included.

Target: at least 100x faster than real time (music seconds per wall second).
Uses the model, filter and training melodies of a run folder when they exist
(``--run``, default the paper run); otherwise an untrained model of the profile's
size, a filter fitted on arbitrary labels and random-walk training melodies of
corpus size, which cost the same compute per melody.

    .venv/bin/python benchmarks/bench_stream.py [--profile paper] [--minutes 10]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.conftest import random_walk_tracks  # noqa: E402
from vrashlib import paths  # noqa: E402
from vrashlib.config import load_config  # noqa: E402
from vrashlib.data.encoding import durations_in_units  # noqa: E402
from vrashlib.data.tracks import TrackSet  # noqa: E402
from vrashlib.filter.classifiers import Filter  # noqa: E402
from vrashlib.sampling.generate import sample  # noqa: E402
from vrashlib.stream.dedup import RepeatGuard  # noqa: E402
from vrashlib.stream.live import item_row, stream_melodies, stream_summary  # noqa: E402


def setup(cfg, run: paths.RunLayout, style: str):
    """Model, filter and training melodies: from the run folder, or stand-ins."""
    ckpt = run.model_path(cfg.stream.model)
    if ckpt.exists() and run.filter.exists() and run.dataset.exists():
        from vrashlib.data.prepare import load_prepared
        from vrashlib.models.module import load_model

        source = f"run folder {run.root}"
        model = load_model(ckpt)
        filt = Filter.load(run.filter)
        training = load_prepared(run.dataset).tracks.select(split="train")
        return model, filt, training, source
    from vrashlib.models.training import build_module

    source = f"stand-ins (no trained {cfg.stream.model} model / filter / dataset in {run.root})"
    walks = random_walk_tracks(15_000, seed=0, min_len=20, max_len=120)
    real = TrackSet.from_tracks(walks, ("bach", "fiddle"), np.arange(len(walks)) % 2)
    model = build_module(cfg.stream.model, real, cfg)
    model.eval()
    gen = sample(model, 200, style, max_len=cfg.generate.max_len, seed=1, batch_size=64)
    good = np.random.default_rng(0).random(len(gen)) < 0.5
    filt = Filter.fit(gen, good, method="logreg", include_latent=gen.latent is not None)
    return model, filt, real, source


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--profile", default="paper")
    ap.add_argument("--run", default=None)
    ap.add_argument("--minutes", type=float, default=10.0, help="music minutes to stream")
    args = ap.parse_args()
    cfg = load_config(args.profile)
    style = cfg.stream.style
    run = paths.RunLayout(Path(args.run)) if args.run else paths.run_layout(args.profile)
    torch.set_num_threads(1)
    model, filt, training, source = setup(cfg, run, style)
    print(
        f"setup: {source}; profile {args.profile}, batch {cfg.stream.batch_size}, max_len {cfg.generate.max_len}"
    )

    t0 = time.perf_counter()
    guard = RepeatGuard(
        training,
        ngram=cfg.stream.ngram,
        max_similarity=cfg.stream.max_similarity,
        copy_run=cfg.stream.copy_run,
    )
    print(
        f"training index: {len(training)} melodies, {len(guard.training)} runs in {time.perf_counter() - t0:.2f} s (once)"
    )

    items = list(
        stream_melodies(
            model, filt, style, training_tracks=training, batch_size=cfg.stream.batch_size,
            max_len=cfg.generate.max_len, temperature=cfg.generate.temperature, seed=0,
            ngram=cfg.stream.ngram, max_similarity=cfg.stream.max_similarity,
            copy_run=cfg.stream.copy_run, max_music_seconds=args.minutes * 60, threads=1,
            patience=cfg.stream.patience,
        )
    )  # fmt: skip
    import pandas as pd

    s = stream_summary(pd.DataFrame([item_row(it) for it in items]), threads=1).iloc[0]
    print(
        f"stream, 1 thread: {s.music_seconds:.0f} s of music in {s.wall_seconds:.2f} s wall "
        f"-> real-time factor {s.realtime_factor:.0f}x (target >= 100x); "
        f"{int(s.melodies)}/{int(s.generated)} accepted ({s.acceptance_rate:.0%}; filter {s.rejected_filter:.0f}, "
        f"repeat {s.rejected_repeat:.0f}, copy {s.rejected_copy:.0f}, empty {s.rejected_empty:.0f})"
    )

    # Where the time goes, per batch of cfg.stream.batch_size melodies.
    n = cfg.stream.batch_size
    t0 = time.perf_counter()
    batch = sample(model, n, style, max_len=cfg.generate.max_len, seed=123, batch_size=n)
    t_sample = time.perf_counter() - t0
    t0 = time.perf_counter()
    filt.accept(batch), filt.score(batch)
    t_filter = time.perf_counter() - t0
    t0 = time.perf_counter()
    for i in range(len(batch)):
        guard.check(batch[i]) if len(batch[i]) else None
        guard.add(batch[i]) if len(batch[i]) else None
    t_dedup = time.perf_counter() - t0
    music = float(
        sum(durations_in_units(t).sum() * u for t, u in zip(batch, batch.unit_seconds, strict=True))
    )
    total = t_sample + t_filter + t_dedup
    print(
        f"one batch of {n}: sample {t_sample * 1e3:.0f} ms, filter {t_filter * 1e3:.0f} ms, "
        f"de-dup {t_dedup * 1e3:.1f} ms ({t_sample / total:.0%} / {t_filter / total:.0%} / {t_dedup / total:.0%}); "
        f"~{music:.0f} s of music generated"
    )


if __name__ == "__main__":
    main()
