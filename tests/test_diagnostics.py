"""The latent code's statistics: KL, active units, I_q, teacher-forced accuracy, slerp,
the importance-weighted bound."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from vrashlib.config import load_config
from vrashlib.data.datamodule import collate
from vrashlib.data.encoding import DUR_NONE, END, OCT_NONE, OCT_VOCAB, PC_VOCAB, with_end
from vrashlib.data.tracks import TrackSet
from vrashlib.models.diagnostics import (
    IW_COLUMNS,
    active_units,
    code_diagnostics,
    free_bits_floor_bits,
    importance_weighted_bound,
    kl_bits,
    mutual_information_bits,
    posteriors,
    slerp,
    teacher_forced_accuracy,
)
from vrashlib.models.evaluation import evaluate
from vrashlib.models.network import build_net, loss_terms

torch.set_num_threads(1)
CFG = load_config("smoke").model
DUR0 = PC_VOCAB + OCT_VOCAB  # where the duration logits start


def test_kl_bits_by_hand():
    assert kl_bits(np.zeros((3, 4)), np.zeros((3, 4))) == 0.0
    mu = np.zeros((2, 3))
    mu[0, 0] = 2.0  # KL = mu^2 / 2 = 2 nats for melody 0, 0 for melody 1
    assert kl_bits(mu, np.zeros((2, 3))) == pytest.approx(1.0 / math.log(2))


def test_free_bits_floor_is_the_allowance_of_the_kinds_own_code():
    cfg = replace(CFG, free_bits=0.25, z_dim=8, vae_z_dim=16, vae_free_bits=0.5)
    assert free_bits_floor_bits(build_net("vrash", 2, cfg)) == pytest.approx(2 / math.log(2))
    assert free_bits_floor_bits(build_net("vae", 2, cfg)) == pytest.approx(8 / math.log(2))
    assert math.isnan(free_bits_floor_bits(build_net("lm", 2, cfg)))


def test_active_units_count_the_dimensions_whose_mean_varies():
    rng = np.random.default_rng(0)
    mu = np.zeros((500, 5))
    mu[:, 0] = rng.normal(0, 1.0, 500)  # variance 1: active
    mu[:, 1] = rng.normal(0, 0.3, 500)  # 0.09: active
    mu[:, 2] = rng.normal(0, 0.05, 500)  # 0.0025: inactive
    mu[:, 3] = 7.0  # constant: inactive, however far from 0
    assert active_units(mu) == 2
    assert active_units(mu, threshold=0.001) == 3
    with pytest.raises(ValueError, match="two melodies"):
        active_units(mu[:1])


def test_mutual_information_of_identical_posteriors_is_zero():
    mu = np.tile(np.array([[0.3, -1.0, 2.0]]), (200, 1))
    assert abs(mutual_information_bits(mu, np.full_like(mu, -1.0))) < 0.02


def test_mutual_information_of_separate_posteriors_reaches_log_n():
    n = 64
    mu = np.arange(n, dtype=float)[:, None] * 50.0 * np.ones((1, 2))  # far apart
    got = mutual_information_bits(mu, np.full_like(mu, -2.0))
    assert got == pytest.approx(math.log2(n), abs=0.01)


def test_mutual_information_of_a_gaussian_channel():
    """mu ~ N(0, 1) per dimension, q(z | x) = N(mu, s^2): I = d/2 log2(1 + 1/s^2)."""
    rng = np.random.default_rng(1)
    n, d, s2 = 3000, 2, 1.0
    mu = rng.standard_normal((n, d))
    got = mutual_information_bits(mu, np.full((n, d), math.log(s2)), samples=4)
    assert got == pytest.approx(d / 2 * math.log2(1 + 1 / s2), abs=0.08)


def test_slerp_ends_norms_and_degenerate_cases():
    a, b = np.array([1.0, 0.0, 0.0]), np.array([0.0, 2.0, 0.0])
    path = slerp(a, b, 5)
    np.testing.assert_allclose(path[0], a)
    np.testing.assert_allclose(path[-1], b)
    np.testing.assert_allclose(path[2], [np.cos(np.pi / 4), 2 * np.sin(np.pi / 4), 0], atol=1e-12)
    assert np.all(np.linalg.norm(path, axis=1) >= 1.0 - 1e-12)  # no dip towards the origin
    np.testing.assert_allclose(slerp(a, 3 * a, 3)[1], 2 * a)  # parallel: the line
    np.testing.assert_allclose(slerp(np.zeros(3), b, 3)[1], b / 2)  # zero: the line


def _certain_net(kind: str):
    """A network whose every head is sure of pitch class 2, octave 4, duration 5."""
    net = build_net(kind, 2, replace(CFG, event_head=0)).eval()
    with torch.no_grad():
        net.head.weight.zero_()
        net.head.bias.fill_(-10.0)
        net.head.bias[2] = net.head.bias[PC_VOCAB + 4] = net.head.bias[DUR0 + 5] = 10.0
    return net


def test_teacher_forced_accuracy_by_hand():
    good = np.tile([2, 4, 5], (6, 1))
    mixed = good.copy()
    mixed[1] = [3, 4, 5]  # wrong pitch class
    mixed[3] = [2, 4, 6]  # wrong duration
    ts = TrackSet.from_tracks([good, mixed], ("a", "b"), [0, 1])
    # 6 + 4 right of 14 events (each melody's end marker is never predicted)
    for kind in ("lm", "vrash"):
        net = _certain_net(kind)
        z = np.zeros((2, net.z_dim)) if net.latent else None
        assert teacher_forced_accuracy(net, ts, z) == pytest.approx(10 / 14)
    with pytest.raises(ValueError, match="code z"):
        teacher_forced_accuracy(_certain_net("vae"), ts, None)


def test_teacher_forced_accuracy_counts_the_end_marker():
    net = _certain_net("lm")
    with torch.no_grad():
        net.head.bias[END] = 30.0  # now sure of the end marker (and its "no octave")
        net.head.bias[PC_VOCAB + OCT_NONE] = 30.0
        net.head.bias[DUR0 + DUR_NONE] = 30.0
    ts = TrackSet.from_tracks([np.tile([2, 4, 5], (3, 1))], ("a",), [0])
    assert teacher_forced_accuracy(net, ts, None) == pytest.approx(1 / 4)


def test_posteriors_keep_track_order_and_code_diagnostics(tiny_trackset):
    net = build_net("vrash", 2, CFG).eval()
    mu, logvar = posteriors(net, tiny_trackset)
    one = tiny_trackset.subset([5])
    mu5, _ = posteriors(net, one)
    np.testing.assert_allclose(mu[5], mu5[0], rtol=1e-5, atol=1e-6)
    d = code_diagnostics(net, tiny_trackset)
    assert d["kl_bits_per_melody"] == pytest.approx(kl_bits(mu, logvar))
    assert 0 <= d["active_units"] <= CFG.z_dim
    assert d["mi_max_bits"] == pytest.approx(math.log2(len(tiny_trackset)))
    assert d["mi_bits"] <= d["mi_max_bits"] + 1e-9
    with pytest.raises(ValueError, match="no encoder"):
        posteriors(build_net("lm", 2, CFG), tiny_trackset)


# ------------------------------------------------------ importance-weighted bound
def _same_length_tracks(n: int = 5, length: int = 9, seed: int = 3) -> TrackSet:
    """``n`` random tracks of one length: one batch, in track order."""
    rng = np.random.default_rng(seed)
    tracks = [
        np.stack(
            [rng.integers(0, 12, length), rng.integers(2, 6, length), rng.integers(0, 8, length)], 1
        )
        for _ in range(n)
    ]
    return TrackSet.from_tracks(tracks, ("a", "b"), [i % 2 for i in range(n)])


def test_importance_weighted_bound_by_hand():
    """Log weights recomputed track by track: log p(x | z) from the loss's cross-entropy,
    the two Gaussians from scipy, codes from the documented generator sequence."""
    from scipy.stats import norm

    torch.manual_seed(0)
    net = build_net("vrash", 2, CFG).eval()
    ts, k = _same_length_tracks(), 6
    got = importance_weighted_bound(net, ts, samples=k, seed=11)
    assert tuple(got) == IW_COLUMNS
    mu, logvar = posteriors(net, ts)
    gen = torch.Generator().manual_seed(11)
    eps = [torch.randn(mu.shape, generator=gen).double().numpy() for _ in range(k)]
    log_w = np.zeros((k, len(ts)))
    n_events = 0
    with torch.no_grad():
        for i in range(len(ts)):
            one = ts.subset([i])
            b = collate([(with_end(one[0]), int(one.style[0]))])
            n_events += int(b["lengths"][0])
            std = np.exp(0.5 * logvar[i])
            for s in range(k):
                z = mu[i] + eps[s][i] * std
                out = net(b["events"], b["lengths"], b["style"], z=torch.tensor(z[None]).float())
                ce = float(loss_terms(out, b["events"], b["lengths"])["ce"])
                log_w[s, i] = (
                    -ce + norm.logpdf(z).sum() - norm.logpdf(z, loc=mu[i], scale=std).sum()
                )
    iw = -(np.logaddexp.reduce(log_w, axis=0) - math.log(k)).sum() / n_events / math.log(2)
    elbo = -log_w.mean(0).sum() / n_events / math.log(2)
    assert got["iw_bound"] == pytest.approx(iw, rel=1e-5)
    assert got["elbo_iw_sample"] == pytest.approx(elbo, rel=1e-5)
    assert got["iw_bound"] < got["elbo_iw_sample"]  # log-mean-exp above the mean (Jensen)


def test_importance_weighted_bound_is_the_cross_entropy_where_z_tells_nothing(tiny_trackset):
    """A posterior equal to the prior and a decoder deaf to z: every weight is p(x), so
    both numbers are the cross-entropy, which evaluate's bound (KL 0) also gives; and a
    model without z gets its cross-entropy."""
    torch.manual_seed(1)
    net = build_net("vrash", 2, CFG).eval()
    with torch.no_grad():
        net.to_posterior.weight.zero_()
        net.to_posterior.bias.zero_()  # q(z | x) = N(0, I)
        net.decoder.w_in[0][:, -net.z_dim :] = 0.0  # the decoder ignores z
    got = importance_weighted_bound(net, tiny_trackset, samples=5)
    ref = evaluate(net, tiny_trackset)
    assert ref["kl_per_event"] == pytest.approx(0.0, abs=1e-9)
    assert got["iw_bound"] == pytest.approx(ref["ce_total"], rel=1e-5)
    assert got["elbo_iw_sample"] == pytest.approx(ref["ce_total"], rel=1e-5)
    lm = build_net("lm", 2, CFG).eval()
    got = importance_weighted_bound(lm, tiny_trackset, samples=3)
    assert got["iw_bound"] == got["elbo_iw_sample"]
    assert got["iw_bound"] == pytest.approx(evaluate(lm, tiny_trackset)["ce_total"], rel=1e-5)


def test_importance_weighted_bound_tightens_with_more_codes(tiny_trackset):
    torch.manual_seed(2)
    net = build_net("vrash", 2, CFG).eval()
    one = importance_weighted_bound(net, tiny_trackset, samples=1)
    many = importance_weighted_bound(net, tiny_trackset, samples=32)
    assert one["iw_bound"] == pytest.approx(one["elbo_iw_sample"], rel=1e-12)  # k = 1: the ELBO
    assert many["iw_bound"] < many["elbo_iw_sample"]
    assert many["iw_bound"] < one["iw_bound"]
    assert net.training is False
    with pytest.raises(ValueError, match="samples >= 1"):
        importance_weighted_bound(net, tiny_trackset, samples=0)
