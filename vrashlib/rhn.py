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
        """Run over a whole sequence. Returns ``(outputs (T, B, H), final state)``."""
        if state is None:
            state = self.initial_state(x.shape[1], x.device, x.dtype)
        finals = []
        for layer in range(self.layers):
            if layer:
                x = self.dropout(x)
            s, (r, b) = state[layer], self.weights(layer)
            outs = []
            for xp in self.project(x, layer).unbind(0):
                s = self.cell(xp, s, r, b)
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
