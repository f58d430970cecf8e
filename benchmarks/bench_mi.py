"""Time of the Fig. 6 mutual-information curves: the corpus and thousands of generated tracks.

Target: the whole corpus and several thousand generated tracks in well under a
minute. Uses the prepared corpus of a run folder when it exists (``--run``,
default the profile's run), else random-walk stand-ins of corpus size; the
generated side is always ``--generated`` random-walk melodies of up to 256 events.
Each curve: the profile's distances, bootstrap replicates and noise floor.

    .venv/bin/python benchmarks/bench_mi.py [--profile paper] [--generated 5000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.conftest import random_walk_tracks  # noqa: E402
from vrashlib import paths  # noqa: E402
from vrashlib.analysis import mi  # noqa: E402
from vrashlib.config import load_config  # noqa: E402
from vrashlib.data.tracks import TrackSet  # noqa: E402


def corpus(run: paths.RunLayout) -> tuple[TrackSet, str]:
    if run.dataset.exists():
        from vrashlib.data.prepare import load_prepared

        return load_prepared(run.dataset).tracks, f"prepared corpus in {run.dataset}"
    walks = random_walk_tracks(12_000, seed=0, min_len=20, max_len=100)
    ts = TrackSet.from_tracks(walks, ("a", "b", "c", "d", "e"), np.arange(len(walks)) % 5)
    return ts, "random-walk stand-in of corpus size (no prepared corpus found)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--profile", default="paper")
    ap.add_argument("--run", default=None)
    ap.add_argument("--generated", type=int, default=5000)
    args = ap.parse_args()
    cfg = load_config(args.profile).mi
    real, source = corpus(
        paths.RunLayout(Path(args.run)) if args.run else paths.run_layout(args.profile)
    )
    walks = random_walk_tracks(args.generated, seed=1, min_len=64, max_len=256)
    gen = TrackSet.from_tracks(walks, ("bach",), np.zeros(len(walks), int))
    print(f"MI config ({args.profile}): {cfg}")
    print(
        f"corpus: {source}: {len(real)} tracks, {len(real.events)} events, styles {list(real.styles)}"
    )
    t0 = time.perf_counter()
    for style in real.styles:
        mi.mi_curve(real.select(style=style), cfg, seed=0)
    t_real = time.perf_counter() - t0
    t0 = time.perf_counter()
    mi.mi_curve(real, cfg, seed=0)
    t_all = time.perf_counter() - t0
    t0 = time.perf_counter()
    mi.mi_curve(gen, cfg, seed=0)
    t_gen = time.perf_counter() - t0
    total = t_real + t_all + t_gen
    print(f"corpus, one curve per style ({len(real.styles)} curves): {t_real:.2f} s")
    print(
        f"corpus, one pooled curve: {t_all:.2f} s ({len(real.events) / t_all / 1e6:.2f} M events/s)"
    )
    print(f"{len(gen)} generated tracks ({len(gen.events)} events), one curve: {t_gen:.2f} s")
    print(f"total {total:.1f} s (target: well under 60 s) -> {60 / total:.1f}x under a minute")
    t0 = time.perf_counter()
    mi.mutual_information(
        real, mi.log_distances(cfg.max_distance, cfg.n_distances), token=cfg.token
    )
    print(f"point estimates only, pooled corpus: {time.perf_counter() - t0:.2f} s")


if __name__ == "__main__":
    main()
