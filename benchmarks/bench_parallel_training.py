"""Time for the paper profile's three models to train from scratch: all at once
(``train.parallel``, one process and one thread each: what notebook 02 does) on this
machine. Prints figures, asserts nothing.

It trains LM, VAE and VRASH of the profile's seed into a scratch run folder (never
the run's own, never ``weights/``), with ``vrashlib.models.parallel.train_models``,
and prints:
- the wall-clock minutes from start to the last model done (target on our 2-core
  CPU: <= 45 minutes), and each model's steps, stop reason and minutes;
- whether each model's weights equal, bit for bit, the shipped weights of the same
  seed under ``weights/<profile>/seed<N>/`` (trained with ``train.threads`` threads,
  one model after another, or at once): the check that the number of threads and
  processes does not change a model.

Interrupted, it resumes each model from its last checkpoint when run again with the
same ``--out`` (the minutes printed are then those of the last run only).

Run: ``.venv/bin/python benchmarks/bench_parallel_training.py [--profile paper]
[--seed 0] [--parallel 3] [--out build/bench/parallel-training]`` (about 30-40 min
on 2 cores for the paper profile). Needs the profile's prepared dataset (notebook 01
or ``vrash prepare``).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from vrashlib import paths
from vrashlib.config import load_config
from vrashlib.data.prepare import load_prepared
from vrashlib.models import KINDS
from vrashlib.models.module import read_checkpoint
from vrashlib.models.parallel import Job, train_models
from vrashlib.models.weights import load_shipped


def same_as_shipped(checkpoint: Path, folder: Path) -> str:
    """'identical', 'differs (max |diff| ...)' or 'no shipped weights'."""
    if not (folder / "manifest.json").exists():
        return "no shipped weights"
    shipped, _ = load_shipped(folder)
    ours, theirs = read_checkpoint(checkpoint)["state_dict"], shipped.net.state_dict()
    if ours.keys() != theirs.keys():
        return "other parameters (another layout)"
    diffs = [
        float((ours[k] - theirs[k]).abs().max())
        for k in ours
        if not torch.equal(ours[k], theirs[k])
    ]
    if not diffs:
        return "identical"
    return f"differs in {len(diffs)} of {len(ours)} tensors (max |diff| {max(diffs):.2e})"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--profile", default="paper")
    ap.add_argument("--seed", type=int, default=None, help="training seed (default: the profile's)")
    ap.add_argument("--parallel", type=int, default=None, help="default: train.parallel")
    ap.add_argument("--out", default=str(paths.BUILD / "bench" / "parallel-training"))
    args = ap.parse_args()
    overrides = {} if args.seed is None else {"train.seed": args.seed}
    cfg = load_config(args.profile, overrides)
    parallel = cfg.train.parallel if args.parallel is None else args.parallel
    dataset = paths.run_layout(args.profile).dataset
    tracks = load_prepared(dataset).tracks
    run = paths.RunLayout(Path(args.out))
    jobs = {kind: Job(kind, cfg, run.model_dir(kind)) for kind in KINDS}
    print(
        f"== {args.profile}: training {', '.join(KINDS)} (seed {cfg.train.seed}), "
        f"{parallel} at once, into {run.root}"
    )
    start = time.perf_counter()
    results = train_models(jobs, tracks, parallel=parallel, force=True)
    wall = (time.perf_counter() - start) / 60
    for kind, res in results.items():
        steps = int(res.history["step"].max()) if len(res.history) else 0
        shipped = paths.shipped_dir(cfg.profile, cfg.train.seed, kind)
        print(
            f"{kind:6s} {steps:5d} steps, stopped by {res.stop_reason:9s} "
            f"{res.seconds / 60:5.1f} min of its own; vs shipped {shipped.parent.name}: "
            f"{same_as_shipped(res.checkpoint, shipped)}"
        )
    print(f"wall clock, all {len(results)} models: {wall:.1f} min (target <= 45 min on 2 cores)")


if __name__ == "__main__":
    main()
