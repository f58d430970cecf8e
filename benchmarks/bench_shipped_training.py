"""How the shipped models trained: time to convergence and throughput, per seed and model.

Reads only the manifests in ``weights/<profile>/seed<N>/<kind>/`` (no model is loaded):
the step each model stopped at and why, its best validation bound (bits/event) and the
step it was reached, the first validation after each lowering of the rate by the
"plateau" schedule, the minutes of training and validation, and the training throughput
in steps per minute (three models at once on the machine that trained them, one thread
each).

Run: ``.venv/bin/python benchmarks/bench_shipped_training.py [--profile paper]``. Prints,
asserts nothing.
"""

from __future__ import annotations

import argparse
import json

from vrashlib import paths
from vrashlib.analysis.seeds import shipped_seeds
from vrashlib.config import load_config
from vrashlib.models.network import KINDS


def summary(manifest: dict) -> dict:
    """One model's line, from its manifest."""
    val = [row for row in manifest["history"] if row["split"] == "val"]
    best = min(val, key=lambda row: row["bound_total"])
    rates = [row.get("lr") for row in val]
    lowered = [val[i]["step"] for i in range(1, len(val)) if (rates[i] or 0) < (rates[i - 1] or 0)]
    minutes = manifest["train_seconds"] / 60.0
    return {
        "steps": manifest["steps"],
        "stop": manifest["stop_reason"],
        "best": best["bound_total"],
        "best_step": best["step"],
        "kl_bits": best.get("kl_per_track") or None,
        "lowered": lowered,
        "train_min": minutes,
        "val_min": manifest["val_seconds"] / 60.0,
        "steps_per_min": manifest["steps"] / minutes if minutes else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="paper")
    args = parser.parse_args()
    cfg = load_config(args.profile)
    seeds = shipped_seeds(cfg)
    if not seeds:
        print(f"no shipped weights under {paths.WEIGHTS / args.profile}")
        return
    for seed in seeds:
        print(f"== {args.profile} seed {seed}")
        best = {}
        for kind in KINDS:
            path = paths.shipped_dir(args.profile, seed, kind) / paths.SHIPPED_MANIFEST_FILE
            if not path.exists():
                print(f"  {kind:5s} not shipped")
                continue
            s = summary(json.loads(path.read_text()))
            best[kind] = s["best"]
            kl = f", KL {s['kl_bits']:.1f} bits/melody" if s["kl_bits"] else ""
            print(
                f"  {kind:5s} best bound {s['best']:.3f} at step {s['best_step']}{kl}; stopped by "
                f"{s['stop']} at {s['steps']}; rate lowered before the validations at {s['lowered'] or 'none'}; "
                f"{s['train_min']:.1f} + {s['val_min']:.1f} min (training + validation), "
                f"{s['steps_per_min']:.0f} steps/min"
            )
        if "lm" in best:
            gaps = ", ".join(
                f"{k} - lm {v - best['lm']:+.3f}" for k, v in best.items() if k != "lm"
            )
            print(f"  best bound {gaps} bits/event")


if __name__ == "__main__":
    main()
