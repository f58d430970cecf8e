"""Recurrent highway network (Zilly et al. 2017), written once in plain PyTorch.

One time step of an RHN layer is ``depth`` (L) *micro-steps* of a highway layer
on the recurrent state ``s``; only the first micro-step sees the input ``x_t``::

    pre_l = [x_t W_H, x_t W_T] * 1{l = 1} + s_{l-1} R_l + b_l       (2H values)
    h_l   = tanh(pre_l[:H])                 candidate
    t_l   = sigmoid(pre_l[H:])              transform gate; carry gate c_l = 1 - t_l (coupled)
    s_l   = h_l * t_l + s_{l-1} * (1 - t_l) = lerp(s_{l-1}, h_l, t_l)

with ``s_0`` the state after the previous time step and ``s_L`` the output.
Speed on a CPU comes from two choices: the input projection of *all* time steps
is one matrix product outside the time loop, and the loop walks the time axis
with ``unbind(0)`` (indexing ``x[t]`` makes autograd's backward pass quadratic
in the sequence length). Layers can be stacked, with dropout between them.
"""

from __future__ import annotations

import math
import threading

import torch
from torch import Tensor, nn


class RHN(nn.Module):
    """A stack of ``layers`` RHN layers of width ``hidden`` and recurrence depth ``depth``.

    Inputs are time-major, ``(T, B, input_size)``; the state is ``(layers, B, hidden)``.
    """

    def __init__(
        self,
        input_size: int,
        hidden: int,
        depth: int = 3,
        layers: int = 1,
        dropout: float = 0.0,
        carry_bias: float = -2.0,
    ) -> None:
        super().__init__()
        if depth < 1 or layers < 1:
            raise ValueError(f"RHN needs depth >= 1 and layers >= 1, got {depth=} {layers=}")
        self.input_size, self.hidden, self.depth, self.layers = input_size, hidden, depth, layers
        self.dropout = nn.Dropout(dropout)
        sizes = [input_size] + [hidden] * (layers - 1)
        # W: input projection (no bias; the first micro-step's bias is b[0]).
        self.w_in = nn.ParameterList([nn.Parameter(torch.empty(2 * hidden, n)) for n in sizes])
        self.r = nn.Parameter(torch.empty(layers, depth, hidden, 2 * hidden))
        self.b = nn.Parameter(torch.empty(layers, depth, 2 * hidden))
        self.carry_bias = carry_bias
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Uniform(+-1/sqrt(H)) weights; transform-gate bias negative so that the
        untrained layer mostly carries its state (Zilly et al., Sec. 5)."""
        bound = self.hidden**-0.5
        for w in self.w_in:
            nn.init.uniform_(w, -bound, bound)
        nn.init.uniform_(self.r, -bound, bound)
        with torch.no_grad():
            self.b.zero_()
            self.b[..., self.hidden :] = self.carry_bias

    def initial_state(self, batch: int, device=None, dtype=None) -> Tensor:
        return torch.zeros(self.layers, batch, self.hidden, device=device, dtype=dtype)

    def project(self, x: Tensor, layer: int = 0) -> Tensor:
        """Input contribution of the first micro-step for every time step, bias included."""
        return torch.nn.functional.linear(x, self.w_in[layer], self.b[layer, 0])

    def weights(self, layer: int) -> tuple[tuple[Tensor, ...], tuple[Tensor, ...]]:
        """The recurrent matrices and biases of one layer, split once per sequence:
        selecting them inside the time loop would make autograd build a full-size
        zero gradient for every selection."""
        return self.r[layer].unbind(0), self.b[layer].unbind(0)

    def cell(self, xp: Tensor, s: Tensor, r: tuple[Tensor, ...], b: tuple[Tensor, ...]) -> Tensor:
        """One time step of one layer: ``depth`` micro-steps from state ``s`` (B, H)."""
        for micro in range(self.depth):
            h, t = torch.addmm(xp if micro == 0 else b[micro], s, r[micro]).chunk(2, 1)
            s = torch.lerp(s, torch.tanh(h), torch.sigmoid(t))
        return s

    def forward(self, x: Tensor, state: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Run over a whole sequence. Returns ``(outputs (T, B, H), final state)``.

        With gradients on, each layer's time loop is one :class:`RHNLayerFunction`
        (the same forward arithmetic, a hand-written backward); without, the
        plain loop of :meth:`cell`.
        """
        if state is None:
            state = self.initial_state(x.shape[1], x.device, x.dtype)
        finals = []
        for layer in range(self.layers):
            if layer:
                x = self.dropout(x)
            xp = self.project(x, layer)
            if torch.is_grad_enabled() and len(xp):
                x, s = RHNLayerFunction.apply(xp, state[layer], self.r[layer], self.b[layer])
            else:
                s, (r, b) = state[layer], self.weights(layer)
                outs = []
                for xp_t in xp.unbind(0):
                    s = self.cell(xp_t, s, r, b)
                    outs.append(s)
                x = torch.stack(outs)
            finals.append(s)
        return x, torch.stack(finals)

    def step(self, x: Tensor, state: Tensor) -> Tensor:
        """One time step for every layer (generation): ``x`` (B, in) -> new state."""
        new = []
        for layer in range(self.layers):
            s = self.cell(self.project(x, layer), state[layer], *self.weights(layer))
            new.append(s)
            x = s
        return torch.stack(new)


class _BufferPool:
    """Flat float buffers for :class:`RHNLayerFunction`, reused across training steps.

    The function's work buffers are tens of MiB; a fresh one costs a page fault
    per 4 KiB on first touch, which made the forward pass 4x slower per
    operator than with reused memory. A buffer goes back to the pool when the
    autograd graph that saved it is freed (see :class:`_Lease`); ``take`` hands
    out the smallest free buffer that is large enough. At most ``max_bytes``
    are kept.
    """

    def __init__(self, max_bytes: int = 2 << 30) -> None:
        # Reentrant: a garbage collection inside ``take`` may free a graph, whose
        # lease then calls ``give`` on the same thread.
        self.max_bytes, self._free, self._lock = max_bytes, [], threading.RLock()

    def take(self, shape: tuple[int, ...], like: Tensor) -> Tensor:
        n = math.prod(shape)
        with self._lock:
            fits = [
                i
                for i, buf in enumerate(self._free)
                if buf.numel() >= n and buf.dtype == like.dtype and buf.device == like.device
            ]
            if fits:
                buf = self._free.pop(min(fits, key=lambda i: self._free[i].numel()))
                return buf[:n].view(shape)
        return like.new_empty(n).view(shape)

    def give(self, *views: Tensor) -> None:
        with self._lock:
            for view in views:
                buf = view if view._base is None else view._base
                kept = sum(b.numel() * b.element_size() for b in self._free)
                if kept + buf.numel() * buf.element_size() <= self.max_bytes:
                    self._free.append(buf)


_POOL = _BufferPool()


class _Lease:
    """Gives buffers back to the pool when it is garbage (with the graph holding it)."""

    def __init__(self, *buffers: Tensor) -> None:
        self.buffers = buffers

    def __del__(self) -> None:
        try:
            _POOL.give(*self.buffers)
        except Exception:  # interpreter shutdown: nothing is left to reuse them
            pass


class RHNLayerFunction(torch.autograd.Function):
    """One RHN layer over a whole sequence, with a hand-written backward pass.

    The forward pass is :meth:`RHN.cell`'s arithmetic, operator for operator
    (``addmm``, ``tanh``, ``sigmoid``, ``lerp``), so outputs are bit-identical to
    the plain loop. What changes is the backward pass. Autograd records ~6 nodes
    per micro-step and computes the recurrent weights' gradient as one small
    product per time step. Here the backward walks the time steps once, writes every
    pre-activation gradient into one buffer, and forms each ``dR`` as a single
    product over all time steps and tracks ``(H, T*B) @ (T*B, 2H)``.
    ``tests/test_rhn.py`` checks it against autograd in float64.

    Inputs: ``xp`` (T, B, 2H), the input projection with the first bias;
    ``s0`` (B, H); ``r`` (depth, H, 2H); ``b`` (depth, 2H), whose first row is
    not used here (it is inside ``xp``). Returns ``(outputs (T, B, H), final state)``.
    """

    @staticmethod
    def forward(ctx, xp: Tensor, s0: Tensor, r: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
        # Under mixed precision (autocast) the recurrence still runs in the weights'
        # precision: inputs are cast to it and autocast is off inside.
        with torch.autocast(xp.device.type, enabled=False):
            xp, s0, b = xp.to(r.dtype), s0.to(r.dtype), b.to(r.dtype)
            return RHNLayerFunction._forward(ctx, xp, s0, r, b)

    @staticmethod
    def _forward(ctx, xp: Tensor, s0: Tensor, r: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
        T, B, H, depth = xp.shape[0], xp.shape[1], s0.shape[1], r.shape[0]
        # states[m, t]: the state before micro-step m of time step t; states[0, t + 1]
        # is the output of time step t. Candidates and gates get buffers of their own,
        # so that every write and every later product is on contiguous memory.
        states = _POOL.take((depth, T + 1, B, H), xp)
        cand, gates = _POOL.take((depth, T, B, H), xp), _POOL.take((depth, T, B, H), xp)
        ctx.lease = _Lease(states, cand, gates)
        states[0, 0] = s0
        # Views made once: indexing inside the loop would cost more than the arithmetic.
        S, C, G = ([list(buf[m].unbind(0)) for m in range(depth)] for buf in (states, cand, gates))
        rs, bs = r.unbind(0), b.unbind(0)
        for t, xp_t in enumerate(xp.unbind(0)):
            for m in range(depth):
                h, gate = torch.addmm(xp_t if m == 0 else bs[m], S[m][t], rs[m]).chunk(2, 1)
                torch.tanh(h, out=C[m][t])
                torch.sigmoid(gate, out=G[m][t])
                after = S[m + 1][t] if m + 1 < depth else S[0][t + 1]
                torch.lerp(S[m][t], C[m][t], G[m][t], out=after)
        ctx.save_for_backward(states, cand, gates, r)
        return states[0, 1:].clone(), states[0, T].clone()

    @staticmethod
    def backward(ctx, g_out: Tensor, g_last: Tensor):
        states, cand, gates, r = ctx.saved_tensors
        g_out, g_last = g_out.to(r.dtype), g_last.to(r.dtype)
        depth, T, B, H = cand.shape
        d_cand, d_gate = _POOL.take(cand.shape, cand), _POOL.take(gates.shape, gates)
        r_cand = [m[:, :H].T for m in r.unbind(0)]
        r_gate = [m[:, H:].T for m in r.unbind(0)]
        S, C, G, dC, dG = (
            [list(buf[m].unbind(0)) for m in range(depth)]
            for buf in (states, cand, gates, d_cand, d_gate)
        )
        gs = g_last.clone()  # gradient of the state after the current micro-step
        g_outs = g_out.unbind(0)
        for t in range(T - 1, -1, -1):
            gs += g_outs[t]
            for m in range(depth - 1, -1, -1):
                s_in, h, gate = S[m][t], C[m][t], G[m][t]
                to_h = gs * gate
                torch.ops.aten.tanh_backward(to_h, h, grad_input=dC[m][t])
                torch.ops.aten.sigmoid_backward(gs * (h - s_in), gate, grad_input=dG[m][t])
                gs = (gs - to_h).addmm_(dC[m][t], r_cand[m]).addmm_(dG[m][t], r_gate[m])
        d_r, d_b = torch.empty_like(r), r.new_zeros(depth, 2 * H)
        for m in range(depth):
            before = states[m, :T].reshape(-1, H).T
            dc, dg = d_cand[m].reshape(-1, H), d_gate[m].reshape(-1, H)
            torch.mm(before, dc, out=d_r[m, :, :H])
            torch.mm(before, dg, out=d_r[m, :, H:])
            if m:  # the first bias is inside xp; its gradient flows through d_xp
                d_b[m, :H], d_b[m, H:] = dc.sum(0), dg.sum(0)
        d_xp = torch.cat([d_cand[0], d_gate[0]], dim=-1)
        _POOL.give(d_cand, d_gate)
        return d_xp, gs, d_r, d_b


def rhn_reference(
    x: Tensor, w_in: list[Tensor], r: Tensor, b: Tensor, state: Tensor | None = None
) -> Tensor:
    """Slow, literal implementation of the equations above (for tests): every gate
    computed separately, one time step and one micro-step at a time, no dropout."""
    layers, depth, hidden, _ = r.shape
    T, B, _ = x.shape
    inp = x
    for layer in range(layers):
        s = torch.zeros(B, hidden, dtype=x.dtype) if state is None else state[layer]
        W_H, W_T = w_in[layer][:hidden], w_in[layer][hidden:]
        outs = []
        for t in range(T):
            for micro in range(depth):
                R_H, R_T = r[layer, micro][:, :hidden], r[layer, micro][:, hidden:]
                b_H, b_T = b[layer, micro][:hidden], b[layer, micro][hidden:]
                a_H = s @ R_H + b_H + (inp[t] @ W_H.T if micro == 0 else 0.0)
                a_T = s @ R_T + b_T + (inp[t] @ W_T.T if micro == 0 else 0.0)
                h = torch.tanh(a_H)
                tg = torch.sigmoid(a_T)
                c = 1.0 - tg
                s = h * tg + s * c
            outs.append(s)
        inp = torch.stack(outs)
    return inp
