"""Speed of the models on this machine: prints figures and ratios, asserts nothing.

1. Training throughput (events/s, forward + backward + Adam step) of our RHN
   against ``nn.LSTM`` of the same width and layer count, on the same batch.
2. Sampling from a paper-size VRASH: one melody at batch 1 on one thread (ms per
   event and real-time factor at a typical tempo of the corpus), batches of 64 on
   one thread, and two batches of 64 at once on the two cores (worker processes,
   their start included). Then where the time goes: batch 1 against the decoder
   width (weights read per event vs the L2 cache), and the arithmetic floor of
   batch 64 at one core's peak.
3. Peak memory (RSS) of training.
4. Time to convergence of each trained model, read from its training history (the
   run folder's ``model.ckpt`` and the shipped manifests under ``weights/``): steps,
   why training stopped, the step and minutes at which the best validation bound
   was reached, training and validation minutes, and the training loop's
   throughput (events/s, data loading included).

Targets (2-core CPU): RHN (hidden 256, depth 3) >= 40k events/s at 2 threads and
>= 0.65x a 3-layer LSTM; batch-1 sampling <= 0.1 ms/event; batch 64 >= 100k events/s;
the three paper models together converge in <= 45 minutes.
Run: ``.venv/bin/python benchmarks/bench_models.py [--quick] [--convergence-only]
[--profile paper] [--run DIR]``.
"""

from __future__ import annotations

import argparse
import resource
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from vrashlib import paths
from vrashlib.config import load_config
from vrashlib.data.encoding import DUR_ONE, END
from vrashlib.data.tracks import TrackSet
from vrashlib.models import KINDS
from vrashlib.models.module import read_checkpoint
from vrashlib.models.network import build_net
from vrashlib.models.rhn import RHN
from vrashlib.models.training import build_module
from vrashlib.models.weights import read_manifest
from vrashlib.sampling.sampler import export_sampler
from vrashlib.sampling.workers import sample_batches

UNIT_SECONDS = 0.25  # a typical median event length of the corpus (seconds)


def train_throughput(model: nn.Module, x: torch.Tensor, repeats: int) -> float:
    """Events per second of forward + backward + Adam step on one batch (T, B, in)."""
    opt = torch.optim.Adam(model.parameters())
    for i in range(repeats + 2):
        if i == 2:
            start = time.perf_counter()
        out = model(x)[0]
        loss = out.square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return x.shape[0] * x.shape[1] * repeats / (time.perf_counter() - start)


def sampling(module, batch: int, steps: int, threads: int = 1) -> float:
    """Seconds per event of ``vrashlib.sampling.sampler`` (numpy below batch 8, torch from 8)
    with the end marker disabled, so that every melody runs to ``steps`` events.
    With ``threads`` > 1, that many batches run at once, one per core (process start included)."""
    with torch.no_grad():
        module.net.head.bias[END] = -1e30
    p = export_sampler(module)
    z = np.zeros((batch, p["z_dim"]), np.float32) if p["latent"] else None
    jobs = [(batch, z, np.random.default_rng(i)) for i in range(4 * threads)]
    sample_batches(p, 0, jobs[:threads], max_len=8, temperature=1.0, threads=threads)  # warm-up
    start = time.perf_counter()
    out = sample_batches(p, 0, jobs, max_len=steps, temperature=1.0, threads=threads)
    return (time.perf_counter() - start) / sum(len(m) for part in out for m in part)


def _arrays(v) -> list[np.ndarray]:
    return [a for x in v for a in _arrays(x)] if isinstance(v, list) else [v]


def network_train_rate(net: nn.Module, T: int, B: int, reps: int) -> float:
    """Events/s of whole training steps (forward, the three heads' loss, backward, Adam)
    of ``net`` on random events, ``T`` steps x ``B`` tracks, after one warm-up step."""
    ev = torch.randint(0, 10, (T, B, 3))
    lengths, style = torch.full((B,), T), torch.zeros(B, dtype=torch.long)
    opt = torch.optim.Adam(net.parameters())
    for i in range(reps + 1):
        if i == 1:
            start = time.perf_counter()
        out = net(ev, lengths, style)
        loss = sum(
            nn.functional.cross_entropy(out[h].flatten(0, 1), ev[..., k].flatten())
            for k, h in enumerate(("pc", "oct", "dur"))
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
    return T * B * reps / (time.perf_counter() - start)


def convergence(history: list[dict]) -> dict:
    """Steps, minutes and throughput of one training run, from its history rows."""
    h = pd.DataFrame(history)
    if "val_seconds" not in h:  # histories written before validation was timed
        h["val_seconds"] = np.nan
    val, train, last = h[h["split"] == "val"], h[h["split"] == "train"], h.iloc[-1]
    best = val.loc[val["bound_total"].idxmin()] if len(val) else last
    return {
        "steps": int(last["step"]),
        "best step": int(best["step"]),
        "best bound": float(best.get("bound_total", np.nan)),
        "min to best": (best["seconds"] + best["val_seconds"]) / 60,
        "train min": last["seconds"] / 60,
        "val min": last["val_seconds"] / 60,
        "total min": (last["seconds"] + last["val_seconds"]) / 60,
        "train ev/s": train["n_events"].sum() / last["seconds"] if last["seconds"] else np.nan,
    }


def convergence_report(profile: str, run: Path) -> None:
    """Section 4: one row per trained model found in the run folder or under weights/."""
    rows = []
    for kind in KINDS:
        ckpt = paths.RunLayout(run).checkpoint(kind)
        if ckpt.exists():
            payload = read_checkpoint(ckpt)
            stop = payload.get("stop_reason", "")
            rows.append({"source": f"run {run.name}", "kind": kind, "stopped by": stop,
                         **convergence(payload["history"])})  # fmt: skip
        for folder in sorted(paths.WEIGHTS.glob(f"{profile}/seed*/{kind}")):
            manifest = read_manifest(folder)
            rows.append({"source": f"weights {folder.parent.name}", "kind": kind,
                         "stopped by": manifest["stop_reason"],
                         **convergence(manifest["history"])})  # fmt: skip
    print(f"== time to convergence ({profile}: run folder {run}, shipped weights {paths.WEIGHTS})")
    if not rows:
        print("no trained models found: train them (make figures RETRAIN=1) and run this again")
        return
    table = pd.DataFrame(rows)
    print(table.to_string(index=False, float_format=lambda x: f"{x:.2f}"))
    for source, part in table.groupby("source"):
        print(f"{source}: the {len(part)} models took {part['total min'].sum():.1f} min together")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer repeats")
    ap.add_argument("--convergence-only", action="store_true", help="only section 4")
    ap.add_argument("--profile", default="paper", help="whose trained models section 4 reads")
    ap.add_argument("--run", default=None, help="run folder (default: the profile's)")
    args = ap.parse_args()
    run = Path(args.run) if args.run else paths.BUILD / "runs" / args.profile
    if args.convergence_only:
        convergence_report(args.profile, run)
        return
    reps = 2 if args.quick else 5
    cfg = load_config("paper")
    H, L = cfg.model.hidden, cfg.model.depth
    inp = cfg.model.pc_embed + cfg.model.oct_embed + cfg.model.dur_embed + cfg.model.style_embed
    T = 64
    print(
        f"== training throughput (T={T}, input {inp}, hidden {H}; RHN depth {L} vs LSTM {L} layers)"
    )
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for B in (64, cfg.train.batch_size):
            torch.manual_seed(0)
            x = torch.randn(T, B, inp)
            rhn = train_throughput(RHN(inp, H, L), x, reps)
            lstm = train_throughput(nn.LSTM(inp, H, L), x, reps)
            print(
                f"threads {threads} batch {B:4d}: RHN {rhn:8.0f} ev/s  LSTM {lstm:8.0f} ev/s  ratio {rhn / lstm:.2f}x"
            )

    torch.set_num_threads(2)
    tracks = TrackSet.from_tracks(
        [np.array([[0, 4, DUR_ONE]] * 8, np.int16)] * 2, ("bach", "fiddle"), [0, 1], split=[0, 1]
    )
    for kind in ("lm", "vrash"):
        torch.manual_seed(0)
        net = build_net(kind, 6, cfg.model)
        B = cfg.train.batch_size
        rate = network_train_rate(net, T, B, reps)
        print(f"full {kind:5s} network (heads, encoder), 2 threads, batch {B}: {rate:8.0f} ev/s")

    print("== sampling (paper-size VRASH, vrashlib.sampling.sampler)")
    module = build_module("vrash", tracks, cfg).eval()
    for threads, batch, steps in ((1, 1, 1024), (1, 64, 256), (2, 64, 256)):
        sec = sampling(module, batch, steps, threads)
        how = "one batch at a time" if threads == 1 else f"{threads} batches at once (processes)"
        line = f"batch {batch:2d}, {threads} thread(s), {how}: {sec * 1e3:.4f} ms/event, {1 / sec:7.0f} events/s"
        if batch == 1:
            line += f", {UNIT_SECONDS / sec:.0f}x real time (at {UNIT_SECONDS} s/event)"
        print(line)
    print("== batch 1, 1 thread, against the decoder width: where the time goes")
    print("   (weights read per event vs a core's 2 MiB L2 cache; the GEMM floor at batch 64)")
    for hidden in (128, 192, 256):
        small = build_module("vrash", tracks, replace(cfg, model=replace(cfg.model, hidden=hidden)))
        p = export_sampler(small.eval())
        mib = sum(a.nbytes for m in ("r", "head_w", "out_dur_w") for a in _arrays(p["np"][m]))
        sec = sampling(small, 1, 512)
        print(
            f"hidden {hidden}: {mib / 2**20:.2f} MiB of weights per event, {sec * 1e3:.4f} ms/event"
        )
    flops = 2 * (L * H * 2 * H + H * p["head_w"].shape[1] + cfg.model.event_head * 395)
    print(
        f"batch 64: {flops / 1e3:.0f} kFLOP per event in matrix products; at the ~166 GFLOP/s "
        f"float32 peak of one AVX-512 core that alone allows {166e9 / flops:.0f} events/s"
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"== peak memory (RSS) of this process, training included: {peak:.0f} MiB")
    convergence_report(args.profile, run)


if __name__ == "__main__":
    main()
