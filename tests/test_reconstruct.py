"""Greedy decoding, free-running reconstruction accuracy, interpolation paths, and the
sampler's support for a history window of several events."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from tests.conftest import assert_decoder_follows_network
from vrashlib.config import load_config
from vrashlib.data.encoding import DUR_NONE, END, OCT_NONE, OCT_VOCAB, PC_VOCAB, with_end
from vrashlib.data.tracks import TrackSet
from vrashlib.models.diagnostics import posteriors
from vrashlib.models.evaluation import cross_entropy_table
from vrashlib.models.training import build_module
from vrashlib.sampling.kernels import sample_compiled
from vrashlib.sampling.reconstruct import (
    diagnostics_table,
    event_agreement,
    free_running_accuracy,
    gradualness,
    greedy_decode,
    interpolate_melodies,
    interpolation_features,
    melody_distance,
    with_diagnostics,
)
from vrashlib.sampling.sampler import (
    NumpyDecoder,
    TorchDecoder,
    export_sampler,
)

torch.set_num_threads(1)
CFG = load_config("smoke")
DUR0 = PC_VOCAB + OCT_VOCAB


def test_event_agreement_by_hand():
    target = np.array([[1, 4, 2], [3, 4, 2], [5, 4, 2]])
    assert event_agreement(target, target, 100) == (4, 4)  # end marker included
    assert event_agreement(target[:2], target, 100) == (2, 4)  # ended early: end marker wrong
    longer = np.concatenate([target, target])
    assert event_agreement(longer, target, 100) == (3, 4)  # went on past the end
    wrong = target.copy()
    wrong[1, 2] = 7  # one field wrong = the event wrong
    assert event_agreement(wrong, target, 100) == (3, 4)
    assert event_agreement(target, target, 2) == (2, 2)  # the first max_len events only
    assert event_agreement(np.zeros((0, 3), int), target, 100) == (0, 4)


def _certain_module(kind: str):
    """A module whose decoder is sure of pitch class 2, octave 4, duration 5, never ends."""
    module = build_module(kind, _tracks(), replace(CFG, model=replace(CFG.model, event_head=0)))
    with torch.no_grad():
        module.net.head.weight.zero_()
        module.net.head.bias.fill_(-10.0)
        module.net.head.bias[2] = module.net.head.bias[PC_VOCAB + 4] = 10.0
        module.net.head.bias[DUR0 + 5] = 10.0
    return module.eval()


def _tracks() -> TrackSet:
    good = np.tile([2, 4, 5], (6, 1))
    other = good.copy()
    other[2] = [7, 4, 5]
    return TrackSet.from_tracks([good, other], ("bach", "fiddle"), [0, 1])


def test_greedy_decoding_and_free_running_accuracy_by_hand():
    for kind in ("lm", "vrash"):
        module = _certain_module(kind)
        z = np.zeros((2, module.net.z_dim)) if module.net.latent else None
        decoded = greedy_decode(module, np.array([0, 1]), z, 10)
        for melody in decoded:
            np.testing.assert_array_equal(melody, np.tile([2, 4, 5], (10, 1)))
        # melody 1: positions 0-5 right, the end marker wrong; melody 2 also misses event 2
        assert free_running_accuracy(module, _tracks(), z, 100) == pytest.approx(11 / 14)
        assert free_running_accuracy(module, _tracks(), z, 3) == pytest.approx(5 / 6)


def test_greedy_decoding_stops_at_the_end_marker():
    module = _certain_module("lm")
    with torch.no_grad():
        module.net.head.bias[END] = 30.0
        module.net.head.bias[PC_VOCAB + OCT_NONE] = 30.0
        module.net.head.bias[DUR0 + DUR_NONE] = 30.0
    # the end marker cannot be the first event: one note, then the end
    assert [len(m) for m in greedy_decode(module, np.array([0, 0]), None, 10)] == [1, 1]


def test_a_decoder_that_ignores_z_reconstructs_as_well_from_the_prior(tiny_trackset):
    module = build_module("vrash", tiny_trackset, CFG).eval()
    net = module.net
    val = tiny_trackset.select(split="val")
    z_post, _ = posteriors(net, val)
    z_prior = np.random.default_rng(0).standard_normal(z_post.shape)
    z_cols = slice(net.decoder.w_in[0].shape[1] - net.z_dim, None)
    a = greedy_decode(module, val.style, z_post, 40)
    b = greedy_decode(module, val.style, z_prior, 40)
    assert any(not np.array_equal(x, y) for x, y in zip(a, b, strict=True))  # it hears z
    with torch.no_grad():
        net.decoder.w_in[0][:, z_cols] = 0.0  # now it does not
    a = greedy_decode(module, val.style, z_post, 40)
    b = greedy_decode(module, val.style, z_prior, 40)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert free_running_accuracy(module, val, z_post, 40) == free_running_accuracy(
        module, val, z_prior, 40
    )


def test_melody_distance_and_gradualness():
    a = np.tile([1, 4, 2], (4, 1))
    b = a.copy()
    b[0] = [2, 4, 2]
    assert melody_distance(a, a) == 0.0
    assert melody_distance(a, b) == 0.25
    assert melody_distance(a, a[:2]) == 0.5  # missing events differ
    path = [a.copy() for _ in range(5)]
    for k in range(1, 5):  # one more event changes at every step
        path[k] = path[k - 1].copy()
        path[k][k - 1] = [9, 4, 2]
    g = gradualness(interpolation_features(path))
    assert g["interp_step_change"] == pytest.approx(0.25)
    assert g["interp_rho"] == pytest.approx(1.0)
    still = gradualness(interpolation_features([a, a, a]))
    assert still["interp_step_change"] == 0.0 and np.isnan(still["interp_rho"])


def test_interpolation_ends_are_the_decodings_of_the_two_codes(tiny_trackset):
    module = build_module("vae", tiny_trackset, CFG).eval()
    interp = interpolate_melodies(module, tiny_trackset, (0, 2), steps=4, max_len=30)
    assert len(interp.melodies) == 4 and len(interp.features) == 4
    assert interp.ends == ("walk0", "walk2") and interp.style == "bach"
    mu, _ = posteriors(module.net, tiny_trackset.subset([0, 2]))
    np.testing.assert_allclose(interp.melodies.latent[[0, -1]], mu, rtol=1e-5, atol=1e-6)
    ends = greedy_decode(module, np.array([0, 0]), mu, 30)
    np.testing.assert_array_equal(interp.melodies[0], ends[0])
    np.testing.assert_array_equal(interp.melodies[3], ends[1])


def test_diagnostics_table_and_fig4_columns(tiny_trackset):
    models = {k: build_module(k, tiny_trackset, CFG).eval() for k in ("lm", "vrash")}
    val = tiny_trackset.select(split="val")
    table, paths = diagnostics_table(models, val, CFG.diagnostics, style="bach")
    assert list(table["model"]) == ["lm", "vrash"] and list(paths) == ["vrash"]
    lm, vrash = table.iloc[0], table.iloc[1]
    assert np.isnan(lm["mi_bits"]) and np.isnan(lm["recon_free_posterior"])
    assert 0 <= lm["recon_free_prior"] <= 1 and 0 <= lm["recon_tf_prior"] <= 1
    for col in ("kl_bits_per_melody", "mi_bits", "recon_free_posterior", "interp_step_change"):
        assert np.isfinite(vrash[col]), col
    fig4 = pd.DataFrame({"model": ["lm", "vrash", "random"], "ce_total": [1.0, 2.0, 3.0]})
    out = with_diagnostics(fig4, table)
    assert list(out.columns) == [
        "model",
        "ce_total",
        "active_units",
        "mi_bits",
        "recon_acc_posterior",
        "recon_acc_prior",
    ]
    assert out["recon_acc_prior"].iloc[1] == vrash["recon_free_prior"]
    assert out.iloc[2, 2:].isna().all()  # a model without diagnostics


def test_diagnostics_and_cross_entropy_tables_do_not_depend_on_the_number_of_workers(
    tiny_trackset,
):
    """Two models measured at once, in forked processes, give the numbers, interpolations
    and row order that one after another give."""
    models = {k: build_module(k, tiny_trackset, CFG).eval() for k in ("vrash", "lm", "vae")}
    val = tiny_trackset.select(split="val")
    got = {}
    for threads in (1, 2):
        cfg = replace(CFG.diagnostics, threads=threads)
        table, paths = diagnostics_table(models, val, cfg, style="bach")
        ce = cross_entropy_table(models, val, 4, threads=threads)
        got[threads] = (table, paths, ce)
    (t1, p1, ce1), (t2, p2, ce2) = got[1], got[2]
    pd.testing.assert_frame_equal(t1, t2)
    pd.testing.assert_frame_equal(ce1, ce2)
    assert list(t2["model"]) == list(ce2["model"]) == ["vrash", "lm", "vae"]
    assert list(p2) == ["vrash", "vae"]
    for k in p1:
        assert p1[k].melodies.content_hash() == p2[k].melodies.content_hash()


@pytest.mark.parametrize("decoder_cls", [NumpyDecoder, TorchDecoder])
def test_decoders_with_a_history_window_reproduce_the_network(tiny_trackset, decoder_cls):
    """With history_window 3 the decoder's input holds the last three events; both
    decoders of the sampler feed them back as the network sees them, and a melody that
    ends drops out of the window as well."""
    cfg = replace(CFG, model=replace(CFG.model, history_window=3))
    module = build_module("vrash", tiny_trackset, cfg).eval()
    p = export_sampler(module)
    assert p["window"] == 3 and len(p["tables"]) == 9
    assert_decoder_follows_network(module, decoder_cls, with_end(tiny_trackset[3])[:12], drop_at=6)


def test_the_compiled_loop_refuses_a_history_window(tiny_trackset):
    cfg = replace(CFG, model=replace(CFG.model, history_window=2))
    p = export_sampler(build_module("vrash", tiny_trackset, cfg).eval())
    with pytest.raises(NotImplementedError, match="history_window"):
        sample_compiled(
            p,
            0,
            np.zeros((1, p["z_dim"]), np.float32),
            1,
            max_len=5,
            temperature=1.0,
            rng=np.random.default_rng(0),
        )


def test_interpolate_along_the_sphere(tiny_trackset):
    from vrashlib.sampling.generate import interpolate

    module = build_module("vrash", tiny_trackset, CFG).eval()
    z0, z1 = np.eye(CFG.model.z_dim)[0] * 2, np.eye(CFG.model.z_dim)[1] * 2
    ts = interpolate(module, z0, z1, 5, "bach", max_len=20, path="sphere")
    np.testing.assert_allclose(np.linalg.norm(ts.latent, axis=1), 2.0, rtol=1e-6)
    line = interpolate(module, z0, z1, 5, "bach", max_len=20)
    assert np.linalg.norm(line.latent[2]) == pytest.approx(np.sqrt(2))
    with pytest.raises(ValueError, match="path"):
        interpolate(module, z0, z1, 5, "bach", max_len=20, path="spiral")


def test_interpolation_pair_prefers_two_pieces():
    from vrashlib.sampling.reconstruct import interpolation_pair

    ev = np.tile([2, 4, 5], (40, 1))
    ids = ["a#p1", "a#p2", "a#p3", "b#p1", "c#p1"]
    ts = TrackSet.from_tracks([ev] * 5, ("bach", "fiddle"), [0, 0, 0, 0, 1], ids=ids)
    for seed in range(10):
        i, j = interpolation_pair(ts, "bach", seed=seed)
        assert i != j and ts.style[i] == ts.style[j] == 0
        assert ids[i].split("#")[0] != ids[j].split("#")[0]
    with pytest.raises(ValueError, match="two melodies"):
        interpolation_pair(ts, "fiddle")
