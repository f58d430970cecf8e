"""The hierarchical decoder (``model.conductor_segment``, MusicVAE's conductor): the
network's phrases, the sampler's decoders against it, and what it leaves alone."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from tests.conftest import assert_decoder_follows_network
from vrashlib.config import load_config
from vrashlib.data.encoding import validate_events, with_end
from vrashlib.models.network import build_net
from vrashlib.models.training import build_module
from vrashlib.sampling.generate import sample
from vrashlib.sampling.kernels import sample_compiled
from vrashlib.sampling.sampler import (
    TORCH_MIN_BATCH,
    NumpyDecoder,
    TorchDecoder,
    export_sampler,
)

torch.set_num_threads(1)
CFG = load_config("smoke")
S = 3  # events per phrase in these tests: many phrases in a short melody


def conductor_cfg(layers: int = 1):
    return replace(CFG, model=replace(CFG.model, conductor_segment=S, layers=layers))


def melody_batch(T: int = 11, B: int = 4, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    events = torch.stack(
        [torch.randint(0, 12, (T, B), generator=g), torch.randint(0, 8, (T, B), generator=g),
         torch.randint(0, 11, (T, B), generator=g)], dim=-1,
    )  # fmt: skip
    return events, torch.tensor([T, T - 2, 5, 7])[:B], torch.tensor([0, 1, 0, 1])[:B]


def test_only_a_vrash_with_a_segment_has_a_conductor():
    m = conductor_cfg().model
    assert build_net("vrash", 2, m).segment == S and hasattr(build_net("vrash", 2, m), "conductor")
    assert build_net("lm", 2, m).segment == 0  # no code to conduct
    assert build_net("vae", 2, m).segment == 0  # the paper's VAE: z and the style only
    assert build_net("vrash", 2, CFG.model).segment == 0
    with pytest.raises(ValueError, match="conductor_segment"):
        build_net("vrash", 2, replace(CFG.model, conductor_segment=-1))
    # the decoder hears the phrase code (encoder_hidden wide) where it would hear z
    flat, tree = build_net("vrash", 2, CFG.model), build_net("vrash", 2, m)
    assert tree.decoder.input_size - flat.decoder.input_size == m.encoder_hidden - m.z_dim


def test_the_settings_hash_the_conductor_only_when_it_is_on():
    m = CFG.model
    assert "conductor_segment" not in m.weight_settings("vrash")  # shipped weights stay valid
    assert m.weight_settings("vrash") != conductor_cfg().model.weight_settings("vrash")
    assert conductor_cfg().model.weight_settings("lm") == m.weight_settings("lm")
    assert conductor_cfg().model.weight_settings("vae") == m.weight_settings("vae")


@pytest.mark.parametrize("layers", [1, 2])
def test_each_phrase_is_decoded_from_its_own_start_state(layers):
    """The batched pass over all phrases equals decoding one phrase at a time, each from
    tanh(W code_k + b), with the code of its phrase in the input (the last one cut short)."""
    torch.manual_seed(0)
    net = build_net("vrash", 2, conductor_cfg(layers).model).eval()
    events, lengths, style = melody_batch()
    T, B = events.shape[:2]
    z = torch.randn(B, net.z_dim)
    with torch.no_grad():
        got = net(events, lengths, style, z=z)
        codes = net.phrase_codes(z, T)
        assert codes.shape == (-(-T // S), B, CFG.model.encoder_hidden)
        x = net.decoder_input(T, style, z, net.history_input(events), codes)
        starts = net.conductor.states(codes)  # (K, layers, B, H)
        hidden = [net.decoder(x[k * S : (k + 1) * S], starts[k])[0] for k in range(len(codes))]
        want = net.logits(torch.cat(hidden), events)
    for g, w in zip((got["pc"], got["oct"], got["dur"]), want, strict=True):
        torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-5)


def test_a_note_reaches_the_next_phrase_only_through_the_history():
    """With the state reset at each phrase, changing event t changes the logits of step
    t + 1 (its history input) and of no later step of another phrase."""
    torch.manual_seed(0)
    net = build_net("vrash", 2, conductor_cfg().model).eval()
    events, lengths, style = melody_batch()
    z = torch.randn(events.shape[1], net.z_dim)
    other = events.clone()
    other[1, :, 0] = (other[1, :, 0] + 1) % 12  # step 1 of phrase 0 (steps 0-2)
    with torch.no_grad():
        a, b = (net(e, lengths, style, z=z)["pc"] for e in (events, other))
    changed = (a - b).abs().amax(dim=(1, 2)).gt(0).nonzero().flatten().tolist()
    assert changed == [2]  # steps 2 (same phrase, the next step); nothing from step 3 on
    # a plain VRASH carries the change in its state to the end of the melody
    flat = build_net("vrash", 2, CFG.model).eval()
    with torch.no_grad():
        a, b = (flat(e, lengths, style, z=z)["pc"] for e in (events, other))
    assert (a - b).abs().amax(dim=(1, 2)).gt(0).nonzero().flatten().tolist() == list(range(2, 11))


def test_z_reaches_every_phrase_from_the_first_step():
    """The conductor starts from a state made from z (as MusicVAE's): an untrained
    network's first phrase already depends on z as much as its later ones."""
    torch.manual_seed(0)
    net = build_net("vrash", 2, conductor_cfg().model).eval()
    events, lengths, style = melody_batch()
    z = torch.randn(events.shape[1], net.z_dim)
    with torch.no_grad():
        codes = net.phrase_codes(z, events.shape[0])
        other = net.phrase_codes(-z, events.shape[0])
    moved = (codes - other).abs().mean(dim=(1, 2))  # per phrase
    assert moved[0] > 0.3 and moved.min() > 0.5 * moved.max()  # from a zero start: 0.05 at first


def test_gradients_reach_the_conductor(tiny_trackset):
    module = build_module("vrash", tiny_trackset, conductor_cfg()).train()
    from vrashlib.data.datamodule import collate

    batch = collate([(with_end(tiny_trackset[i]), 0) for i in range(4)])
    loss, _ = module.model_step(batch)
    loss.backward()
    for name in ("conductor.rnn.r", "conductor.start.weight", "conductor.to_state.weight"):
        grad = dict(module.net.named_parameters())[name].grad
        assert grad is not None and grad.abs().sum() > 0, name


@pytest.mark.parametrize("decoder_cls", [NumpyDecoder, TorchDecoder])
def test_the_samplers_decoders_start_each_phrase_as_the_network_does(tiny_trackset, decoder_cls):
    """Step by step through a melody longer than the conductor's first plan (16 phrases),
    one melody dropping out mid-phrase: the logits are the network's teacher-forced ones."""
    module = build_module("vrash", tiny_trackset, conductor_cfg(layers=2)).eval()
    assert export_sampler(module)["segment"] == S
    ev = with_end(np.concatenate([tiny_trackset[3], tiny_trackset[4]]))[: 16 * S + 7]
    assert_decoder_follows_network(module, decoder_cls, ev, drop_at=2 * S + 1)


@pytest.mark.parametrize("batch_size", [2, TORCH_MIN_BATCH])
def test_a_conductor_model_samples_valid_melodies_under_a_seed(tiny_trackset, batch_size):
    module = build_module("vrash", tiny_trackset, conductor_cfg()).eval()
    a = sample(module, 9, "bach", max_len=30, seed=5, batch_size=batch_size)
    b = sample(module, 9, "bach", max_len=30, seed=5, batch_size=batch_size)
    assert a.content_hash() == b.content_hash()
    for m in a:
        validate_events(m)
        assert 1 <= len(m) <= 30
    assert len(set(a.lengths.tolist())) > 1  # melodies ended at several steps (keep())


def test_the_compiled_loop_refuses_a_conductor(tiny_trackset):
    p = export_sampler(build_module("vrash", tiny_trackset, conductor_cfg()).eval())
    with pytest.raises(NotImplementedError, match="conductor_segment"):
        sample_compiled(
            p, 0, np.zeros((1, p["z_dim"]), np.float32), 1,
            max_len=5, temperature=1.0, rng=np.random.default_rng(0),
        )  # fmt: skip
