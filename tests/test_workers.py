import multiprocessing

import numpy as np
import pytest
import torch

from vrashlib.config import load_config
from vrashlib.models.training import build_module
from vrashlib.sampling.generate import sample
from vrashlib.sampling.sampler import TORCH_MIN_BATCH, export_sampler
from vrashlib.sampling.workers import sample_batches

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
