"""The sampling loop for small batches, compiled with numba (the one-melody live stream).

At batch 1 a step of the sampler is four matrix-vector products over 2.1 MiB
of weights plus a few hundred scalar operations. Written as ~50 numpy calls,
the calls themselves cost more than the arithmetic (0.17 ms per event on our
CPU, against a budget of 0.1 ms). :func:`sample_rows` runs the whole loop,
draws included, as one compiled function: the same equations and the same
exported weights as :class:`vrashlib.sampling.sampler.NumpyDecoder` (gates halved, so
``sigmoid(a) = (1 + tanh(a / 2)) / 2``), and the same use of the random stream,
so it samples exactly what the numpy decoder samples, up to float rounding.

Each matrix is read once per step for all melodies of the batch (the loop over
melodies is inside the loop over the matrix's rows). numba compiles these
functions on first use (a few seconds) and caches the machine code beside this
file (``cache=True``), so later processes start at once.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from numba import njit

from vrashlib.data.encoding import DUR_NONE, END, N_PITCH_CLASSES, OCT_NONE, OCT_VOCAB, PC_VOCAB
from vrashlib.models.network import UNKNOWN
from vrashlib.sampling.sampler import DUR_START, MASKED, OCT_START, compiled_refusal, input_constant

_UNKNOWN = np.array(UNKNOWN, np.int64)


@njit(cache=True, nogil=True)
def _matvec_rows(s, w, rows, out):
    """``out[k] = s[rows[k]] @ w`` for every listed row (w read once, row by row)."""
    n_out = w.shape[1]
    for k in range(len(rows)):
        for j in range(n_out):
            out[k, j] = 0.0
    for i in range(w.shape[0]):
        wi = w[i]
        for k in range(len(rows)):
            si = s[rows[k], i]
            ok = out[k]
            for j in range(n_out):
                ok[j] += si * wi[j]


@njit(cache=True, nogil=True)
def _draw(logits, u):
    """Inverse-CDF draw from unnormalised logits: the first index whose cdf exceeds u."""
    top = logits.max()
    total = np.float32(0.0)
    cdf = np.empty_like(logits)
    for j in range(len(logits)):
        total += np.float32(math.exp(logits[j] - top))
        cdf[j] = total
    v = u * total
    for j in range(len(logits)):
        if cdf[j] > v:
            return j
    return len(logits) - 1


@njit(cache=True, nogil=True)
def advance_rows(const, prev, rows, tables, r, b, w_in, head_w, head_b, state, pre, out):
    """One decoder step for the listed rows: feed their previous events, update
    ``state`` (layers, n, H) in place, write the head's outputs to ``out[k]``."""
    n_layers, depth, H = r.shape[0], r.shape[1], r.shape[2]
    x = np.empty((len(rows), 2 * H), np.float32)
    for k in range(len(rows)):
        row = rows[k]
        for j in range(2 * H):
            v = const[row, j]
            if len(tables):
                v += tables[0][prev[row, 0], j]
                v += tables[1][prev[row, 1], j]
                v += tables[2][prev[row, 2], j]
            x[k, j] = v
    for layer in range(n_layers):
        s = state[layer]
        if layer:
            _matvec_rows(state[layer - 1], w_in[layer - 1], rows, x)
            for k in range(len(rows)):
                for j in range(2 * H):
                    x[k, j] += b[layer, 0, j]
        for micro in range(depth):
            _matvec_rows(s, r[layer, micro], rows, pre)
            for k in range(len(rows)):
                row = rows[k]
                for j in range(2 * H):
                    pre[k, j] = math.tanh(
                        pre[k, j] + (x[k, j] if micro == 0 else b[layer, micro, j])
                    )
                for j in range(H):
                    gate = (pre[k, H + j] + np.float32(1.0)) * np.float32(0.5)
                    s[row, j] += (pre[k, j] - s[row, j]) * gate
    _matvec_rows(state[n_layers - 1], head_w, rows, out)
    for k in range(len(rows)):
        for j in range(out.shape[1]):
            out[k, j] += head_b[j]


@njit(cache=True, nogil=True)
def sample_rows(
    const, tables, r, b, w_in, head_w, head_b, n_logits,
    cond_pc, cond_oct, oct_w, oct_b, dur_w, dur_b,
    u, shared_noise, inv_t, max_len, events, lengths, min_len=1,
):  # fmt: skip
    """Sample ``len(const)`` melodies into ``events`` (max_len, n, 3) and ``lengths``.

    ``u``: the batch's uniforms, consumed in the order of ``rng.random((n_alive, 3))``
    per step (or ``(1, 3)`` with ``shared_noise``), as the numpy decoder does.
    """
    n, H = const.shape[0], r.shape[2]
    e = cond_oct.shape[1]
    state = np.zeros((r.shape[0], n, H), np.float32)
    pre = np.empty((n, 2 * H), np.float32)
    out = np.empty((n, head_w.shape[1]), np.float32)
    prev = np.empty((n, 3), np.int64)
    for row in range(n):
        prev[row] = _UNKNOWN
        lengths[row] = max_len
    rows = np.arange(n)
    lp = np.empty(OCT_START, np.float32)
    lo = np.empty(OCT_VOCAB, np.float32)
    ld = np.empty(n_logits - DUR_START, np.float32)
    term = np.empty(n_logits - DUR_START, np.float32)
    g = np.empty(2 * e, np.float32)
    pos = 0
    for step in range(max_len):
        if len(rows) == 0:
            break
        advance_rows(const, prev, rows, tables, r, b, w_in, head_w, head_b, state, pre, out)
        keep = np.ones(len(rows), np.bool_)
        for k in range(len(rows)):
            row = rows[k]
            if shared_noise:
                at = pos
            else:
                at = pos + 3 * k
            o = out[k]
            for j in range(OCT_START):
                lp[j] = o[j] * inv_t if inv_t != 1.0 else o[j]
            if step < min_len:
                lp[END] = MASKED
            pc = _draw(lp, u[at])
            if e:
                for j in range(2 * e):
                    g[j] = o[n_logits + j] + cond_pc[pc, j]
                for i in range(e):
                    g[i] = math.tanh(g[i])
            for j in range(OCT_VOCAB):  # o + (tanh(g_oct) @ oct_w + oct_b), as numpy does
                lo[j] = o[OCT_START + j]
                if e:
                    acc = np.float32(0.0)
                    for i in range(e):
                        acc += g[i] * oct_w[i, j]
                    lo[j] += acc + oct_b[j]
                if inv_t != 1.0:
                    lo[j] *= inv_t
            lo[OCT_NONE] = MASKED
            octv = _draw(lo, u[at + 1]) if pc < N_PITCH_CLASSES else OCT_NONE
            for j in range(len(ld)):
                ld[j] = o[DUR_START + j]
            if e:
                term[:] = 0.0
                for i in range(e):
                    gi = np.float32(math.tanh(g[e + i] + cond_oct[octv, i]))
                    for j in range(len(term)):
                        term[j] += gi * dur_w[i, j]
                for j in range(len(ld)):
                    ld[j] += term[j] + dur_b[j]
            if inv_t != 1.0:
                for j in range(len(ld)):
                    ld[j] *= inv_t
            ld[DUR_NONE] = MASKED
            dur = _draw(ld, u[at + 2]) if pc != END else DUR_NONE
            events[step, row, 0], events[step, row, 1], events[step, row, 2] = pc, octv, dur
            prev[row, 0], prev[row, 1], prev[row, 2] = pc, octv, dur
            if pc == END:
                lengths[row] = step
                keep[k] = False
        pos += 3 if shared_noise else 3 * len(rows)
        if not keep.all():
            rows = rows[keep]


def sample_compiled(
    p: dict,
    style_idx: int,
    z: np.ndarray | None,
    batch: int,
    *,
    max_len: int,
    temperature: float,
    rng: np.random.Generator,
    shared_noise: bool = False,
    min_len: int = 1,
) -> list[np.ndarray]:
    """``sample_batch`` with a ``NumpyDecoder`` (:mod:`vrashlib.sampling.sampler`), run as one
    compiled loop (:func:`sample_rows`): same weights, same random stream, so
    the same melodies up to float rounding, at a fraction of the cost per event.
    """
    refusal = compiled_refusal(p)  # sample_batches sends such models to TorchDecoder
    if refusal:
        raise NotImplementedError(refusal)
    const = input_constant(p, style_idx, z, batch)
    u = rng.random(max_len * 3 * (1 if shared_noise else batch), dtype=np.float32)
    events = np.zeros((max_len, batch, 3), np.int16)
    lengths = np.empty(batch, np.int64)
    inv_t = np.float32(1.0 / temperature)
    sample_rows(const, *_weights(p), u, shared_noise, inv_t, max_len, events, lengths, min_len)
    return [events[: lengths[b], b].copy() for b in range(batch)]


def _weights(p: dict) -> tuple:
    """The exported numpy weights as :func:`sample_rows` takes them (cached in ``p``)."""
    if "_kernel" not in p:
        w, H, e = p["np"], p["hidden"], p["event_head"]
        f32 = functools.partial(np.ascontiguousarray, dtype=np.float32)
        empty = np.zeros((0, 0), np.float32)
        p["_kernel"] = (
            tuple(w["tables"]),
            f32(np.stack([np.stack(layer) for layer in w["r"]])),
            f32(np.stack([np.stack(layer) for layer in w["b"]])),
            f32(np.stack(w["w_in"][1:]) if len(w["w_in"]) > 1 else np.zeros((1, H, 2 * H))),
            w["head_w"],
            w["head_b"],
            p["n_logits"],
            w["cond_pc"] if e else np.zeros((PC_VOCAB + 1, 0), np.float32),
            w["cond_oct"] if e else np.zeros((OCT_VOCAB + 1, 0), np.float32),
            w["out_oct_w"] if e else empty,
            w["out_oct_b"] if e else np.zeros(0, np.float32),
            w["out_dur_w"] if e else empty,
            w["out_dur_b"] if e else np.zeros(0, np.float32),
        )
    return p["_kernel"]
