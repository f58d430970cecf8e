"""LM, VAE and VRASH: one recurrent-highway network with two switches.

The paper's three architectures (Figs. 1-3) differ only in what the decoder sees
at each time step besides the track's style embedding:

=======  ==========  ===========  ==============================================
kind     latent z    history      decoder input at step t
=======  ==========  ===========  ==============================================
lm       no          yes          style, note t-1
vae      yes         no           style, z                (z alone shapes the melody)
vrash    yes         yes          style, z, note t-1      ("supported by history")
=======  ==========  ===========  ==============================================

A note is the concatenation of pitch-class, octave and duration embeddings (the
paper's note embedding); each vocabulary has one extra *unknown* token used at
the first step and for history dropout. With a latent, an RHN encoder reads the
whole melody (end marker included) into a diagonal Gaussian ``q(z | melody)``.
Three softmax heads predict pitch class (incl. rest/end), octave and duration.

With ``history_window`` k > 1 the history input is the last k events (lag 1
first), not only the previous one.

With ``conductor_segment`` S > 0 the decoder is hierarchical, as MusicVAE's
(Roberts et al. 2018): a *conductor* RHN, started from ``tanh(W z + b)`` and fed z
at each of its steps, gives one code per phrase of S events (:class:`Conductor`).
The note decoder sees its phrase's code where it would see z, and starts every
phrase from ``tanh(W code + b)``, not from where the last phrase left it. Only the
notes it hears (history) and z then tell it about the melody so far. The phrases
of a batch run as one batch of ``phrases x tracks`` sequences of S steps.

The loss is the sum of the three cross-entropies plus, with a latent, the KL to
``N(0, I)`` weighted by a warm-up (linear, Bowman et al. 2016, or cyclical, Fu
et al. 2019). Autoregressive VAEs tend to ignore z (posterior collapse); the
documented remedies available are *free bits* (Kingma et al. 2016: KL below
``free_bits`` nats per latent dimension, averaged over the batch, is not
penalised), *history dropout* (Bowman et al.: a share of VRASH's history tokens
is replaced by the unknown token, so the decoder must rely on z), cyclical KL
annealing, and a *bag-of-notes* loss (Zhao et al. 2017: a small network predicts,
from z alone, every event's pitch class, octave and duration, order ignored).
:mod:`vrashlib.models.ablation` measures which of them makes z carry the melody.

Internally everything is in nats; :func:`bits` converts for reporting.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vrashlib.config import ModelConfig
from vrashlib.data.encoding import DUR_VOCAB, OCT_VOCAB, PC_VOCAB, VOCAB_SIZES
from vrashlib.models import KINDS
from vrashlib.models.rhn import RHN

HEADS = ("pc", "oct", "dur")
UNKNOWN = (PC_VOCAB, OCT_VOCAB, DUR_VOCAB)  # the extra "unknown" token of each vocabulary
LN2 = math.log(2.0)


def bits(nats: float | Tensor) -> float | Tensor:
    """Convert nats to bits."""
    return nats / LN2


def check_kind(kind: str) -> tuple[bool, bool]:
    if kind not in KINDS:
        raise ValueError(f"unknown model kind {kind!r}; choose one of {list(KINDS)}")
    return KINDS[kind]


class MelodyNet(nn.Module):
    """The two-switch network. Batches are time-major: ``events`` (T, B, 3) long."""

    def __init__(self, kind: str, n_styles: int, cfg: ModelConfig) -> None:
        super().__init__()
        self.kind = kind
        self.latent, self.history = check_kind(kind)
        cfg = cfg.for_kind(kind)
        self.cfg = cfg
        if cfg.history_window < 1:
            raise ValueError(f"model.history_window must be >= 1, got {cfg.history_window}")
        self.window = cfg.history_window if self.history else 0
        self.emb = nn.ModuleList(
            [
                nn.Embedding(v + 1, d)
                for v, d in zip(
                    VOCAB_SIZES, (cfg.pc_embed, cfg.oct_embed, cfg.dur_embed), strict=False
                )
            ]
        )
        self.note_dim = cfg.pc_embed + cfg.oct_embed + cfg.dur_embed
        self.emb_style = nn.Embedding(n_styles, cfg.style_embed)
        self.z_dim = cfg.z_dim if self.latent else 0
        if cfg.conductor_segment < 0:
            raise ValueError(f"model.conductor_segment must be >= 0, got {cfg.conductor_segment}")
        self.segment = cfg.conductor_segment if self.latent else 0
        code_dim = cfg.encoder_hidden if self.segment else self.z_dim  # what the decoder sees of z
        dec_in = cfg.style_embed + self.note_dim * self.window + code_dim
        self.decoder = RHN(dec_in, cfg.hidden, cfg.depth, cfg.layers, cfg.dropout)
        if self.segment:
            self.conductor = Conductor(cfg)
        self.drop = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(cfg.hidden, sum(VOCAB_SIZES))  # the three heads in one matrix
        if cfg.event_head:  # octave | pitch class, duration | pitch class + octave
            e = cfg.event_head
            self.cond_in = nn.Linear(cfg.hidden, 2 * e)
            self.cond_pc = nn.Embedding(PC_VOCAB + 1, 2 * e)
            self.cond_oct = nn.Embedding(OCT_VOCAB + 1, e)
            self.cond_out_oct = nn.Linear(e, OCT_VOCAB)
            self.cond_out_dur = nn.Linear(e, DUR_VOCAB)
        if self.latent:
            self.encoder = RHN(self.note_dim, cfg.encoder_hidden, cfg.encoder_depth)
            self.to_posterior = nn.Linear(cfg.encoder_hidden, 2 * cfg.z_dim)
        if self.latent and cfg.bow_weight > 0:  # z -> bag of notes (Zhao et al. 2017)
            self.bow = nn.Sequential(
                nn.Linear(cfg.z_dim, cfg.hidden), nn.Tanh(), nn.Linear(cfg.hidden, sum(VOCAB_SIZES))
            )

    # ------------------------------------------------------------- pieces
    def embed_notes(self, events: Tensor) -> Tensor:
        """(..., 3) long -> (..., note_dim) concatenated note embedding."""
        return torch.cat([e(events[..., i]) for i, e in enumerate(self.emb)], dim=-1)

    def encode(self, events: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """Posterior ``(mu, logvar)`` (B, z_dim) from the encoder state after the last event."""
        if not self.latent:
            raise ValueError(f"a {self.kind} model has no encoder")
        out, _ = self.encoder(self.embed_notes(events))
        last = out[lengths - 1, torch.arange(out.shape[1], device=out.device)]
        mu, logvar = self.to_posterior(last).chunk(2, dim=-1)
        return mu, logvar

    def history_input(self, events: Tensor, dropout: float = 0.0) -> Tensor:
        """The last ``window`` events at each step, ``(T, B, window, 3)``, lag 1 first:
        the unknown token before the melody's start, then the events shifted by the lag.
        With ``dropout``, that share of events is the unknown token at every lag."""
        unknown = torch.tensor(UNKNOWN, dtype=events.dtype, device=events.device)
        T, B = events.shape[:2]
        prev = torch.cat([unknown.expand(1, B, 3), events[:-1]], dim=0)
        if dropout > 0:
            drop = torch.rand(prev.shape[:2], device=prev.device) < dropout
            prev = torch.where(drop[..., None], unknown, prev)
        lags = [prev]
        for lag in range(1, max(self.window, 1)):
            lags.append(torch.cat([unknown.expand(min(lag, T), B, 3), prev[: T - lag]], dim=0))
        return torch.stack(lags, dim=2)

    def decoder_input(
        self, T: int, style: Tensor, z: Tensor | None, prev: Tensor | None,
        codes: Tensor | None = None,
    ) -> Tensor:  # fmt: skip
        """(T, B, dec_in): [notes t-1 .. t-window] + style + [z], as the switches say
        (with a conductor, the code of the step's phrase, from ``codes``, in place of z)."""
        B = style.shape[0]
        parts = []
        if self.history:
            parts.append(self.embed_notes(prev).flatten(2))
        parts.append(self.emb_style(style).expand(T, B, -1))
        if self.segment:
            parts.append(codes.repeat_interleave(self.segment, dim=0)[:T])
        elif self.latent:
            parts.append(z.expand(T, B, -1))
        return torch.cat(parts, dim=-1)

    def phrase_codes(self, z: Tensor, T: int) -> Tensor:
        """The conductor's code of each phrase of ``T`` steps, ``(ceil(T / S), B, encoder_hidden)``."""
        return self.conductor.codes(z, -(-T // self.segment))

    def decode(self, x: Tensor, codes: Tensor | None = None) -> Tensor:
        """The decoder's hidden states ``(T, B, hidden)`` for its inputs ``x`` (T, B, dec_in):
        one pass over the melody, or (with a conductor) one pass over each phrase, every
        phrase from its own start state, all phrases of the batch at once."""
        if not self.segment:
            return self.decoder(x)[0]
        T, B, S, K = x.shape[0], x.shape[1], self.segment, len(codes)
        x = F.pad(x, (0, 0, 0, 0, 0, K * S - T))  # the last phrase padded to S steps
        x = x.view(K, S, B, -1).transpose(0, 1).reshape(S, K * B, -1)
        init = self.conductor.states(codes)  # (K, layers, B, H)
        init = init.transpose(0, 1).reshape(self.cfg.layers, K * B, -1)
        hidden, _ = self.decoder(x, init)
        return hidden.view(S, K, B, -1).transpose(0, 1).reshape(K * S, B, -1)[:T]

    def logits(self, hidden: Tensor, events: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Hidden states -> logits of the pitch-class, octave and duration heads.

        With ``cfg.event_head`` the event is factorised autoregressively,
        p(pc) p(octave | pc) p(duration | pc, octave): the octave and duration
        heads also see the (teacher-forced) pitch class and octave of the event
        they predict, through a small tanh layer. Independent heads would sample
        a pitch class and an octave that do not belong together (B3 -> C5 instead
        of B3 -> C4): octave jumps that no melody asked for.
        """
        h = self.drop(hidden)
        pc, octv, dur = self.head(h).split(VOCAB_SIZES, dim=-1)
        if self.cfg.event_head:
            cond_oct, g_dur = self.octave_given_pc(h, events[..., 0])
            octv = octv + cond_oct
            dur = dur + self.duration_given_octave(g_dur, events[..., 1])
        return pc, octv, dur

    def octave_given_pc(self, h: Tensor, pc: Tensor) -> tuple[Tensor, Tensor]:
        """The event head's octave term for pitch classes ``pc``, and the duration
        layer's pre-activation so far (the sampler draws pc, then octave, then duration)."""
        pre = self.cond_in(h) + self.cond_pc(pc)
        g_oct, g_dur = pre.split(self.cfg.event_head, dim=-1)
        return self.cond_out_oct(torch.tanh(g_oct)), g_dur

    def duration_given_octave(self, g_dur: Tensor, octv: Tensor) -> Tensor:
        """The event head's duration term, given pitch class (in ``g_dur``) and octave."""
        return self.cond_out_dur(torch.tanh(g_dur + self.cond_oct(octv)))

    # ------------------------------------------------------------ forward
    def forward(
        self,
        events: Tensor,
        lengths: Tensor,
        style: Tensor,
        *,
        z: Tensor | None = None,
        eps: Tensor | None = None,
    ) -> dict[str, Tensor]:
        """Teacher-forced pass over target ``events`` (end marker included).

        With a latent and no ``z``, z = mu + eps * sigma from the encoder (``eps``
        drawn here unless given). A given ``z`` skips the encoder. A model without
        latent ignores ``z``.
        """
        out: dict[str, Tensor] = {}
        if self.latent:
            if z is None:
                mu, logvar = self.encode(events, lengths)
                if eps is None:
                    eps = torch.randn_like(mu)
                z = mu + eps * torch.exp(0.5 * logvar)
                out.update(mu=mu, logvar=logvar)
            out["z"] = z
        else:
            z = None
        prev = None
        if self.history:
            p = self.cfg.history_dropout if (self.training and self.latent) else 0.0
            prev = self.history_input(events, p)
        T = events.shape[0]
        codes = self.phrase_codes(z, T) if self.segment else None
        hidden = self.decode(self.decoder_input(T, style, z, prev, codes), codes)
        out["pc"], out["oct"], out["dur"] = self.logits(hidden, events)
        if hasattr(self, "bow"):
            out["bow"] = self.bow(z)
        return out


class Conductor(nn.Module):
    """A hierarchical decoder's upper level: z -> one code per phrase, and from each code
    the note decoder's state at the phrase's start. As MusicVAE's conductor, it starts
    from ``tanh(W z + b)``, so that z reaches every code from the first phrase on (an RHN
    from a zero state mostly carries it: its first codes would hardly depend on z); it
    is also fed z at each step. Its width and depth are the encoder's."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.layers, self.hidden = cfg.layers, cfg.hidden
        self.start = nn.Linear(cfg.z_dim, cfg.encoder_hidden)
        self.rnn = RHN(cfg.z_dim, cfg.encoder_hidden, cfg.encoder_depth)
        self.to_state = nn.Linear(cfg.encoder_hidden, cfg.layers * cfg.hidden)

    def codes(self, z: Tensor, n_phrases: int) -> Tensor:
        """``(n_phrases, B, encoder_hidden)`` for codes ``z`` (B, z_dim)."""
        start = torch.tanh(self.start(z))[None]
        out, _ = self.rnn(z.expand(n_phrases, *z.shape), start)
        return out

    def states(self, codes: Tensor) -> Tensor:
        """``(n_phrases, layers, B, hidden)``: the decoder's start state of each phrase."""
        K, B = codes.shape[:2]
        return torch.tanh(self.to_state(codes)).view(K, B, self.layers, self.hidden).transpose(1, 2)


def gaussian_kl(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) per latent dimension, in nats (same shape)."""
    return 0.5 * (mu.square() + logvar.exp() - 1.0 - logvar)


def padding_mask(lengths: Tensor, T: int) -> Tensor:
    """(T, B) bool: True where a step holds a real event."""
    return torch.arange(T, device=lengths.device)[:, None] < lengths[None, :]


def loss_terms(
    out: dict[str, Tensor], events: Tensor, lengths: Tensor, *, free_bits: float = 0.0
) -> dict[str, Tensor]:
    """Summed cross-entropy per head and KL, in nats, plus counts.

    ``kl`` is the true KL summed over tracks; ``kl_penalty`` is what the loss
    penalises (with free bits: per dimension at least ``free_bits`` nats). With a
    bag-of-notes head, ``bow`` is its cross-entropy summed over events: z predicts one
    distribution over the pitch-class, octave and duration tokens together, and each
    event's three tokens are scored against it, their order ignored.
    """
    mask = padding_mask(lengths, events.shape[0])
    terms: dict[str, Tensor] = {}
    for i, name in enumerate(HEADS):
        ce = F.cross_entropy(out[name].flatten(0, 1), events[..., i].flatten(), reduction="none")
        terms[f"ce_{name}"] = (ce * mask.flatten()).sum()
    terms["ce"] = terms["ce_pc"] + terms["ce_oct"] + terms["ce_dur"]
    if "mu" in out:
        kl_dim = gaussian_kl(out["mu"], out["logvar"])  # (B, z)
        terms["kl"] = kl_dim.sum()
        per_dim = kl_dim.mean(0)
        terms["kl_penalty"] = torch.clamp(per_dim, min=free_bits).sum() * kl_dim.shape[0]
    else:
        terms["kl"] = terms["kl_penalty"] = torch.zeros((), device=events.device)
    if "bow" in out:
        logp = torch.log_softmax(out["bow"].float(), dim=-1)  # (B, pc | oct | dur)
        bow = torch.zeros((), device=events.device)
        for i, part in enumerate(logp.split(VOCAB_SIZES, dim=-1)):
            picked = part.gather(1, events[..., i].T.long()).T  # (T, B)
            bow = bow - (picked * mask).sum()
        terms["bow"] = bow
    terms["n_events"] = mask.sum().to(terms["ce"].dtype)
    terms["n_tracks"] = torch.tensor(float(len(lengths)), device=events.device)
    return terms


def kl_weight(step: int, warmup_steps: int, cycles: int = 0) -> float:
    """The KL term's weight at ``step``.

    ``cycles == 0``: linear warm-up, 0 at step 0, 1 from ``warmup_steps`` on.
    ``cycles > 0``: cyclical annealing (Fu et al. 2019, R = 0.5): ``cycles``
    periods of ``warmup_steps``, each ramping 0 -> 1 over its first half and
    holding 1 over its second; 1 after the last period.
    """
    if warmup_steps <= 0:
        return 1.0
    if cycles <= 0:
        return min(1.0, step / warmup_steps)
    if step >= cycles * warmup_steps:
        return 1.0
    return min(1.0, (step % warmup_steps) / (warmup_steps / 2))


def build_net(kind: str, n_styles: int, cfg: ModelConfig) -> MelodyNet:
    return MelodyNet(kind, n_styles, cfg)


def count_parameters(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())
