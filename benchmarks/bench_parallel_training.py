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

Time to convergence: ``--set KEY=VALUE`` changes the config as ``vrash train --set``
does (e.g. ``train.max_steps=3000`` and ``train.max_minutes=null``: does early stopping
end the run before the cap?), ``--kinds`` trains only some models, ``--curve`` prints
each model's validation curve, and every latent model's best bound is printed beside
the LM's (this run's, or else the shipped LM of the seed) with the gap. ``--iw K`` adds
the importance-weighted bound with K codes per melody
(:func:`vrashlib.models.diagnostics.importance_weighted_bound`) on the melodies of the
latent diagnostics, for every model and the LM.

Run: ``.venv/bin/python benchmarks/bench_parallel_training.py [--profile paper]
[--seed 0] [--parallel 3] [--kinds vrash vae] [--set train.max_steps=3000] [--curve]
[--iw 64] [--out build/bench/parallel-training]`` (about 30-40 min on 2 cores for the
paper profile's three). Needs the profile's prepared dataset (notebook 01 or ``vrash
prepare``).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from vrashlib import paths
from vrashlib.cli import parse_overrides
from vrashlib.config import load_config
from vrashlib.data.prepare import load_prepared
from vrashlib.models import KINDS
from vrashlib.models.diagnostics import importance_weighted_bound
from vrashlib.models.evaluation import align_styles
from vrashlib.models.module import load_model, read_checkpoint
from vrashlib.models.parallel import Job, train_models
from vrashlib.models.weights import load_shipped
from vrashlib.sampling.reconstruct import recon_subset
from vrashlib.threads import torch_threads


def same_as_shipped(checkpoint: Path, folder: Path) -> str:
    """'identical', 'differs (max |diff| ...)' or 'no shipped weights'."""
    if not (folder / "manifest.json").exists():
        return "no shipped weights"
    shipped, _ = load_shipped(folder)
    ours, theirs = read_checkpoint(checkpoint)["state_dict"], shipped.net.state_dict()
    if ours.keys() != theirs.keys() or any(ours[k].shape != theirs[k].shape for k in ours):
        return "other parameters (another layout)"
    diffs = [
        float((ours[k] - theirs[k]).abs().max())
        for k in ours
        if not torch.equal(ours[k], theirs[k])
    ]
    if not diffs:
        return "identical"
    return f"differs in {len(diffs)} of {len(ours)} tensors (max |diff| {max(diffs):.2e})"


def curve(history) -> str:
    """The validation curve, one ``step: bound (CE, KL bits/melody)`` per validation."""
    val = history[history["split"] == "val"]
    return "\n".join(
        f"  {int(r.step):5d}: bound {r.bound_total:.3f}  CE {r.ce_total:.3f}  "
        f"KL {r.kl_per_track:5.1f} bits/melody"
        for r in val.itertuples()
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--profile", default="paper")
    ap.add_argument("--seed", type=int, default=None, help="training seed (default: the profile's)")
    ap.add_argument("--parallel", type=int, default=None, help="default: train.parallel")
    ap.add_argument("--kinds", nargs="+", choices=list(KINDS), default=list(KINDS))
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--curve", action="store_true", help="print every validation")
    ap.add_argument("--iw", type=int, default=0, metavar="K", help="importance-weighted bound")
    ap.add_argument("--out", default=str(paths.BUILD / "bench" / "parallel-training"))
    args = ap.parse_args()
    overrides = parse_overrides(args.set)
    if args.seed is not None:
        overrides["train.seed"] = args.seed
    cfg = load_config(args.profile, overrides)
    parallel = cfg.train.parallel if args.parallel is None else args.parallel
    dataset = paths.run_layout(args.profile).dataset
    tracks = load_prepared(dataset).tracks
    run = paths.RunLayout(Path(args.out))
    jobs = {kind: Job(kind, cfg, run.model_dir(kind)) for kind in args.kinds}
    how = (
        f"{min(parallel, len(jobs))} at once"
        if parallel > 1 and len(jobs) > 1
        else f"in this process, {cfg.train.threads} thread(s)"
    )  # as train_models runs them
    print(
        f"== {args.profile}: training {', '.join(jobs)} (seed {cfg.train.seed}), "
        f"{how}, into {run.root}; settings {overrides or 'of the profile'}"
    )
    start = time.perf_counter()
    results = train_models(jobs, tracks, parallel=parallel, force=True)
    wall = (time.perf_counter() - start) / 60
    bests = {}
    for kind, res in results.items():
        steps = int(res.history["step"].max()) if len(res.history) else 0
        val = res.history[res.history["split"] == "val"]
        best = val.loc[val["bound_total"].idxmin()]
        bests[kind] = float(best["bound_total"])
        shipped = paths.shipped_dir(cfg.profile, cfg.train.seed, kind)
        print(
            f"{kind:6s} {steps:5d} steps, stopped by {res.stop_reason:9s} "
            f"{res.seconds / 60:5.1f} min of its own; best bound {best['bound_total']:.3f} "
            f"bits/event at step {int(best['step'])}; vs shipped {shipped.parent.name}: "
            f"{same_as_shipped(res.checkpoint, shipped)}"
        )
        if args.curve:
            print(curve(res.history))
    print(f"wall clock, all {len(results)} models: {wall:.1f} min (target <= 45 min on 2 cores)")
    lm, lm_bound, lm_what = reference_lm(cfg, results, bests)
    print(f"the LM's best bound: {lm_bound:.3f} bits/event ({lm_what})")
    for kind in (k for k in results if KINDS[k][0]):
        print(f"{kind:6s} best bound - LM's: {bests[kind] - lm_bound:+.3f} bits/event")
    if args.iw:
        val = tracks.select(split="val")
        modules = {k: load_model(r.checkpoint) for k, r in results.items()}
        if lm is not None:
            modules = {"lm": lm, **modules}
        print(f"importance-weighted bound, {args.iw} codes per melody (bits/event):")
        for kind, module in modules.items():
            sub = recon_subset(
                align_styles(val, module.styles), cfg.diagnostics.n_recon, cfg.diagnostics.seed
            )
            with torch_threads(cfg.train.threads):
                iw = importance_weighted_bound(
                    module.net, sub, samples=args.iw, seed=cfg.diagnostics.seed
                )
            print(
                f"{kind:6s} on {len(sub)} validation melodies: IW bound {iw['iw_bound']:.3f}, "
                f"ELBO {iw['elbo_iw_sample']:.3f}"
            )


def reference_lm(cfg, results, bests) -> tuple:
    """The LM the gaps are measured to, its best validation bound and where it comes
    from: this run's LM (``bests``: best bound per trained model), else the shipped LM
    of the seed (None and NaN without either)."""
    if "lm" in results:
        return load_model(results["lm"].checkpoint), bests["lm"], "trained in this run"
    folder = paths.shipped_dir(cfg.profile, cfg.train.seed, "lm")
    if not (folder / "manifest.json").exists():
        return None, float("nan"), f"none: no LM trained here nor shipped at {folder}"
    lm, manifest = load_shipped(folder)
    return lm, float(manifest["best_val_bits"]), f"shipped: {manifest['steps']} steps, {folder}"


if __name__ == "__main__":
    main()
