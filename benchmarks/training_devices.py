"""Training throughput and reached cross-entropy on a given accelerator, same code.

Trains each model kind for a fixed wall-clock budget on a prepared dataset with the
paper profile's sizes, changing only the Trainer's accelerator/devices (and,
optionally, the batch size), and prints train events/s and the best validation
bound (bits/event). Run it on our CPU and on a GPU to see what a GPU changes:

    python benchmarks/training_devices.py --dataset build/runs/paper/dataset/tracks.npz \
        --accelerator gpu --minutes 2
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

from vrashlib.config import load_config
from vrashlib.data.tracks import TrackSet
from vrashlib.models.training import train_model


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--dataset", required=True, help="a TrackSet .npz with the split column set")
    p.add_argument("--accelerator", default="cpu")
    p.add_argument("--devices", default="1")
    p.add_argument("--minutes", type=float, default=2.0)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--kinds", nargs="*", default=["lm", "vae", "vrash"])
    args = p.parse_args()

    tracks = TrackSet.load(args.dataset)
    overrides = {
        "train.accelerator": args.accelerator,
        "train.devices": int(args.devices) if args.devices.isdigit() else args.devices,
        "train.max_minutes": args.minutes,
        "train.max_epochs": 10_000,
    }
    if args.batch_size:
        overrides["train.batch_size"] = args.batch_size
    if args.threads:
        overrides["train.threads"] = args.threads
    cfg = load_config("paper", overrides)
    crop = np.minimum(tracks.select(split="train").lengths + 1, cfg.train.max_len).mean()
    print(
        f"dataset: {len(tracks)} tracks; accelerator={args.accelerator}; batch={cfg.train.batch_size}; "
        f"{args.minutes} min per model; mean training window {crop:.0f} events"
    )
    print(
        f"{'model':6s} {'steps':>7s} {'seconds':>8s} {'events/s':>10s} {'best val bound (bits/event)':>28s}"
    )
    for kind in args.kinds:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            res = train_model(kind, tracks, cfg, tmp, progress=False, force=True)
            wall = time.perf_counter() - t0
        hist = res.history
        val = hist[hist["split"] == "val"]
        steps = int(hist["step"].max()) if len(hist) else 0
        events_per_s = steps * cfg.train.batch_size * crop / max(res.seconds, 1e-9)
        best = val["bound_total"].min() if len(val) else float("nan")
        print(
            f"{kind:6s} {steps:7d} {res.seconds:8.0f} {events_per_s:10.0f} {best:28.3f}   (wall {wall:.0f} s)"
        )


if __name__ == "__main__":
    main()
