"""Ancestral sampling from a trained decoder: the step loop behind :func:`vrashlib.sampling.generate.sample`.

Sampling is exact ancestral sampling from the three heads: pitch class first,
then octave and duration from their heads restricted to what that pitch class
allows (a rest or the end marker has no octave; only the end marker has no
duration). The end marker is not allowed as the very first event.

:func:`export_sampler` folds the note embeddings into the decoder's input
projection (one ``(vocab, 2H)`` table per note field) and the style, z and bias
into one constant per melody, so the input of a step is three table rows added
to a constant; the pitch-class head and the event head's input layer are one
matrix. What runs the step depends on the batch size
(:func:`vrashlib.sampling.workers.sample_batches` picks):

* batches of ``TORCH_MIN_BATCH`` melodies or more: :class:`TorchDecoder`, on
  torch tensors. A step is ``depth + 3`` matrix products (MKL, near the core's
  peak: ~460 us of a ~900 us step at batch 64) and ~50 small operators whose
  few microseconds of overhead each the batch shares.
* smaller batches, above all the one-melody live stream: the compiled loop of
  :mod:`vrashlib.sampling.kernels`, which runs :class:`NumpyDecoder`'s algorithm on the
  same float32 weights and random stream. As ~50 numpy calls a step, the calls
  alone cost more than the arithmetic (0.17 ms per event at batch 1); compiled,
  a step is ~0.08 ms, most of it reading 2.1 MiB of weights. :class:`NumpyDecoder`
  is not a production path: it stays as the readable reference, the oracle the
  tests (and benchmarks) check the compiled loop against.

A hierarchical decoder (``model.conductor_segment``) adds phrases: at each phrase's
first step both decoders take the conductor's code of that phrase into the input and
restart the recurrent state from it (:func:`phrase_plan`, :class:`_Phrases`); the
compiled loop knows no phrases, so such a model samples on :class:`TorchDecoder` at every
batch size.

``tests/test_generate.py`` checks both decoders against the network's
teacher-forced logits, and the compiled loop's melodies against the numpy decoder's
(``tests/test_conductor.py`` with a conductor).
"""

from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn.functional as F

from vrashlib.data.encoding import (
    DUR_NONE,
    END,
    N_PITCH_CLASSES,
    OCT_NONE,
    OCT_VOCAB,
    PC_VOCAB,
)
from vrashlib.models.network import UNKNOWN, MelodyNet

TORCH_MIN_BATCH = 8  # from this batch size on, steps run on torch (MKL); below, compiled
MASKED = -1e30  # an impossible outcome: exp(-1e30 - max) is 0 in float32
OCT_START, DUR_START = PC_VOCAB, PC_VOCAB + OCT_VOCAB  # where the octave / duration logits start


def fold(net: MelodyNet) -> dict[str, torch.Tensor | None]:
    """The decoder's first input projection with the embeddings folded in (float32):
    ``tables`` (one ``(vocab + 1, 2H)`` per note field and history lag, lag 1 first,
    empty without history), ``style`` ``(n_styles, 2H)``, ``w_z`` ``(z_dim, 2H)`` (with a
    conductor: the phrase code's, ``(encoder_hidden, 2H)``) or None, ``bias`` ``(2H,)``."""
    w0 = net.decoder.w_in[0].float()
    col = 0
    tables = []
    for _lag in range(net.window):
        for emb in net.emb:
            d = emb.embedding_dim
            tables.append(emb.weight.float() @ w0[:, col : col + d].T)
            col += d
    d = net.emb_style.embedding_dim
    style = net.emb_style.weight.float() @ w0[:, col : col + d].T
    col += d
    w_z = w0[:, col:].T.contiguous() if net.latent else None
    return {"tables": tables, "style": style, "w_z": w_z, "bias": net.decoder.b[0, 0].float()}


def export_sampler(module) -> dict:
    """The decoder's weights, every matrix laid out as ``(in, out)``, embeddings
    folded in, the pitch-class head and the event head's input layer merged:
    torch tensors for :class:`TorchDecoder` and, under ``"np"``, numpy copies for
    :class:`NumpyDecoder` (never views of the network's parameters).

    In the numpy copies the gate half of every RHN pre-activation is halved, so
    that one ``tanh`` over both halves gives the candidate and, as
    ``(1 + tanh(a / 2)) / 2``, the sigmoid transform gate (numpy has no sigmoid).
    """
    net = module.net if hasattr(module, "net") else module
    dec, cfg = net.decoder, net.cfg
    with torch.inference_mode():
        w = fold(net)
        w["r"] = [[dec.r[i, j].float() for j in range(dec.depth)] for i in range(dec.layers)]
        w["b"] = [[dec.b[i, j].float() for j in range(dec.depth)] for i in range(dec.layers)]
        w["w_in"] = [m.float().T for m in dec.w_in]
        heads = [net.head] + ([net.cond_in] if cfg.event_head else [])
        w["head_w"] = torch.cat([lin.weight.float().T for lin in heads], dim=1)
        w["head_b"] = torch.cat([lin.bias.float() for lin in heads])
        if cfg.event_head:
            w["cond_pc"], w["cond_oct"] = net.cond_pc.weight.float(), net.cond_oct.weight.float()
            for name in ("oct", "dur"):
                lin = getattr(net, f"cond_out_{name}")
                w[f"out_{name}_w"], w[f"out_{name}_b"] = lin.weight.float().T, lin.bias.float()
        w = {k: _detach(v) for k, v in w.items()}
    H = dec.hidden

    def halved(a: np.ndarray) -> np.ndarray:
        a[..., H:] *= 0.5
        return a

    gated = {"tables", "style", "w_z", "bias", "r", "b", "w_in"}
    w["np"] = {k: _to_numpy(v, halved if k in gated else None) for k, v in w.items()}
    w.update(
        kind=net.kind,
        history=net.history,
        window=net.window,
        latent=net.latent,
        z_dim=net.z_dim,
        hidden=H,
        event_head=cfg.event_head,
        n_logits=net.head.out_features,
        segment=net.segment,
    )
    if net.segment:  # the conductor (phrase codes and start states), a float32 copy
        w["conductor"] = copy.deepcopy(net.conductor).float().eval().requires_grad_(False)
    return w


def phrase_plan(p: dict, z: np.ndarray, n_phrases: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A hierarchical decoder's phrases (``p["segment"]`` events each) for codes ``z``
    (B, z_dim): what each phrase's code adds to the decoder's first input projection,
    ``(n_phrases, B, 2H)``, and the decoder's state at each phrase's start,
    ``(n_phrases, layers, B, H)`` (:class:`vrashlib.models.network.Conductor`)."""
    with torch.inference_mode():
        codes = p["conductor"].codes(
            torch.from_numpy(np.ascontiguousarray(z, np.float32)), n_phrases
        )
        return codes @ p["w_z"], p["conductor"].states(codes).contiguous()


class _Phrases:
    """The phrase bookkeeping of a hierarchical decoder: which phrase a step is in, and
    the conductor's plan for the melodies still composing (computed for more phrases
    when a melody outgrows it)."""

    def __init__(self, p: dict, z: np.ndarray) -> None:
        self.p, self.z, self.step, self.plan = p, np.ascontiguousarray(z, np.float32), 0, None

    def next(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """At the first step of a phrase, ``(input added, start state)`` of the rows for it;
        else None. Call once per step."""
        k, into = divmod(self.step, self.p["segment"])
        self.step += 1
        if into:
            return None
        if self.plan is None or k >= len(self.plan[0]):
            self.plan = phrase_plan(self.p, self.z, max(2 * k, 16))
        return self.plan[0][k], self.plan[1][k]

    def keep(self, rows: np.ndarray) -> None:
        self.z = self.z[rows]
        if self.plan is not None:
            self.plan = (self.plan[0][:, rows], self.plan[1][:, :, rows])


def _detach(v):
    """Contiguous float32 copies, recursively (lists of tensors, None)."""
    if isinstance(v, list):
        return [_detach(x) for x in v]
    return None if v is None else v.detach().float().contiguous().clone()


def _to_numpy(v, fix=None):
    if isinstance(v, list):
        return [_to_numpy(x, fix) for x in v]
    if v is None:
        return None
    a = v.numpy().copy()
    return fix(a) if fix else a


def compiled_refusal(p: dict) -> str | None:
    """Why the compiled loop (:mod:`vrashlib.sampling.kernels`) cannot sample the exported
    model ``p``, or None when it can: it feeds back one previous event and knows no phrases."""
    if p["window"] > 1:
        return (
            f"the compiled sampler feeds back one previous event; this {p['kind']} model's "
            f"decoder sees {p['window']} (model.history_window): use TorchDecoder"
        )
    if p["segment"]:
        return (
            f"the compiled sampler has no phrases; this {p['kind']} model's decoder is "
            f"hierarchical (model.conductor_segment={p['segment']}): use TorchDecoder"
        )
    return None


def input_constant(p: dict, style_idx: int, z: np.ndarray | None, batch: int) -> np.ndarray:
    """Style embedding, z and bias through the first input projection: ``(batch, 2H)``
    (with a conductor z enters through the phrase codes instead: :func:`phrase_plan`)."""
    w = p["np"]
    const = np.broadcast_to(w["style"][style_idx] + w["bias"], (batch, 2 * p["hidden"])).copy()
    if p["latent"] and not p["segment"]:
        const += z.astype(np.float32) @ w["w_z"]
    return const


class NumpyDecoder:
    """One batch of melodies on the exported numpy weights (see the module docstring)."""

    xp = np

    def __init__(self, p: dict, style_idx: int, z: np.ndarray | None, batch: int) -> None:
        self.p, w, H = p, p["np"], p["hidden"]
        self.w = w
        self.const = input_constant(p, style_idx, z, batch)
        self.state = np.zeros((len(w["r"]), batch, H), np.float32)
        self.phrases = _Phrases(p, z) if p["segment"] else None
        self.phrase_const = self.const
        self._buffers = [np.empty((batch, k), np.float32) for k in (2 * H, 2 * H, len(w["head_b"]))]
        # Events at lags 2..window (history_window > 1), lag 2 first, as (n, 3) rows.
        self.older = [np.tile(np.array(UNKNOWN), (batch, 1)) for _ in range(p["window"] - 1)]
        self._bind()

    def _bind(self) -> None:
        """Views of the work buffers for the current number of melodies (made once,
        not per step: at batch 1 a step is ~50 numpy calls of about a microsecond)."""
        n, H, w = len(self.const), self.p["hidden"], self.w
        x, pre, out = (buf[:n] for buf in self._buffers)
        self._x, self._pre, self._out = x, (pre, pre[:, :H], pre[:, H:]), out
        self._logits, self._cond = out[:, : self.p["n_logits"]], out[:, self.p["n_logits"] :]
        self._layers = [
            (s, list(zip(w["r"][i], w["b"][i], strict=True))) for i, s in enumerate(self.state)
        ]

    def start(self) -> tuple[np.ndarray, ...]:
        """The "previous event" of the first step: the unknown token of each field."""
        return tuple(np.full(len(self.const), u, np.int64) for u in UNKNOWN)

    def advance(self, pc: np.ndarray, octv: np.ndarray, dur: np.ndarray) -> np.ndarray:
        """Feed the previous events (RHN step); return the unconditional logits ``(n, 409)``."""
        w = self.w
        start = self.phrases.next() if self.phrases else None
        if start is not None:  # a new phrase: its code's input, the state made from it
            add = start[0].numpy().copy()
            add[:, self.p["hidden"] :] *= 0.5  # the gate half, as in every exported weight
            self.phrase_const = self.const + add
            self.state[...] = start[1].numpy()
        x = self.phrase_const
        if w["tables"]:
            t_pc, t_oct, t_dur = w["tables"][:3]
            x = np.add(x, t_pc[pc], out=self._x)
            x += t_oct[octv]
            x += t_dur[dur]
            for lag, ev in enumerate(self.older, 1):
                for f in range(3):
                    x += w["tables"][3 * lag + f][ev[:, f]]
            if self.older:  # shift the window: this step's previous event becomes lag 2
                self.older = [np.stack([pc, octv, dur], axis=1), *self.older[:-1]]
        pre, h, gate = self._pre
        for layer, (s, micro_steps) in enumerate(self._layers):
            if layer:
                x = self.state[layer - 1] @ w["w_in"][layer] + w["b"][layer][0]
            for r, b in micro_steps:
                np.matmul(s, r, out=pre)
                pre += b if x is None else x  # the input enters the first micro-step only
                x = None
                np.tanh(pre, out=pre)
                gate += 1.0
                gate *= 0.5
                h -= s
                h *= gate
                s += h  # s + t * (candidate - s), in place
        np.matmul(self.state[-1], w["head_w"], out=self._out)
        self._out += w["head_b"]
        return self._logits

    def octave(self, pc: np.ndarray) -> np.ndarray:
        """The event head's octave term given the drawn pitch classes."""
        e, w = self.p["event_head"], self.w
        self._cond += w["cond_pc"][pc]
        return np.tanh(self._cond[:, :e]) @ w["out_oct_w"] + w["out_oct_b"]

    def duration(self, octv: np.ndarray) -> np.ndarray:
        """The event head's duration term given pitch class and octave."""
        e, w = self.p["event_head"], self.w
        g = self._cond[:, e:]
        g += w["cond_oct"][octv]
        return np.tanh(g, out=g) @ w["out_dur_w"] + w["out_dur_b"]

    @staticmethod
    def draw(logits: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Inverse-CDF sampling of one index per row of unnormalised ``logits`` (n, K)
        with uniforms ``u`` (n, 1) or (1, 1): the first index whose cdf exceeds u."""
        last = logits.shape[1] - 1
        if len(logits) == 1:  # the live stream: one row, a binary search
            row = logits[0]
            cdf = np.exp(row - row.max()).cumsum()
            return np.array([min(cdf.searchsorted(u[0, 0] * cdf[-1], "right"), last)])
        cdf = np.exp(logits - logits.max(axis=1, keepdims=True)).cumsum(axis=1)
        return np.minimum((cdf <= u * cdf[:, -1:]).sum(axis=1), last)

    @staticmethod
    def numpy(a: np.ndarray) -> np.ndarray:
        return a

    def keep(self, rows: np.ndarray) -> None:
        """Drop the melodies that ended (``rows``: bool mask of those that go on)."""
        self.const, self.state = self.const[rows], np.ascontiguousarray(self.state[:, rows])
        self.phrase_const = self.phrase_const[rows]
        if self.phrases:
            self.phrases.keep(rows)
        self.older = [ev[rows] for ev in self.older]
        self._bind()


class TorchDecoder:
    """One batch of melodies on torch tensors: the equations of :class:`NumpyDecoder`,
    with the RHN gate as ``sigmoid`` and the update as an in-place ``lerp``."""

    xp = torch

    def __init__(self, p: dict, style_idx: int, z: np.ndarray | None, batch: int) -> None:
        self.p = p
        const = (p["style"][style_idx] + p["bias"]).expand(batch, -1)
        if p["latent"] and not p["segment"]:
            const = const + torch.from_numpy(np.ascontiguousarray(z, np.float32)) @ p["w_z"]
        self.const = const.contiguous()
        self.state = [torch.zeros(batch, p["hidden"]) for _ in p["r"]]
        self.phrases = _Phrases(p, z) if p["segment"] else None
        self.phrase_const = self.const
        unknown = torch.tensor(UNKNOWN, dtype=torch.long)
        self.older = [unknown.repeat(batch, 1) for _ in range(p["window"] - 1)]  # lags 2..

    def start(self) -> tuple[torch.Tensor, ...]:
        return tuple(torch.full((len(self.const),), u, dtype=torch.long) for u in UNKNOWN)

    def advance(self, pc: torch.Tensor, octv: torch.Tensor, dur: torch.Tensor) -> torch.Tensor:
        p = self.p
        start = self.phrases.next() if self.phrases else None
        if start is not None:
            self.phrase_const = self.const + start[0]
            self.state = [s.clone() for s in start[1].unbind(0)]
        x = self.phrase_const
        if p["tables"]:
            t_pc, t_oct, t_dur = p["tables"][:3]
            x = torch.add(x, F.embedding(pc, t_pc))
            x += F.embedding(octv, t_oct)
            x += F.embedding(dur, t_dur)
            for lag, ev in enumerate(self.older, 1):
                for f in range(3):
                    x += F.embedding(ev[:, f], p["tables"][3 * lag + f])
            if self.older:
                self.older = [torch.stack([pc, octv, dur], dim=1), *self.older[:-1]]
        for layer, s in enumerate(self.state):
            if layer:
                x = torch.addmm(p["b"][layer][0], self.state[layer - 1], p["w_in"][layer])
            for micro, (r, b) in enumerate(zip(p["r"][layer], p["b"][layer], strict=True)):
                h, gate = torch.addmm(x if micro == 0 else b, s, r).chunk(2, dim=1)
                s.lerp_(h.tanh_(), gate.sigmoid_())
        self._out = torch.addmm(p["head_b"], self.state[-1], p["head_w"])
        return self._out[:, : p["n_logits"]]

    def octave(self, pc: torch.Tensor) -> torch.Tensor:
        p, e = self.p, self.p["event_head"]
        self._cond = self._out[:, p["n_logits"] :].add_(F.embedding(pc, p["cond_pc"]))
        return torch.addmm(p["out_oct_b"], self._cond[:, :e].tanh(), p["out_oct_w"])

    def duration(self, octv: torch.Tensor) -> torch.Tensor:
        p, e = self.p, self.p["event_head"]
        g = self._cond[:, e:].add_(F.embedding(octv, p["cond_oct"]))
        return torch.addmm(p["out_dur_b"], g.tanh_(), p["out_dur_w"])

    @staticmethod
    def draw(logits: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """As :meth:`NumpyDecoder.draw`, with a batched binary search."""
        cdf = torch.softmax(logits, dim=1).cumsum_(1)
        idx = torch.searchsorted(cdf, u * cdf[:, -1:], right=True)
        return idx.squeeze_(1).clamp_(max=logits.shape[1] - 1)

    @staticmethod
    def numpy(a: torch.Tensor) -> np.ndarray:
        return a.numpy()

    def keep(self, rows: torch.Tensor) -> None:
        self.const, self.state = self.const[rows], [s[rows] for s in self.state]
        self.phrase_const = self.phrase_const[rows]
        if self.phrases:
            self.phrases.keep(rows.numpy())
        self.older = [ev[rows] for ev in self.older]


def sample_batch(
    decoder: NumpyDecoder | TorchDecoder,
    max_len: int,
    temperature: float,
    rng: np.random.Generator,
    shared_noise: bool = False,
    greedy: bool = False,
    min_len: int = 1,
) -> list[np.ndarray]:
    """Sample one batch of melodies (end marker stripped), at most ``max_len`` events each.

    Per step: pitch class, then octave given it, then duration given both, each
    by inverse-CDF sampling with one uniform from ``rng``. A rest or the end
    marker has no octave and the end marker no duration: those are set, not drawn.
    ``shared_noise``: every melody uses the same uniforms (they differ only through z).
    ``greedy``: the most likely value of each field instead of a draw (greedy
    decoding, as reconstruction accuracy is measured; ``rng`` is then unused).
    ``min_len``: the end marker is not allowed before this many events (1: a
    melody has at least one event; larger: long melodies for Fig. 6).
    """
    xp, to_np, batch = decoder.xp, decoder.numpy, len(decoder.const)
    draw = _argmax if greedy else decoder.draw
    event_head = decoder.p["event_head"] > 0
    pc, octv, dur = decoder.start()
    out = np.zeros((max_len, batch, 3), np.int16)
    alive = np.arange(batch)  # rows still composing
    lengths = np.full(batch, max_len)
    inv_t = 1.0 / temperature
    for step in range(max_len):
        logits = decoder.advance(pc, octv, dur)
        u = rng.random((1 if shared_noise else len(alive), 3), dtype=np.float32)
        u = u if xp is np else torch.from_numpy(u)
        lp = logits[:, :OCT_START] * inv_t if inv_t != 1.0 else logits[:, :OCT_START]
        if step < min_len:
            lp[:, END] = MASKED
        pc = draw(lp, u[:, 0:1])
        lo = logits[:, OCT_START:DUR_START]
        lo = lo + decoder.octave(pc) if event_head else lo
        lo = lo * inv_t if inv_t != 1.0 else lo
        lo[:, OCT_NONE] = MASKED  # a note has an octave, a rest has none:
        octv = xp.where(pc < N_PITCH_CLASSES, draw(lo, u[:, 1:2]), OCT_NONE)
        ld = logits[:, DUR_START:]
        ld = ld + decoder.duration(octv) if event_head else ld
        ld = ld * inv_t if inv_t != 1.0 else ld
        ld[:, DUR_NONE] = MASKED
        dur = xp.where(pc != END, draw(ld, u[:, 2:3]), DUR_NONE)
        pc_np = to_np(pc)
        out[step, alive, 0] = pc_np
        out[step, alive, 1] = to_np(octv)
        out[step, alive, 2] = to_np(dur)
        done = pc_np == END
        if done.any():
            lengths[alive[done]] = step
            alive = alive[~done]
            if not len(alive):
                break
            keep = ~done if xp is np else torch.from_numpy(~done)
            pc, octv, dur = pc[keep], octv[keep], dur[keep]
            decoder.keep(keep)
    return [out[: lengths[b], b].copy() for b in range(batch)]


def _argmax(logits, u=None):
    """The index of each row's largest logit (numpy or torch); ``u`` is ignored."""
    return logits.argmax(axis=1) if isinstance(logits, np.ndarray) else logits.argmax(dim=1)
