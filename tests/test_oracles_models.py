"""Independent oracles for the losses: the Gaussian KL, free bits and the ELBO bound.

Every expected number here is computed by hand (closed forms written out in the
test, ``math`` and numpy), never by calling the function under test a second
time. Non-zero means *and* log-variances are used throughout: a KL with a wrong
sign on ``logvar`` agrees with the right one at ``logvar = 0``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vrashlib.config import load_config
from vrashlib.data.encoding import DUR_NONE, DUR_ONE, END, OCT_NONE, REST, VOCAB_SIZES
from vrashlib.data.tracks import TrackSet
from vrashlib.models.module import summarize
from vrashlib.models.network import bits, build_net, gaussian_kl, kl_weight, loss_terms
from vrashlib.models.training import evaluate

torch.set_num_threads(1)
CFG = load_config("smoke").model
LN2 = math.log(2.0)


def kl_by_hand(mu: float, logvar: float) -> float:
    """KL(N(mu, s^2) || N(0, 1)) = (mu^2 + s^2 - 1 - ln s^2) / 2, nats."""
    return 0.5 * (mu * mu + math.exp(logvar) - 1.0 - logvar)


# (mu, logvar, KL in nats worked out on paper)
KL_CASES = [
    (0.0, 0.0, 0.0),
    (1.0, 0.0, 0.5),
    (0.0, math.log(2.0), 0.5 * (2.0 - 1.0 - math.log(2.0))),  # 0.1534264
    (0.5, math.log(2.0), 0.5 * (0.25 + 2.0 - 1.0 - math.log(2.0))),  # 0.2784264
    (-1.0, -1.0, 0.5 * (1.0 + math.exp(-1.0))),  # 0.6839397
    (2.0, 1.0, 0.5 * (4.0 + math.e - 2.0)),  # 2.3591409
    (0.0, -2.0, 0.5 * (math.exp(-2.0) + 1.0)),  # 0.5676676
]


@pytest.mark.parametrize(("mu", "logvar", "expected"), KL_CASES)
def test_gaussian_kl_matches_hand_computed_values(mu, logvar, expected):
    assert kl_by_hand(mu, logvar) == pytest.approx(expected, abs=1e-12)
    f64 = torch.float64
    got = gaussian_kl(torch.tensor([[mu]], dtype=f64), torch.tensor([[logvar]], dtype=f64))
    assert got.shape == (1, 1)
    assert float(got) == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_gaussian_kl_agrees_with_torch_distributions_per_dimension():
    g = torch.Generator().manual_seed(0)
    mu = torch.randn(5, 7, generator=g, dtype=torch.float64) * 2
    logvar = torch.randn(5, 7, generator=g, dtype=torch.float64)
    q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    p = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    expected = torch.distributions.kl_divergence(q, p)
    torch.testing.assert_close(gaussian_kl(mu, logvar), expected, rtol=1e-12, atol=1e-12)
    assert (gaussian_kl(mu, logvar) >= 0).all()


def test_gaussian_kl_monte_carlo():
    """E_q[ln q(z) - ln p(z)] by sampling, for one non-trivial posterior."""
    mu, logvar = 0.7, -0.6
    rng = np.random.default_rng(0)
    s = math.exp(0.5 * logvar)
    z = mu + s * rng.standard_normal(400_000)
    log_q = -0.5 * ((z - mu) / s) ** 2 - math.log(s)
    log_p = -0.5 * z**2
    mc = float(np.mean(log_q - log_p))
    got = float(gaussian_kl(torch.tensor([mu]), torch.tensor([logvar])))
    assert got == pytest.approx(mc, abs=0.01)
    assert got == pytest.approx(kl_by_hand(mu, logvar), rel=1e-6)


def _fake_out(mu, logvar, T=2, B=None):
    """A network output with uniform logits and the given posterior (B, z)."""
    mu = torch.tensor(mu, dtype=torch.float64)
    logvar = torch.tensor(logvar, dtype=torch.float64)
    B = mu.shape[0]
    out = {
        "pc": torch.zeros(T, B, 14, dtype=torch.float64),
        "oct": torch.zeros(T, B, 10, dtype=torch.float64),
        "dur": torch.zeros(T, B, DUR_NONE + 1, dtype=torch.float64),
        "mu": mu,
        "logvar": logvar,
    }
    events = torch.zeros(T, B, 3, dtype=torch.long)
    lengths = torch.full((B,), T, dtype=torch.long)
    return out, events, lengths


def test_free_bits_with_non_zero_kl_per_dimension():
    # Two tracks, three latent dimensions; per-track, per-dimension KL by hand.
    mu = [[1.0, 0.1, 0.0], [-1.0, 0.3, 0.0]]
    logvar = [[0.0, 0.0, math.log(2.0)], [0.0, 0.0, -1.0]]
    kl = np.array(
        [
            [kl_by_hand(m, v) for m, v in zip(r, lv, strict=True)]
            for r, lv in zip(mu, logvar, strict=True)
        ]
    )
    per_dim = kl.mean(0)  # dim 0: 0.5, dim 1: 0.025, dim 2: (0.1534 + 0.1839) / 2 = 0.1687
    assert per_dim[0] == pytest.approx(0.5)
    assert per_dim[1] == pytest.approx(0.025)
    assert per_dim[2] == pytest.approx(0.5 * (0.5 * (1 - math.log(2)) + 0.5 * math.exp(-1)))
    out, events, lengths = _fake_out(mu, logvar)
    cases = {
        0.0: kl.sum(),  # no floor: the true KL
        0.1: 2 * (0.5 + 0.1 + per_dim[2]),  # only dim 1 (0.025 < 0.1) is floored
        0.2: 2 * (0.5 + 0.2 + 0.2),  # dims 1 and 2 floored
        1.0: 2 * 3 * 1.0,  # everything floored
    }
    for free_bits, expected in cases.items():
        terms = loss_terms(out, events, lengths, free_bits=free_bits)
        assert float(terms["kl"]) == pytest.approx(kl.sum(), rel=1e-12), free_bits
        assert float(terms["kl_penalty"]) == pytest.approx(expected, rel=1e-12), free_bits


def test_free_bits_are_per_dimension_averaged_over_the_batch_not_per_track():
    # Dim 0: KL 2.0 for one track and 0 for the other: mean 1.0 >= 0.5, not floored,
    # although one track alone is below the floor.
    out, events, lengths = _fake_out([[2.0], [0.0]], [[0.0], [0.0]])
    terms = loss_terms(out, events, lengths, free_bits=0.5)
    assert float(terms["kl_penalty"]) == pytest.approx(2.0)
    assert float(terms["kl"]) == pytest.approx(2.0)


def test_cross_entropy_of_uniform_logits_is_log_vocabulary_per_event():
    out, events, lengths = _fake_out([[0.0], [0.0], [0.0]], [[0.0], [0.0], [0.0]], T=4)
    lengths = torch.tensor([4, 2, 1])
    terms = loss_terms(out, events, lengths)
    n = 4 + 2 + 1
    assert float(terms["n_events"]) == n and float(terms["n_tracks"]) == 3
    assert float(terms["ce_pc"]) == pytest.approx(n * math.log(14))
    assert float(terms["ce_oct"]) == pytest.approx(n * math.log(10))
    assert float(terms["ce_dur"]) == pytest.approx(n * math.log(DUR_NONE + 1))
    assert float(terms["ce"]) == pytest.approx(n * math.log(14 * 10 * (DUR_NONE + 1)))


def test_bits_and_kl_warmup_by_hand():
    assert bits(math.log(8.0)) == pytest.approx(3.0)
    assert bits(1.0) == pytest.approx(1 / LN2)
    assert [kl_weight(s, 10) for s in (0, 5, 10, 20)] == [0.0, 0.5, 1.0, 1.0]
    assert kl_weight(0, 0) == 1.0 and kl_weight(3, -1) == 1.0


def test_summarize_turns_nats_into_bits_per_event_and_track():
    sums = {"ce_pc": 10 * LN2, "ce_oct": 4 * LN2, "ce_dur": 6 * LN2, "ce": 20 * LN2}
    sums.update(kl=5 * LN2, kl_penalty=7 * LN2, n_events=10.0, n_tracks=2.0)
    row = summarize(sums)
    assert row["ce_pc"] == pytest.approx(1.0) and row["ce_oct"] == pytest.approx(0.4)
    assert row["ce_dur"] == pytest.approx(0.6) and row["ce_total"] == pytest.approx(2.0)
    assert row["kl_per_event"] == pytest.approx(0.5)
    assert row["kl_per_track"] == pytest.approx(2.5)
    assert row["bound_total"] == pytest.approx(2.5)


# --------------------------------------------------- the bound on a tiny model
TRACKS = [
    np.array([[0, 4, DUR_ONE], [2, 4, DUR_ONE], [REST, OCT_NONE, DUR_ONE - 1]], np.int16),
    np.array([[7, 3, DUR_ONE + 2], [7, 5, DUR_ONE]], np.int16),
    np.array([[11, 4, DUR_ONE]] * 5, np.int16),
]


def _tiny_model(kind: str, mu: np.ndarray, logvar: np.ndarray, seed: int = 0):
    """A network whose heads output fixed logits (weights 0, random biases) and whose
    encoder outputs a fixed posterior: its likelihood can be worked out by hand."""
    torch.manual_seed(seed)
    net = build_net(kind, 1, CFG).double().eval()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        net.head.weight.zero_()
        net.head.bias.copy_(torch.randn(net.head.bias.shape, generator=g, dtype=torch.float64))
        if CFG.event_head:
            for lin in (net.cond_out_oct, net.cond_out_dur):
                lin.weight.zero_()
                lin.bias.zero_()
        if net.latent:
            net.to_posterior.weight.zero_()
            net.to_posterior.bias.copy_(torch.from_numpy(np.concatenate([mu, logvar])))
    return net


def _log_softmax(v: np.ndarray) -> np.ndarray:
    v = v - v.max()
    return v - np.log(np.exp(v).sum())


@pytest.mark.parametrize("kind", ["lm", "vae", "vrash"])
def test_elbo_bound_in_bits_on_a_tiny_model_by_hand(kind):
    z = CFG.z_dim
    mu = np.linspace(-1.0, 1.0, z)
    logvar = np.linspace(-0.5, 0.7, z)
    net = _tiny_model(kind, mu, logvar)
    b = net.head.bias.detach().numpy()
    lp_pc, lp_oct, lp_dur = _log_softmax(b[:14]), _log_softmax(b[14:24]), _log_softmax(b[24:])
    ce = n_events = 0.0
    for ev in TRACKS:
        for pc, octv, dur in [*ev.tolist(), [END, OCT_NONE, DUR_NONE]]:  # end marker included
            ce -= lp_pc[pc] + lp_oct[octv] + lp_dur[dur]
            n_events += 1
    kl_track = sum(kl_by_hand(m, v) for m, v in zip(mu, logvar, strict=True)) if net.latent else 0.0
    kl = len(TRACKS) * kl_track
    ts = TrackSet.from_tracks(TRACKS, ("x",), np.zeros(len(TRACKS), int))
    got = evaluate(net, ts, batch_size=2)
    assert n_events == 3 + 2 + 5 + 3
    assert got["n_events"] == n_events and got["n_tracks"] == 3
    assert got["ce_total"] == pytest.approx(ce / n_events / LN2, rel=1e-9)
    assert got["kl_per_event"] == pytest.approx(kl / n_events / LN2, rel=1e-9, abs=1e-12)
    assert got["kl_per_track"] == pytest.approx(kl_track / LN2, rel=1e-9, abs=1e-12)
    assert got["bound_total"] == pytest.approx((ce + kl) / n_events / LN2, rel=1e-9)
    if net.latent:
        assert got["bound_total"] > got["ce_total"]  # the KL term is really added


def test_kl_warmup_of_one_step_and_parameter_count_by_hand():
    assert kl_weight(0, 1) == 0.0 and kl_weight(1, 1) == 1.0 and kl_weight(3, 4) == 0.75
    from vrashlib.models.network import count_parameters

    lin = torch.nn.Linear(3, 2)  # 3 x 2 weights + 2 biases
    assert count_parameters(lin) == 8
    assert count_parameters(torch.nn.Sequential(lin, torch.nn.Embedding(5, 4))) == 28


def test_cyclical_kl_annealing_by_hand():
    # two periods of 10 steps: ramp 0 -> 1 over 5 steps, hold 1 for 5; then 1 for good
    want = {0: 0.0, 2: 0.4, 4: 0.8, 5: 1.0, 7: 1.0, 9: 1.0, 10: 0.0, 12: 0.4, 19: 1.0}
    want |= {20: 1.0, 25: 1.0, 1000: 1.0}
    for step, w in want.items():
        assert kl_weight(step, 10, cycles=2) == pytest.approx(w), step
    assert kl_weight(3, 10, cycles=1) == pytest.approx(0.6)  # one cycle still ramps in half
    assert kl_weight(10, 10, cycles=1) == 1.0
    assert kl_weight(3, 10, cycles=0) == pytest.approx(0.3)  # no cycles: linear warm-up
    assert kl_weight(7, 0, cycles=3) == 1.0


def test_loss_terms_without_latent_have_zero_kl_terms():
    out, events, lengths = _fake_out([[0.0], [0.0]], [[0.0], [0.0]])
    del out["mu"], out["logvar"]
    terms = loss_terms(out, events, lengths, free_bits=0.5)
    assert float(terms["kl"]) == 0.0 and float(terms["kl_penalty"]) == 0.0
    assert terms["kl_penalty"].shape == () and "bow" not in terms


def test_bag_of_notes_term_by_hand():
    g = torch.Generator().manual_seed(1)
    n_pc, n_oct, n_dur = 14, 10, DUR_NONE + 1
    out, _, _ = _fake_out([[0.0], [0.0]], [[0.0], [0.0]], T=3)
    out["bow"] = torch.randn(2, n_pc + n_oct + n_dur, generator=g, dtype=torch.float64)
    events = torch.stack(
        [
            torch.tensor([[0, 4, 7], [3, 5, 9]]),
            torch.tensor([[2, 4, 8], [0, 0, 0]]),  # track 1 has ended: padding
            torch.tensor([[REST, OCT_NONE, 1], [0, 0, 0]]),
        ]
    )  # (T=3, B=2, 3)
    lengths = torch.tensor([3, 1])
    terms = loss_terms(out, events, lengths)
    logp = out["bow"].numpy() - np.log(np.exp(out["bow"].numpy()).sum(1, keepdims=True))
    want = 0.0
    for b, n in enumerate(lengths.tolist()):
        for t in range(n):
            pc, octv, dur = events[t, b].tolist()
            want -= logp[b, pc] + logp[b, n_pc + octv] + logp[b, n_pc + n_oct + dur]
    assert float(terms["bow"]) == pytest.approx(want, rel=1e-6)


def test_posterior_reads_the_encoder_state_after_the_end_marker():
    from vrashlib.data.encoding import with_end

    torch.manual_seed(0)
    net = build_net("vae", 1, CFG).double().eval()
    tracks = [with_end(t) for t in TRACKS]
    lengths = torch.tensor([len(t) for t in tracks])
    events = torch.full((int(lengths.max()), len(tracks), 3), 0, dtype=torch.long)
    for b, t in enumerate(tracks):
        events[: len(t), b] = torch.from_numpy(t.astype(np.int64))
    mu, logvar = net.encode(events, lengths)
    with torch.no_grad():
        for b, t in enumerate(tracks):  # each track alone, no padding: its last state
            out, _ = net.encoder(net.embed_notes(torch.from_numpy(t.astype(np.int64))[:, None]))
            want = net.to_posterior(out[-1, 0])
            torch.testing.assert_close(mu[b], want[: CFG.z_dim])
            torch.testing.assert_close(logvar[b], want[CFG.z_dim :])
    with pytest.raises(ValueError, match="a lm model has no encoder"):
        build_net("lm", 1, CFG).encode(events, lengths)


def _batch(tracks):
    from vrashlib.data.encoding import with_end

    tracks = [with_end(t) for t in tracks]
    lengths = torch.tensor([len(t) for t in tracks])
    events = torch.zeros((int(lengths.max()), len(tracks), 3), dtype=torch.long)
    for b, t in enumerate(tracks):
        events[: len(t), b] = torch.from_numpy(t.astype(np.int64))
    return events, lengths, torch.zeros(len(tracks), dtype=torch.long)


def test_reparameterised_code_is_mu_plus_eps_sigma_by_hand():
    """z = mu + eps * exp(logvar / 2), with the posterior fixed by hand; the decoder
    reads that z (passing it back in gives the same logits); and drawn eps make a z
    of mean mu and standard deviation exp(logvar / 2)."""
    mu = np.linspace(-1.0, 1.0, CFG.z_dim)
    logvar = np.linspace(-1.5, 0.8, CFG.z_dim)
    sigma = np.exp(logvar / 2)
    net = _tiny_model("vrash", mu, logvar)
    events, lengths, style = _batch(TRACKS)
    eps = torch.linspace(-2.0, 2.0, CFG.z_dim, dtype=torch.float64).expand(len(TRACKS), -1)
    with torch.no_grad():
        out = net(events, lengths, style, eps=eps)
        np.testing.assert_allclose(out["mu"].numpy(), np.broadcast_to(mu, (3, CFG.z_dim)))
        want = mu + eps.numpy() * sigma
        np.testing.assert_allclose(out["z"].numpy(), want, rtol=1e-12)
        again = net(events, lengths, style, z=torch.from_numpy(want))
        for head in ("pc", "oct", "dur"):
            torch.testing.assert_close(out[head], again[head])
        torch.manual_seed(5)
        many = torch.cat([net(events, lengths, style)["z"] for _ in range(700)]).numpy()
    assert np.abs(many.mean(0) - mu).max() < 4 * sigma.max() / math.sqrt(len(many))
    np.testing.assert_allclose(many.std(0), sigma, rtol=0.08)


def test_event_head_factorises_pc_then_octave_then_duration_by_hand():
    """With ``event_head``, the octave logits add W_o tanh(g_o) and the duration logits
    W_d tanh(g_d + E_oct[octave]), where [g_o, g_d] = A h + E_pc[pitch class] (the
    event's own teacher-forced pitch class and octave): worked out here with numpy."""
    assert CFG.event_head
    torch.manual_seed(2)
    net = build_net("lm", 1, CFG).double().eval()
    e = CFG.event_head
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for p in net.parameters():  # every parameter away from its initial scale
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64) * 0.5)
    h = torch.randn(4, 2, CFG.hidden, generator=g, dtype=torch.float64)
    events = torch.tensor([[[3, 4, 7], [11, 5, 2]]] * 4)  # (T=4, B=2, 3)
    with torch.no_grad():
        pc, octv, dur = net.logits(h, events)
    P = {k: v.detach().numpy() for k, v in net.named_parameters()}
    hn = h.numpy()
    base = hn @ P["head.weight"].T + P["head.bias"]
    n_pc, n_oct = 14, 10
    ev = events.numpy()
    pre = hn @ P["cond_in.weight"].T + P["cond_in.bias"] + P["cond_pc.weight"][ev[..., 0]]
    g_oct, g_dur = pre[..., :e], pre[..., e:]
    want_oct = base[..., n_pc : n_pc + n_oct] + (
        np.tanh(g_oct) @ P["cond_out_oct.weight"].T + P["cond_out_oct.bias"]
    )
    want_dur = base[..., n_pc + n_oct :] + (
        np.tanh(g_dur + P["cond_oct.weight"][ev[..., 1]]) @ P["cond_out_dur.weight"].T
        + P["cond_out_dur.bias"]
    )
    np.testing.assert_allclose(pc.numpy(), base[..., :n_pc], rtol=1e-10)
    np.testing.assert_allclose(octv.numpy(), want_oct, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dur.numpy(), want_dur, rtol=1e-10, atol=1e-12)


def test_the_network_is_built_as_configured():
    """Depths, dropout, the unknown token's embedding row and the bag-of-notes head's
    hidden layer come from the configuration (checked on values unlike the defaults)."""
    import dataclasses

    from vrashlib.data.encoding import OCT_VOCAB, PC_VOCAB

    cfg = dataclasses.replace(CFG, depth=2, encoder_depth=4, dropout=0.35, bow_weight=1.0)
    net = build_net("vrash", 2, cfg)
    assert net.decoder.depth == 2 and net.encoder.depth == 4
    assert net.decoder.dropout.p == pytest.approx(0.35) and net.drop.p == pytest.approx(0.35)
    # one embedding row per token plus the "unknown" (history start / dropped) token
    assert [e.num_embeddings for e in net.emb] == [v + 1 for v in VOCAB_SIZES]
    if cfg.event_head:
        assert net.cond_pc.num_embeddings == PC_VOCAB + 1
        assert net.cond_oct.num_embeddings == OCT_VOCAB + 1
    assert [type(m).__name__ for m in net.bow] == ["Linear", "Tanh", "Linear"]
