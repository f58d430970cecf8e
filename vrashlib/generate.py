"""Sample melodies from LM / VAE / VRASH, and the ``vrash generate`` command.

The trained network is read under ``torch.inference_mode()`` and exported once
into float32 numpy arrays: the note embeddings are folded into the decoder's
input projection (one ``(vocab, 2H)`` table per note field) and the style, z and
bias into one constant per melody. The step loop then costs a few array
operations per micro-step. That matters: at batch 1, torch's per-operator
overhead alone (~35 operators x a few microseconds) exceeds the 0.1 ms per event
budget of the live stream, while numpy meets it. ``tests/test_generate.py``
checks that the exported sampler reproduces the torch network's logits.

Sampling is exact ancestral sampling from the three heads: pitch class first,
then octave and duration from their heads restricted to what that pitch class
allows (a rest or the end marker has no octave; only the end marker has no
duration). The end marker is not allowed as the very first event.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from threadpoolctl import threadpool_limits

from vrashlib.encoding import (
    DUR_NONE,
    DUR_VOCAB,
    END,
    N_PITCH_CLASSES,
    OCT_NONE,
    OCT_VOCAB,
    PC_VOCAB,
)
from vrashlib.lightning import MelodyModule
from vrashlib.models import UNKNOWN
from vrashlib.tracks import TrackSet

_MASKED = np.float32(-1e30)


def _masks() -> tuple[np.ndarray, np.ndarray]:
    """Additive logit masks of the octave and duration heads, per sampled pitch class."""
    octm = np.full((PC_VOCAB, OCT_VOCAB), _MASKED, np.float32)
    octm[:N_PITCH_CLASSES, :OCT_NONE] = 0.0
    octm[N_PITCH_CLASSES:, OCT_NONE] = 0.0
    durm = np.zeros((PC_VOCAB, DUR_VOCAB), np.float32)
    durm[:, DUR_NONE] = _MASKED
    durm[END] = _MASKED
    durm[END, DUR_NONE] = 0.0
    return octm, durm


OCT_MASK, DUR_MASK = _masks()


def export_sampler(module: MelodyModule) -> dict:
    """The decoder's weights as float32 numpy arrays, embeddings folded in."""
    net = module.net
    with torch.inference_mode():
        dec = net.decoder
        w0 = dec.w_in[0].detach().float()
        col = 0
        tables = []
        if net.history:
            for emb in net.emb:
                d = emb.embedding_dim
                tables.append((emb.weight.float() @ w0[:, col : col + d].T).numpy())
                col += d
        d = net.emb_style.embedding_dim
        style_tab = (net.emb_style.weight.float() @ w0[:, col : col + d].T).numpy()
        col += d
        w_z = w0[:, col:].T.numpy().copy() if net.latent else None
        p = {
            "kind": net.kind,
            "history": net.history,
            "latent": net.latent,
            "z_dim": net.z_dim,
            "depth": dec.depth,
            "hidden": dec.hidden,
            "tables": [t.astype(np.float32) for t in tables],
            "style": style_tab.astype(np.float32),
            "w_z": w_z,
            "b": dec.b.detach().float().numpy().copy(),
            "r": dec.r.detach().float().numpy().copy(),
            "w_in": [w.detach().float().T.numpy().copy() for w in dec.w_in],
            "head_w": net.head.weight.detach().float().T.numpy().copy(),
            "head_b": net.head.bias.detach().float().numpy().copy(),
            "event_head": net.cfg.event_head,
        }
        if net.cfg.event_head:
            p["cond_in_w"] = net.cond_in.weight.detach().float().T.numpy().copy()
            p["cond_in_b"] = net.cond_in.bias.detach().float().numpy().copy()
            p["cond_pc"] = net.cond_pc.weight.detach().float().numpy().copy()
            p["cond_oct"] = net.cond_oct.weight.detach().float().numpy().copy()
            for name in ("oct", "dur"):
                lin = getattr(net, f"cond_out_{name}")
                p[f"cond_out_{name}_w"] = lin.weight.detach().float().T.numpy().copy()
                p[f"cond_out_{name}_b"] = lin.bias.detach().float().numpy().copy()
    H = p["hidden"]  # halve every gate pre-activation: sigmoid(a) = (1 + tanh(a / 2)) / 2
    for arr in (*p["tables"], p["style"], p["w_z"], p["b"], p["r"], *p["w_in"]):
        if arr is not None:
            arr[..., H:] *= 0.5
    return p


def _cells(p: dict, xp: np.ndarray, state: np.ndarray) -> np.ndarray:
    """One time step of every decoder layer (the RHN equations in numpy).

    The gate half of every pre-activation was halved at export, so one ``tanh``
    over both halves gives the candidate and, as ``(1 + tanh(a / 2)) / 2``, the
    sigmoid transform gate (numpy's sigmoid is ~10x slower than its tanh).
    """
    H = p["hidden"]
    new = np.empty_like(state)
    for layer in range(state.shape[0]):
        if layer:
            xp = new[layer - 1] @ p["w_in"][layer] + p["b"][layer, 0]
        s = state[layer]
        for micro in range(p["depth"]):
            pre = s @ p["r"][layer, micro]
            pre += xp if micro == 0 else p["b"][layer, micro]
            np.tanh(pre, out=pre)
            h, gate = pre[:, :H], pre[:, H:]
            gate += 1.0
            gate *= 0.5
            h -= s
            h *= gate
            s = s + h  # s + t * (candidate - s)
        new[layer] = s
    return new


def octave_given_pc(p: dict, hidden: np.ndarray, pc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The octave head's conditional term for the drawn pitch classes, and the
    duration layer's pre-activation so far (see ``MelodyNet.logits``); zeros
    without an event head."""
    if not p["event_head"]:
        return np.zeros((len(pc), OCT_VOCAB), np.float32), None
    e = p["event_head"]
    pre = hidden @ p["cond_in_w"] + p["cond_in_b"] + p["cond_pc"][pc]
    return np.tanh(pre[:, :e]) @ p["cond_out_oct_w"] + p["cond_out_oct_b"], pre[:, e:]


def duration_given_pc_octave(p: dict, pre: np.ndarray | None, octv: np.ndarray) -> np.ndarray:
    """The duration head's conditional term for the drawn pitch class and octave."""
    if pre is None:
        return np.zeros((len(octv), DUR_VOCAB), np.float32)
    return np.tanh(pre + p["cond_oct"][octv]) @ p["cond_out_dur_w"] + p["cond_out_dur_b"]


def _exp_(x: np.ndarray) -> np.ndarray:
    """In-place exp; large arrays go through torch's vectorised kernel (several
    times faster than this numpy build's), small ones avoid torch's call overhead."""
    if x.size > 2048:
        torch.from_numpy(x).exp_()
    else:
        np.exp(x, out=x)
    return x


def _draw(logits: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Inverse-CDF sampling of one index per row from unnormalised logits."""
    prob = _exp_(logits - logits.max(axis=1, keepdims=True))
    cdf = np.cumsum(prob, axis=1)
    idx = (cdf < (u * cdf[:, -1])[:, None]).sum(axis=1)
    return np.minimum(idx, logits.shape[1] - 1)


def _sample_batch(
    p: dict,
    style_idx: int,
    z: np.ndarray | None,
    B: int,
    max_len: int,
    temperature: float,
    rng: np.random.Generator,
    shared_noise: bool,
) -> list[np.ndarray]:
    """Sample ``B`` melodies (end marker stripped) with the exported weights."""
    layers, H = p["r"].shape[0], p["hidden"]
    const = np.broadcast_to(p["style"][style_idx] + p["b"][0, 0], (B, 2 * H)).copy()
    if p["latent"]:
        const += z.astype(np.float32) @ p["w_z"]
    state = np.zeros((layers, B, H), np.float32)
    prev = np.broadcast_to(np.array(UNKNOWN), (B, 3)).copy()
    out = np.zeros((max_len, B, 3), np.int16)
    alive = np.arange(B)  # rows still composing
    lengths = np.full(B, max_len)
    inv_t = np.float32(1.0 / temperature)
    for step in range(max_len):
        xp = const
        if p["history"]:
            t_pc, t_oct, t_dur = p["tables"]
            xp = const + t_pc[prev[:, 0]] + t_oct[prev[:, 1]] + t_dur[prev[:, 2]]
        state = _cells(p, xp, state)
        hidden = state[-1]
        logits = hidden @ p["head_w"] + p["head_b"]
        lp, lo, ld = np.split(logits, [PC_VOCAB, PC_VOCAB + OCT_VOCAB], axis=1)
        lp = lp * inv_t
        if step == 0:
            lp[:, END] = _MASKED
        u = rng.random((1 if shared_noise else len(alive), 3), dtype=np.float32)
        u = np.broadcast_to(u, (len(alive), 3))
        pc = _draw(lp, u[:, 0])
        cond_oct, pre = octave_given_pc(p, hidden, pc)
        octv = _draw((lo + cond_oct) * inv_t + OCT_MASK[pc], u[:, 1])
        cond_dur = duration_given_pc_octave(p, pre, octv)
        dur = _draw((ld + cond_dur) * inv_t + DUR_MASK[pc], u[:, 2])
        ev = np.stack([pc, octv, dur], axis=1)
        out[step, alive] = ev
        done = pc == END
        if done.any():
            lengths[alive[done]] = step
            keep = ~done
            alive, state, const, ev = alive[keep], state[:, keep], const[keep], ev[keep]
            if not len(alive):
                break
        prev = ev
    return [out[: lengths[b], b].copy() for b in range(B)]


def _style_index(module: MelodyModule, style: str) -> int:
    if style not in module.styles:
        raise KeyError(
            f"style {style!r} unknown to this {module.kind} model; it knows {module.styles}"
        )
    return module.styles.index(style)


def sample(
    model: MelodyModule,
    n: int,
    style: str,
    *,
    max_len: int,
    temperature: float = 1.0,
    seed: int = 0,
    z: torch.Tensor | np.ndarray | None = None,
    batch_size: int = 64,
    shared_noise: bool = False,
    threads: int = 1,
) -> TrackSet:
    """``n`` melodies of ``style`` (at most ``max_len`` events each), as a TrackSet.

    VAE/VRASH draw ``z ~ N(0, I)`` unless ``z`` (``(n, z_dim)`` or ``(z_dim,)``) is
    given, and store it in ``latent``; an LM takes no ``z``. Deterministic for a
    given ``seed`` and ``batch_size``. ``shared_noise``: every melody of a batch
    uses the same random numbers (so melodies differ only through z).
    ``threads``: BLAS/torch threads while sampling (1 is fastest up to batch ~64).
    """
    if n < 1 or max_len < 1 or temperature <= 0:
        raise ValueError(
            f"need n >= 1, max_len >= 1, temperature > 0; got {n=} {max_len=} {temperature=}"
        )
    s_idx = _style_index(model, style)
    p = export_sampler(model)
    rng = np.random.default_rng(seed)
    if p["latent"]:
        if z is None:
            z = rng.standard_normal((n, p["z_dim"])).astype(np.float32)
        z = np.asarray(z.detach().cpu() if isinstance(z, torch.Tensor) else z, np.float32)
        z = np.broadcast_to(z, (n, p["z_dim"])) if z.ndim == 1 else z
        if z.shape != (n, p["z_dim"]):
            raise ValueError(f"z must have shape ({n}, {p['z_dim']}), got {z.shape}")
    elif z is not None:
        raise ValueError(f"a {model.kind} model has no latent code; pass z=None")
    melodies: list[np.ndarray] = []
    torch_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with threadpool_limits(threads):
            for b, start in enumerate(range(0, n, batch_size)):
                size = min(batch_size, n - start)
                zb = None if z is None else z[start : start + size]
                rng_b = np.random.default_rng([seed, b])
                melodies += _sample_batch(
                    p, s_idx, zb, size, max_len, temperature, rng_b, shared_noise
                )
    finally:
        torch.set_num_threads(torch_threads)
    return TrackSet.from_tracks(
        melodies,
        model.styles,
        np.full(n, s_idx),
        unit_seconds=np.full(n, model.unit_seconds.get(style, 0.25)),
        ids=[f"{model.kind}/{style}/{i:04d}" for i in range(n)],
        latent=None if z is None else np.ascontiguousarray(z),
        meta={"model": model.kind, "temperature": temperature, "seed": seed, "max_len": max_len},
    )


def interpolate(
    model: MelodyModule,
    z0: torch.Tensor | np.ndarray,
    z1: torch.Tensor | np.ndarray,
    steps: int,
    style: str,
    *,
    max_len: int,
    temperature: float = 1.0,
    seed: int = 0,
) -> TrackSet:
    """Melodies along the straight line from ``z0`` to ``z1`` (``steps`` points, ends
    included), all with the same sampling noise so that only z changes."""
    if not model.net.latent:
        raise ValueError(f"a {model.kind} model has no latent space to interpolate in")
    z0, z1 = (
        np.asarray(v.detach().cpu() if isinstance(v, torch.Tensor) else v, np.float32)
        for v in (z0, z1)
    )
    w = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
    z = (1 - w) * z0[None] + w * z1[None]
    return sample(
        model,
        steps,
        style,
        max_len=max_len,
        temperature=temperature,
        seed=seed,
        z=z,
        batch_size=steps,
        shared_noise=True,
    )


def encode(model: MelodyModule, tracks: TrackSet, batch_size: int = 64) -> np.ndarray:
    """Posterior means ``(n, z_dim)`` of real tracks (VAE/VRASH), in track order."""
    from vrashlib.datamodule import make_loader

    if not model.net.latent:
        raise ValueError(f"a {model.kind} model has no encoder")
    model.eval()
    out = np.zeros((len(tracks), model.net.z_dim), np.float32)
    loader = make_loader(tracks, batch_size, max_len=None, shuffle=False)
    with torch.inference_mode():
        for batch_idx, batch in zip(loader.batch_sampler, loader, strict=False):
            mu, _ = model.net.encode(batch["events"], batch["lengths"])
            out[[i for i, _ in batch_idx]] = mu.numpy()
    return out


def load_run_model(name: str, run: Path) -> MelodyModule:
    """``lm``/``vae``/``vrash`` from ``run/models``, or a checkpoint path."""
    from vrashlib.lightning import load_model

    path = Path(name)
    if name in ("lm", "vae", "vrash"):
        path = run / "models" / name / "model.ckpt"
    return load_model(path)


def generate_command(args: argparse.Namespace) -> int:
    """``vrash generate --model vrash --style bach -n 10 --out DIR``: MIDI files."""
    from vrashlib import paths
    from vrashlib.audio import write_midi_files

    run = Path(args.run) if args.run else paths.run_dir(args.profile)
    try:
        model = load_run_model(args.model, run)
        tracks = sample(
            model,
            args.n,
            args.style,
            max_len=args.max_len,
            temperature=args.temperature,
            seed=args.seed,
        )
    except (FileNotFoundError, KeyError, ValueError) as err:
        print(f"vrash generate: {err}")
        return 1
    write_midi_files(tracks, args.out)
    print(f"{len(tracks)} melodies ({model.kind}, {args.style}) written to {Path(args.out)}")
    return 0


def sample_styles(
    model: MelodyModule,
    styles: list[str] | tuple[str, ...],
    n_per_style: int,
    *,
    max_len: int,
    temperature: float = 1.0,
    seed: int = 0,
    batch_size: int = 64,
    threads: int = 1,
) -> TrackSet:
    """``n_per_style`` melodies for each style, in one TrackSet (ids ``kind/style/0007``)."""
    parts = [
        sample(
            model,
            n_per_style,
            style,
            max_len=max_len,
            temperature=temperature,
            seed=seed + 1000 * k,
            batch_size=batch_size,
            threads=threads,
        )
        for k, style in enumerate(styles)
    ]
    latent = None if parts[0].latent is None else np.concatenate([p.latent for p in parts])
    return TrackSet.from_tracks(
        [ev for p in parts for ev in p],
        model.styles,
        np.concatenate([p.style for p in parts]),
        unit_seconds=np.concatenate([p.unit_seconds for p in parts]),
        ids=[i for p in parts for i in p.ids],
        latent=latent,
        meta={**parts[0].meta, "styles": list(styles), "n_per_style": n_per_style},
    )


def repeat_rate(tracks: TrackSet) -> float:
    """Share of consecutive note pairs (rests skipped over, not counted) with the
    same pitch: the paper's "tendency to repeat a certain note"."""
    same = pairs = 0
    for ev in tracks:
        notes = ev[ev[:, 0] < N_PITCH_CLASSES]
        if len(notes) > 1:
            pitch = notes[:, 0].astype(np.int32) + 12 * notes[:, 1]
            same += int((pitch[1:] == pitch[:-1]).sum())
            pairs += len(pitch) - 1
    return same / pairs if pairs else float("nan")


def _entropy_bits(counts: np.ndarray) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log2(p)).sum()) if len(p) else float("nan")


def melody_stats(tracks: TrackSet, *, max_len: int | None = None) -> dict[str, float]:
    """Summary of a set of melodies: repeat rate, lengths (events), rest share,
    pitch-class / duration entropy (bits), share cut at ``max_len`` (no end marker)."""
    ev = tracks.events
    pcs = np.bincount(ev[:, 0], minlength=PC_VOCAB)[: N_PITCH_CLASSES + 1]
    durs = np.bincount(ev[:, 2], minlength=DUR_VOCAB)
    out = {
        "n_tracks": len(tracks),
        "repeat_rate": repeat_rate(tracks),
        "median_length": float(np.median(tracks.lengths)) if len(tracks) else float("nan"),
        "mean_length": float(np.mean(tracks.lengths)) if len(tracks) else float("nan"),
        "rest_share": float(pcs[N_PITCH_CLASSES] / max(len(ev), 1)),
        "pc_entropy_bits": _entropy_bits(pcs[:N_PITCH_CLASSES]),
        "dur_entropy_bits": _entropy_bits(durs),
        "distinct_durations": int((durs > 0).sum()),
    }
    if max_len is not None:
        out["cut_at_max_len"] = float(np.mean(tracks.lengths >= max_len))
    return out


def stats_table(
    generated: dict[str, TrackSet],
    real: TrackSet,
    styles: list[str] | tuple[str, ...],
    max_len: int,
) -> pd.DataFrame:
    """One row per (model, style) plus the real corpus (test split if set) as reference."""
    rows = []
    for style in styles:
        rows.append({"model": "real", "style": style, **melody_stats(real.select(style=style))})
        for name, ts in generated.items():
            rows.append(
                {
                    "model": name,
                    "style": style,
                    **melody_stats(ts.select(style=style), max_len=max_len),
                }
            )
    return pd.DataFrame(rows)


def distributions(tracks: TrackSet) -> dict[str, np.ndarray]:
    """Normalised histograms: pitch class + rest (13), duration index, length (events)."""
    ev = tracks.events
    pcs = np.bincount(ev[:, 0], minlength=PC_VOCAB)[: N_PITCH_CLASSES + 1].astype(float)
    durs = np.bincount(ev[:, 2], minlength=DUR_VOCAB)[:DUR_NONE].astype(float)
    return {
        "pitch_class": pcs / max(pcs.sum(), 1),
        "duration": durs / max(durs.sum(), 1),
        "length": tracks.lengths.astype(float),
    }
