"""Throughput of the filter's inputs and outputs: features, panel, Table 1, Filter.accept.

Prints tracks per second for the paper-profile scale (a few thousand melodies
of up to 256 events) and milliseconds per call for the stream's small batches.
Run: ``.venv/bin/python benchmarks/bench_features.py [n_tracks]``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.conftest import random_walk_tracks  # noqa: E402
from vrashlib.config import load_config  # noqa: E402
from vrashlib.data.tracks import TrackSet  # noqa: E402
from vrashlib.filter.autorater import fit_panel  # noqa: E402
from vrashlib.filter.classifiers import Filter, table1  # noqa: E402
from vrashlib.filter.features import compute_features  # noqa: E402


def _timed(fn, repeat: int = 1) -> float:
    """Best wall-clock seconds of ``repeat`` calls."""
    best = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main(n: int = 3000) -> None:
    rng = np.random.default_rng(0)
    tracks = random_walk_tracks(n, seed=0, min_len=32, max_len=256)
    ts = TrackSet.from_tracks(
        tracks, ("bach",), np.zeros(n), latent=rng.normal(size=(n, 32)).astype(np.float32)
    )
    events = int(ts.lengths.sum())
    s = _timed(lambda: compute_features(ts))
    print(f"compute_features: {n} tracks, {events} events in {s:.2f} s = {n / s:,.0f} tracks/s")
    panel = fit_panel(ts.subset(np.arange(n // 2)))
    s = _timed(lambda: panel.rate(ts))
    print(f"panel.rate:       {n} tracks in {s:.2f} s = {n / s:,.0f} tracks/s")
    feats = compute_features(ts, include_latent=False)
    good = (feats["pitch"] + rng.normal(0, 0.3, n) > feats["pitch"].quantile(0.7)).to_numpy()
    s = _timed(lambda: table1(feats, good))
    print(f"table1:           12 fits on {n} tracks in {s:.2f} s")
    for method in ("logreg", "svc_rbf", "heuristic"):
        flt = Filter.fit(
            ts, good, method=method, max_rules=load_config("paper").filter.heuristic_max_rules
        )
        for batch in (8, 64):
            sub = ts.subset(np.arange(batch))
            ms = 1000 * _timed(lambda sub=sub, flt=flt: flt.accept(sub), repeat=20)
            print(
                f"Filter.accept {method:9s} batch {batch:2d}: {ms:6.1f} ms ({ms / batch:.2f} ms/track)"
            )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3000)
