"""Does the latent code carry the melody? The code's own statistics (notebook 02).

An autoregressive decoder that also hears the notes already played can ignore z
("posterior collapse"): the KL then sits at the free-bits allowance and the model
is an LM with noise. Measured on real melodies (the validation split):

``kl_bits_per_melody``
    KL(q(z | melody) || N(0, I)) per melody, in bits, beside the *free-bits floor*
    (``free_bits`` nats x ``z_dim``), the KL the loss lets through for free.
``active_units``
    Dimensions whose posterior mean varies across melodies: Cov_x(E_q[z_d]) above
    a threshold (0.01; Burda et al. 2016).
``mi_bits``
    The mutual information between melody and code under the encoder, I_q(x; z)
    (Hoffman & Johnson 2016) = E_x E_q(z|x) [log q(z|x) - log q(z)], with the
    aggregate posterior q(z) the mixture of the N melodies' posteriors. This
    estimate cannot exceed log2 N bits (``mi_max_bits``).
``recon_tf_*``
    Teacher-forced reconstruction accuracy (MusicVAE): the share of events (pitch
    class, octave and duration all right; end marker included) that are the
    decoder's most likely values given the true previous events, with z the
    posterior mean of the melody's own code or a code drawn from the prior.
``iw_bound``, ``elbo_iw_sample``
    How good a density model the network is, beyond the loose single-sample
    bound: the importance-weighted bound (Burda et al. 2016) with ``k`` codes per
    melody, -log (1/k) sum_i p(x | z_i) p(z_i) / q(z_i | x), in bits per event.
    In expectation it is an upper bound on -log p(x) that tightens towards it as
    ``k`` grows, and it never exceeds the bound from the same ``k`` codes
    (``elbo_iw_sample``, the usual ELBO estimated from them). The ELBO lies above
    -log p(x) by KL(q(z | x) || p(z | x)); with free bits the encoder is made to
    spend more KL than the decoder needs, so that gap can be large, and the
    difference between the two columns shows (a lower bound on) how large. For a
    model without z both are its cross-entropy on the same melodies, so the gap to
    the LM is on equal terms.

The free-running (greedy) reconstruction accuracy and interpolations decode
melodies, which is the sampler's job: they are in
:mod:`vrashlib.sampling.reconstruct`, which also puts all of them in one table.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from vrashlib.data.datamodule import collate
from vrashlib.data.encoding import with_end
from vrashlib.data.tracks import TrackSet
from vrashlib.models.network import HEADS, LN2, MelodyNet, gaussian_kl, padding_mask


# ----------------------------------------------------------------- batches
def _batches(tracks: TrackSet, batch_size: int):
    """``(indices, batch)`` over all tracks, similar lengths together, end marker added."""
    order = np.argsort(tracks.lengths, kind="stable")
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        yield idx, collate([(with_end(tracks[i]), int(tracks.style[i])) for i in idx])


def posteriors(net: MelodyNet, tracks: TrackSet, batch_size: int = 64) -> tuple[np.ndarray, ...]:
    """Posterior means and log-variances ``(n, z_dim)`` (float64) of every track, in order."""
    if not net.latent:
        raise ValueError(f"a {net.kind} model has no encoder")
    mu = np.zeros((len(tracks), net.z_dim))
    logvar = np.zeros_like(mu)
    was_training = net.training
    net.eval()
    with torch.inference_mode():
        for idx, batch in _batches(tracks, batch_size):
            m, lv = net.encode(batch["events"], batch["lengths"])
            mu[idx], logvar[idx] = m.double().numpy(), lv.double().numpy()
    net.train(was_training)
    return mu, logvar


# ------------------------------------------------------- the code itself
def kl_bits(mu: np.ndarray, logvar: np.ndarray) -> float:
    """Mean KL(q(z | melody) || N(0, I)) per melody, in bits."""
    kl = gaussian_kl(torch.from_numpy(mu), torch.from_numpy(logvar)).sum(1)
    return float(kl.mean()) / LN2


def free_bits_floor_bits(net: MelodyNet) -> float:
    """The KL per melody (bits) that the free-bits allowance leaves unpenalised."""
    return net.cfg.free_bits * net.z_dim / LN2 if net.latent else float("nan")


def active_units(mu: np.ndarray, threshold: float = 0.01) -> int:
    """Dimensions whose posterior mean varies across melodies by more than ``threshold``
    (variance over melodies; Burda et al. 2016)."""
    if len(mu) < 2:
        raise ValueError("active units need at least two melodies")
    return int((np.var(mu, axis=0, ddof=1) > threshold).sum())


def mutual_information_bits(
    mu: np.ndarray, logvar: np.ndarray, *, samples: int = 8, seed: int = 0
) -> float:
    """I_q(x; z) in bits, by Monte Carlo over ``samples`` codes per melody (seeded).

    Each code z ~ q(z | x_i) is scored under its own posterior and under the
    aggregate posterior, the mixture of all N posteriors (the same draws for both
    terms, so that their difference is exact when the posteriors do not overlap);
    hence the estimate is at most log2 N bits however much the code carries.
    """
    n, d = mu.shape
    if n < 2:
        raise ValueError("the mutual information needs at least two melodies")
    rng = np.random.default_rng(seed)
    std = np.exp(0.5 * logvar)
    inv = np.exp(-logvar)  # (n, d)
    const = -0.5 * d * math.log(2 * math.pi) - 0.5 * logvar.sum(1)  # (n,) per component
    mu_inv = mu * inv
    mu_sq = (mu * mu_inv).sum(1)  # (n,)
    total = 0.0
    for _ in range(samples):
        z = mu + std * rng.standard_normal((n, d))
        # log N(z_i; mu_j, var_j) for every i, j, as matrix products
        quad = (z * z) @ inv.T - 2.0 * z @ mu_inv.T + mu_sq[None, :]
        log_pdf = const[None, :] - 0.5 * quad  # (n_i, n_j)
        top = log_pdf.max(1, keepdims=True)
        log_mix = top[:, 0] + np.log(np.exp(log_pdf - top).sum(1)) - math.log(n)
        total += float(np.mean(np.diag(log_pdf) - log_mix))
    return total / samples / LN2


def track_log_likelihood(
    out: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]
) -> torch.Tensor:
    """log p(melody | z) per track (nats, ``(B,)``): the three heads' log-probabilities of
    every real event (end marker included), padding excluded."""
    events, lengths = batch["events"], batch["lengths"]
    mask = padding_mask(lengths, events.shape[0])
    ll = torch.zeros(events.shape[1], dtype=torch.float64)
    for i, name in enumerate(HEADS):
        logp = torch.log_softmax(out[name].double(), dim=-1)
        picked = logp.gather(-1, events[..., i : i + 1].long())[..., 0]  # (T, B)
        ll += (picked * mask).sum(0)
    return ll


IW_COLUMNS = ("iw_bound", "elbo_iw_sample")  # what importance_weighted_bound returns


def importance_weighted_bound(
    net: MelodyNet, tracks: TrackSet, *, samples: int, seed: int = 0, batch_size: int = 64
) -> dict[str, float]:
    """The importance-weighted bound with ``samples`` codes per melody, and the ELBO
    estimated from the same codes, in bits per event over ``tracks`` (end markers
    counted as events, as in :func:`~vrashlib.models.evaluation.evaluate`).

    Log weights log p(x | z) + log N(z; 0, I) - log q(z | x), codes z = mu + eps *
    sigma with ``eps`` from a generator seeded by ``seed``; ``iw_bound`` is minus
    their log-mean-exp, ``elbo_iw_sample`` minus their mean, per melody, summed over
    melodies and divided by the events. A model without z has no codes: both are its
    cross-entropy.
    """
    if samples < 1:
        raise ValueError(f"the importance-weighted bound needs samples >= 1, got {samples}")
    gen = torch.Generator().manual_seed(seed)
    iw = elbo = events = 0.0
    log2pi = math.log(2 * math.pi)
    was_training = net.training
    net.eval()
    with torch.inference_mode():
        for _, b in _batches(tracks, batch_size):
            events += float(b["lengths"].sum())
            if not net.latent:
                ll = track_log_likelihood(net(b["events"], b["lengths"], b["style"]), b)
                iw -= float(ll.sum())
                elbo -= float(ll.sum())
                continue
            mu, logvar = net.encode(b["events"], b["lengths"])
            std = torch.exp(0.5 * logvar)
            log_w = []
            for _ in range(samples):  # one pass per code: batching codes gains nothing on a CPU
                eps = torch.randn(mu.shape, generator=gen)
                z = mu + eps * std
                ll = track_log_likelihood(net(b["events"], b["lengths"], b["style"], z=z), b)
                log_prior = -0.5 * (z.double().square().sum(1) + net.z_dim * log2pi)
                log_q = -0.5 * (
                    eps.double().square().sum(1) + logvar.double().sum(1) + net.z_dim * log2pi
                )
                log_w.append(ll + log_prior - log_q)
            w = torch.stack(log_w)  # (samples, B)
            iw -= float((torch.logsumexp(w, 0) - math.log(samples)).sum())
            elbo -= float(w.mean(0).sum())
    net.train(was_training)
    return dict(zip(IW_COLUMNS, (iw / events / LN2, elbo / events / LN2), strict=True))


# -------------------------------------------------------- reconstruction
def prior_codes(n: int, z_dim: int, seed: int = 0) -> np.ndarray:
    """``n`` codes drawn from the prior N(0, I), seeded."""
    return np.random.default_rng(seed).standard_normal((n, z_dim))


def teacher_forced_accuracy(net: MelodyNet, tracks: TrackSet, z: np.ndarray | None) -> float:
    """Share of events (end marker included) whose pitch class, octave and duration are
    all the decoder's most likely values given the true previous events and code ``z``
    (``(n, z_dim)``, one row per track; ``None`` for a model without z)."""
    if net.latent and z is None:
        raise ValueError(f"a {net.kind} model needs a code z per melody")
    correct = total = 0
    was_training = net.training
    net.eval()
    with torch.inference_mode():
        for idx, b in _batches(tracks, 64):
            zb = torch.from_numpy(z[idx]).float() if net.latent else None
            out = net(b["events"], b["lengths"], b["style"], z=zb)
            ok = padding_mask(b["lengths"], b["events"].shape[0])
            for i, name in enumerate(("pc", "oct", "dur")):
                ok &= out[name].argmax(-1) == b["events"][..., i]
            correct += int(ok.sum())
            total += int(b["lengths"].sum())
    net.train(was_training)
    return correct / total


# ---------------------------------------------------------- interpolation
def slerp(z0: np.ndarray, z1: np.ndarray, steps: int) -> np.ndarray:
    """``steps`` points of the spherical interpolation from ``z0`` to ``z1`` (ends
    included; White 2016): the straight line where either is zero or the two are
    (anti-)parallel. Under a Gaussian prior the midpoints keep a typical norm, where
    the straight line's pass through the improbable region near the origin."""
    z0, z1 = np.asarray(z0, np.float64), np.asarray(z1, np.float64)
    t = np.linspace(0.0, 1.0, steps)[:, None]
    norms = float(np.linalg.norm(z0) * np.linalg.norm(z1))
    omega = math.acos(min(1.0, max(-1.0, float(z0 @ z1) / norms))) if norms > 1e-12 else 0.0
    if math.sin(omega) < 1e-6:
        return (1 - t) * z0 + t * z1
    return (np.sin((1 - t) * omega) * z0 + np.sin(t * omega) * z1) / math.sin(omega)


def code_diagnostics(
    net: MelodyNet,
    tracks: TrackSet,
    *,
    active_threshold: float = 0.01,
    mi_samples: int = 8,
    seed: int = 0,
) -> dict[str, float]:
    """KL per melody and its free-bits floor (bits), active units (count and share),
    I_q (bits) and its ceiling log2 N, over every track of ``tracks`` (whose style
    ids must be the network's)."""
    mu, logvar = posteriors(net, tracks)
    units = active_units(mu, active_threshold)
    return {
        "kl_bits_per_melody": kl_bits(mu, logvar),
        "free_bits_floor_bits": free_bits_floor_bits(net),
        "active_units": float(units),
        "active_share": units / net.z_dim,
        "mi_bits": mutual_information_bits(mu, logvar, samples=mi_samples, seed=seed),
        "mi_max_bits": math.log2(len(tracks)),
    }
