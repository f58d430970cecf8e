"""Time of the claims ledger's measurements (notebooks 04, 05 and 07) on a run folder.

Budget: the paper profile's notebooks 03-07 together in about 10 minutes on 2 CPU
cores. This prints the seconds of each costly step, on the trained models,
generated sets, ratings and filter of a run folder (``--run``, default the
profile's run: run ``vrash reproduce --profile PROFILE`` up to notebook 04 first),
with the profile's settings (``--set`` overrides them, e.g. ``claims.n_per_seed=50``).

    .venv/bin/python benchmarks/bench_claims.py [--profile paper] [--set KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vrashlib import paths  # noqa: E402
from vrashlib.analysis import fig6, seed_claims, seeds, table1  # noqa: E402
from vrashlib.config import load_config  # noqa: E402


class Clock:
    def __init__(self) -> None:
        self.rows: list[tuple[str, float]] = []

    def __call__(self, name: str, fn, *args, **kwargs):
        t0 = time.perf_counter()
        out = fn(*args, **kwargs)
        dt = time.perf_counter() - t0
        self.rows.append((name, dt))
        print(f"{dt:8.1f} s  {name}", flush=True)
        return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--profile", default="paper")
    ap.add_argument("--run", default=None)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = ap.parse_args()
    overrides = {k: json.loads(v) for k, _, v in (s.partition("=") for s in args.set)}
    cfg = load_config(args.profile, overrides)
    run = paths.RunLayout(Path(args.run)) if args.run else paths.run_layout(args.profile)
    missing = [
        p for p in (run.dataset, run.filter, run.ratings, run.generated("vrash")) if not p.exists()
    ]
    if missing:
        sys.exit(f"run notebooks 01-04 first: missing {', '.join(map(str, missing))}")

    from vrashlib.data.prepare import load_prepared
    from vrashlib.data.tracks import TrackSet
    from vrashlib.filter import autorater, classifiers, features, ratings
    from vrashlib.filter.classifiers import Filter
    from vrashlib.models.module import load_model

    clock = Clock()
    tracks = load_prepared(run.dataset).tracks
    kinds = seed_claims.KINDS
    models = clock("load the trained seeds", seeds.trained_models, cfg, run, tracks, kinds)
    print(f"         seeds: {seeds.describe(models, cfg.claims.generation_seeds)}")

    # notebook 04: Table 1 on repeated splits, the heuristics
    generated = {k: TrackSet.load(run.generated(k)) for k in kinds}
    sets = {
        "real": autorater.holdout_sample(tracks, cfg.filter.n_real_rated, cfg.filter.seed),
        **generated,
    }
    rated = ratings.rating_table(sets, ratings.load_ratings(run.ratings))
    x = features.compute_features_many(sets, cfg.filter.windows).loc[rated.index]
    good = rated["good"].to_numpy()
    source = rated.index.get_level_values("source").to_numpy()
    pool, _ = classifiers.pool_mask(source != "real", good)
    pools, note = table1.protocol_pools(cfg, generated, rated, x, good, pool)
    print(f"         Table 1 pools: {note}")
    clock(
        "04: Table 1, both protocols, repeated splits + PR curves",
        table1.evaluate_protocols, pools, shares=cfg.filter.test_shares,
        n_splits=cfg.filter.n_splits, seed=cfg.filter.seed, threads=cfg.filter.threads,
    )  # fmt: skip
    fc = cfg.filter
    clock(
        "04: strict heuristics, repeated splits", table1.heuristics_on_splits, x[pool], good[pool],
        n_splits=fc.n_splits, test_share=fc.heuristic_test_share, max_rules=fc.heuristic_max_rules,
        min_support=fc.heuristic_min_support, seed=fc.seed,
    )  # fmt: skip

    # notebook 05: fresh long melodies, curves, observations
    mi_models = {t: {k: m[k] for k in ("vrash", "lm")} for t, m in models.items()}
    filters = clock(
        "05: filters of the training seeds",
        seeds.seed_filters,
        mi_models,
        Filter.load(run.filter),
        cfg,
        tracks,
    )
    first, second = cfg.generate.styles[:2]
    samples = clock(
        "05: fresh long melodies", seeds.sample_runs, mi_models, cfg, n=cfg.mi.n_per_set,
        n_generation=cfg.mi.n_sets, styles=(first, second), max_len=cfg.mi.gen_max_len,
        min_len=cfg.mi.min_len, temperature=cfg.generate.temperature,
    )  # fmt: skip
    runs = fig6.run_sets(samples, filters, (first, second))
    lengths = np.concatenate([ts.lengths for r in runs.values() for ts in r.values()])
    print(f"         fresh melodies: median {np.median(lengths):.0f} events, max {lengths.max()}")
    real_sets = {fig6.curve_name("real", s): tracks.select(style=s) for s in tracks.styles}
    pooled = fig6.pooled(runs, cfg.train.seed)
    clock(
        "05: curves for the figure (both tokens)",
        fig6.mi_curves,
        {**real_sets, **pooled},
        cfg.mi,
        (cfg.mi.token, cfg.mi.key_token),
    )
    clock(
        "05: observations with intervals (both tokens)", fig6.measure, runs, real_sets, cfg.mi,
        first, second, tokens=(cfg.mi.token, cfg.mi.key_token),
    )  # fmt: skip

    # notebook 07
    clock("07: Fig. 4 on every seed", seed_claims.fig4_measurements, models, tracks, cfg)
    claim_sets = clock(
        "07: fresh melodies, 3 temperatures", seed_claims.sample_claim_sets, models, cfg
    )
    n_seeds = seeds.describe(models, cfg.claims.generation_seeds)
    clock(
        "07: acceptance + repeated notes",
        seed_claims.melody_measurements,
        claim_sets,
        tracks,
        cfg,
        n_seeds,
    )
    clock(
        "07: similarity table",
        seed_claims.similarity_table,
        claim_sets[cfg.generate.temperature],
        tracks,
        cfg,
        n_seeds,
    )
    clock(
        "07: stream real-time factor", seed_claims.stream_measurement,
        load_model(run.model_path(cfg.stream.model)), Filter.load(run.filter), cfg,
        tracks.select(split="train"),
    )  # fmt: skip
    total = sum(dt for _, dt in clock.rows)
    print(f"{total:8.1f} s  total (budget for notebooks 03-07 together: ~600 s)")


if __name__ == "__main__":
    main()
