import multiprocessing

import numpy as np
import pytest
import torch

from vrashlib.config import load_config
from vrashlib.models.training import build_module
from vrashlib.sampling.generate import Request, sample, sample_many
from vrashlib.sampling.sampler import TORCH_MIN_BATCH, export_sampler
from vrashlib.sampling.workers import sample_batches
from vrashlib.threads import fork_map

CFG = load_config("smoke")


@pytest.fixture(params=["lm", "vrash"])
def module(request, tiny_trackset):
    return build_module(request.param, tiny_trackset, CFG).eval()


def test_melodies_do_not_depend_on_the_number_of_threads(module):
    """Batches are independent (own uniforms), so running two at once, in worker
    processes, changes nothing; the last batch (2 melodies) takes the compiled loop."""
    kw = dict(max_len=25, seed=5, batch_size=TORCH_MIN_BATCH)
    before = torch.get_num_threads()
    one = sample(module, 3 * TORCH_MIN_BATCH + 2, "bach", threads=1, **kw)
    two = sample(module, 3 * TORCH_MIN_BATCH + 2, "bach", threads=2, **kw)
    assert one.content_hash() == two.content_hash()
    assert torch.get_num_threads() == before  # the caller's setting is restored


def _batches(p: dict, n: int) -> list:
    z_dim = p["z_dim"]
    return [
        (TORCH_MIN_BATCH, np.zeros((TORCH_MIN_BATCH, z_dim), np.float32) if z_dim else None,
         np.random.default_rng(i))
        for i in range(n)
    ]  # fmt: skip


def _sample_in_child(p: dict) -> list:
    return sample_batches(p, 0, _batches(p, 3), max_len=12, temperature=1.0, threads=2)


def test_a_daemonic_process_samples_in_threads(module):
    """Pool workers are daemonic and may not fork workers of their own: there,
    the batches run in threads, with the same melodies."""
    p = export_sampler(module)
    want = sample_batches(p, 0, _batches(p, 3), max_len=12, temperature=1.0, threads=1)
    with multiprocessing.get_context("fork").Pool(1) as pool:
        got = pool.apply(_sample_in_child, (p,))
    assert len(got) == 3
    for g, w in zip(got, want, strict=True):
        for a, b in zip(g, w, strict=True):
            np.testing.assert_array_equal(a, b)


def test_sample_many_gives_each_request_what_sample_gives_it_alone(tiny_trackset):
    """Requests of two models, styles and seeds, sampled as one pool of batches on two
    workers: each equals its own sample() call (ids, melodies, codes, settings)."""
    lm = build_module("lm", tiny_trackset, CFG).eval()
    vrash = build_module("vrash", tiny_trackset, CFG).eval()
    requests = [
        Request(vrash, 11, "bach", max_len=20, seed=3, batch_size=TORCH_MIN_BATCH),
        Request(lm, 5, "fiddle", max_len=30, temperature=0.7, seed=4),
        Request(vrash, 9, "fiddle", max_len=25, seed=3, min_len=10, batch_size=4),
    ]
    got = sample_many(requests, threads=2)
    for r, ts in zip(requests, got, strict=True):
        alone = sample(
            r.model, r.n, r.style, max_len=r.max_len, temperature=r.temperature, seed=r.seed,
            batch_size=r.batch_size, min_len=r.min_len,
        )  # fmt: skip
        assert ts.content_hash() == alone.content_hash()
        assert list(ts.ids) == list(alone.ids) and ts.meta == alone.meta
        if alone.latent is None:
            assert ts.latent is None
        else:
            np.testing.assert_array_equal(ts.latent, alone.latent)
    assert got[0].content_hash() != got[2].content_hash()


def test_fork_map_keeps_order_and_restores_the_thread_count():
    before = torch.get_num_threads()
    assert fork_map(_square, list(range(7)), 2) == [i * i for i in range(7)]
    assert fork_map(_square, [], 2) == []
    with multiprocessing.get_context("fork").Pool(1) as pool:  # daemonic: threads instead
        assert pool.apply(fork_map, (_square, [1, 2, 3], 2)) == [1, 4, 9]
    assert torch.get_num_threads() == before


def _square(x: int) -> int:
    return x * x
