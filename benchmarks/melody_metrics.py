"""Realism of generated melody sets against the real test tracks (notebook 03's table).

Per model and style: realness AUC (cross-validated logistic regression on interval
n-grams, seeded), the share of melodies shorter than 24 notes, with a run of >= 5
equal pitches, and with a leap of more than 12 semitones; ``real`` rows are the
reference (AUC: one half of the real tracks against the other). Records the
generated sets of a run folder (notebook 03 writes them), e.g. before and after a
change to the models:

    .venv/bin/python benchmarks/melody_metrics.py [--run build/runs/paper] [--out FILE.csv]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vrashlib import paths  # noqa: E402
from vrashlib.config import load_config  # noqa: E402
from vrashlib.data.prepare import load_prepared  # noqa: E402
from vrashlib.data.tracks import TrackSet  # noqa: E402
from vrashlib.files import atomic_write_text  # noqa: E402
from vrashlib.sampling.realism import melody_metrics  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="paper")
    parser.add_argument("--run", default=None, help="run folder (default: the profile's)")
    parser.add_argument("--models", nargs="*", default=["lm", "vae", "vrash"])
    parser.add_argument("--out", default=None, help="CSV to write (default: print only)")
    args = parser.parse_args()
    cfg = load_config(args.profile)
    run = paths.RunLayout(Path(args.run)) if args.run else paths.run_layout(args.profile)
    real = load_prepared(run.dataset).tracks.select(split="test")
    generated = {kind: TrackSet.load(run.generated(kind)) for kind in args.models}
    table = melody_metrics(generated, real, cfg.generate.styles, seed=cfg.generate.seed)
    print(f"run folder {run.root}: {', '.join(f'{k} {len(v)}' for k, v in generated.items())}")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    if args.out:
        atomic_write_text(args.out, table.to_csv(index=False, float_format="%.4f"))
        print(f"written to {args.out}")


if __name__ == "__main__":
    main()
