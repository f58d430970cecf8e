from dataclasses import replace

import numpy as np
import pytest
import torch

from vrashlib.config import load_config
from vrashlib.data.encoding import END, validate_events, with_end
from vrashlib.models.module import save_model
from vrashlib.models.training import build_module
from vrashlib.sampling.audio import read_midi_notes
from vrashlib.sampling.generate import encode, interpolate, sample
from vrashlib.sampling.kernels import sample_compiled
from vrashlib.sampling.sampler import (
    DUR_START,
    OCT_START,
    TORCH_MIN_BATCH,
    NumpyDecoder,
    TorchDecoder,
    export_sampler,
    sample_batch,
)

torch.set_num_threads(1)
CFG = load_config("smoke")


@pytest.fixture(params=["lm", "vae", "vrash"])
def module(request, tiny_trackset):
    return build_module(request.param, tiny_trackset, CFG).eval()


@pytest.mark.parametrize("batch_size", [4, TORCH_MIN_BATCH])  # numpy and torch decoders
def test_sample_returns_valid_tracks(module, batch_size):
    ts = sample(module, 10, "fiddle", max_len=30, seed=1, batch_size=batch_size)
    assert len(ts) == 10 and ts.styles == ("bach", "fiddle")
    assert set(ts.style_names()) == {"fiddle"}
    assert ts.ids[7] == f"{module.kind}/fiddle/0007"
    for ev in ts:
        validate_events(ev)  # no end marker, valid octave/duration for every pitch class
        assert 1 <= len(ev) <= 30
    if module.kind == "lm":
        assert ts.latent is None
    else:
        assert ts.latent.shape == (10, CFG.model.z_dim)
    assert np.all(ts.unit_seconds == np.float32(module.unit_seconds["fiddle"]))


def test_sample_is_deterministic_under_a_seed(module):
    a = sample(module, 6, "bach", max_len=25, seed=3)
    b = sample(module, 6, "bach", max_len=25, seed=3)
    c = sample(module, 6, "bach", max_len=25, seed=4)
    assert a.content_hash() == b.content_hash() != c.content_hash()


@pytest.mark.parametrize("decoder_cls", [NumpyDecoder, TorchDecoder])
def test_sampler_decoders_reproduce_the_torch_network(module, tiny_trackset, decoder_cls):
    """Feed a real melody step by step through each decoder of the sampler: its
    logits equal the network's teacher-forced logits (three rows, one melody)."""
    p = export_sampler(module)
    ev = with_end(tiny_trackset[3])
    z = np.random.default_rng(0).standard_normal((3, CFG.model.z_dim)).astype(np.float32)
    z[1] = z[0]  # rows 0 and 1 identical, row 2 another z
    events = torch.from_numpy(ev.astype(np.int64))[:, None].expand(-1, 3, -1)
    with torch.inference_mode():
        net_out = module.net(
            events, torch.full((3,), len(ev)), torch.tensor([1, 1, 1]), z=torch.from_numpy(z)
        )
        dec = decoder_cls(p, 1, z if p["latent"] else None, 3)
        prev = dec.start()
        as_index = np.asarray if decoder_cls is NumpyDecoder else torch.as_tensor
        for t in range(len(ev)):
            logits = np.array(dec.numpy(dec.advance(*prev)))  # a copy: the decoder reuses buffers
            if p["event_head"]:
                pc = as_index(np.full(3, ev[t, 0], np.int64))
                octv = as_index(np.full(3, ev[t, 1], np.int64))
                logits[:, OCT_START:DUR_START] += dec.numpy(dec.octave(pc))
                logits[:, DUR_START:] += dec.numpy(dec.duration(octv))
            want = torch.cat([net_out[h][t] for h in ("pc", "oct", "dur")], dim=-1).numpy()
            np.testing.assert_allclose(logits, want, rtol=1e-4, atol=1e-4)
            prev = tuple(as_index(np.full(3, ev[t, i], np.int64)) for i in range(3))


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("variant", ["smoke", "no event head, two layers"])
def test_compiled_loop_samples_what_the_numpy_decoder_samples(
    module, tiny_trackset, batch, variant
):
    """The numba loop (batches below TORCH_MIN_BATCH) is the numpy decoder's
    algorithm with the same random stream: the same melodies, temperature and
    shared noise included."""
    if variant != "smoke":
        cfg = replace(CFG, model=replace(CFG.model, event_head=0, layers=2))
        module = build_module(module.kind, tiny_trackset, cfg).eval()
    p = export_sampler(module)
    rng = np.random.default_rng(2)
    z = rng.standard_normal((batch, p["z_dim"])).astype(np.float32) if p["latent"] else None
    for temperature, shared in ((1.0, False), (0.6, True)):
        kw = dict(max_len=40, temperature=temperature, shared_noise=shared)
        got = sample_compiled(p, 1, z, batch, rng=np.random.default_rng(11), **kw)
        want = sample_batch(NumpyDecoder(p, 1, z, batch), rng=np.random.default_rng(11), **kw)
        assert [len(m) for m in got] == [len(m) for m in want]
        for g, w in zip(got, want, strict=True):
            np.testing.assert_array_equal(g, w)
            validate_events(g)


def test_melodies_stop_at_the_end_marker_or_max_len(tiny_trackset):
    module = build_module("lm", tiny_trackset, CFG).eval()
    with torch.no_grad():
        module.net.head.bias[END] = 50.0  # END almost surely from step 2 on
    ts = sample(module, 5, "bach", max_len=40)
    assert np.all(ts.lengths == 1)  # END is not allowed as the first event
    with torch.no_grad():
        module.net.head.bias[END] = -50.0
    ts = sample(module, 5, "bach", max_len=40)
    assert np.all(ts.lengths == 40)


def test_temperature_sharpens(tiny_trackset):
    module = build_module("lm", tiny_trackset, CFG).eval()
    cold = sample(module, 20, "bach", max_len=30, temperature=0.05, seed=0)
    hot = sample(module, 20, "bach", max_len=30, temperature=3.0, seed=0)
    assert len(np.unique(cold.events[:, 2])) < len(np.unique(hot.events[:, 2]))


def test_z_and_interpolation(tiny_trackset):
    module = build_module("vrash", tiny_trackset, CFG).eval()
    z0, z1 = np.zeros(CFG.model.z_dim), np.ones(CFG.model.z_dim)
    ts = interpolate(module, z0, z1, 5, "bach", max_len=20)
    np.testing.assert_allclose(ts.latent[0], z0)
    np.testing.assert_allclose(ts.latent[-1], z1)
    np.testing.assert_allclose(ts.latent[2], 0.5)
    given = sample(module, 3, "bach", max_len=20, z=torch.ones(CFG.model.z_dim))
    assert np.all(given.latent == 1)
    with pytest.raises(ValueError, match="shape"):
        sample(module, 3, "bach", max_len=20, z=np.ones((2, CFG.model.z_dim)))
    mu = encode(module, tiny_trackset.subset([0, 1, 2]))
    assert mu.shape == (3, CFG.model.z_dim) and np.isfinite(mu).all()


def test_bad_requests_raise(tiny_trackset):
    lm = build_module("lm", tiny_trackset, CFG).eval()
    with pytest.raises(ValueError, match="no latent"):
        sample(lm, 2, "bach", max_len=10, z=np.zeros(4))
    with pytest.raises(KeyError, match="jazz"):
        sample(lm, 2, "jazz", max_len=10)
    with pytest.raises(ValueError, match="no latent space"):
        interpolate(lm, np.zeros(2), np.ones(2), 3, "bach", max_len=5)


def test_generate_command_writes_midi_files(tiny_trackset, tmp_path, capsys):
    from vrashlib.cli import main
    from vrashlib.paths import RunLayout

    module = build_module("vrash", tiny_trackset, CFG).eval()
    ckpt = save_model(module, RunLayout(tmp_path / "run").checkpoint("vrash"))
    assert ckpt.exists()
    args = ["generate", "--model", "vrash", "--style", "bach", "-n", "3",
            "--out", str(tmp_path / "midi"), "--profile", "smoke", "--max-len", "20",
            "--run", str(tmp_path / "run")]  # fmt: skip
    assert main(args) == 0
    files = sorted((tmp_path / "midi").glob("*.mid"))
    assert [f.name for f in files] == [f"vrash_bach_000{i}.mid" for i in range(3)]
    ts = sample(module, 3, "bach", max_len=20, seed=0)
    for f, ev in zip(files, ts, strict=False):
        n_notes = int((ev[:, 0] < 12).sum())
        assert len(read_midi_notes(f)) == n_notes
    assert main([*args, "--model", str(tmp_path / "missing.ckpt")]) == 2
    assert "missing.ckpt" in capsys.readouterr().err
    assert main([*args, "--style", "jazz"]) == 2  # a style the model does not know
    assert "['bach', 'fiddle']" in capsys.readouterr().err
    assert main([*args, "--temperature", "0"]) == 2  # the sampler's own check
    assert "temperature" in capsys.readouterr().err
