"""Sampling several batches at once: one batch per core, in worker processes.

At batch 64 a sampler step is six matrix products too small for two threads to
share well, plus ~50 small operators; so a second core is best used on a second
batch. Threads of one process gain only ~20 % (the small operators serialise on
Python's GIL); two processes double the rate. On Linux the workers are forked,
which hands them the exported weights for free; elsewhere, or inside a daemonic
process (which may not have children), the batches run in threads.

Each batch runs on one thread with its own random stream and z, so the
melodies do not depend on how many run at once.
"""

from __future__ import annotations

import functools
import multiprocessing
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from vrashlib.sampling.sampler import (
    TORCH_MIN_BATCH,
    TorchDecoder,
    compiled_refusal,
    sample_batch,
)
from vrashlib.threads import torch_threads


def sample_batches(
    p: dict,
    style_idx: int,
    batches: list[tuple[int, np.ndarray | None, np.random.Generator]],
    *,
    max_len: int,
    temperature: float,
    shared_noise: bool = False,
    threads: int = 1,
    min_len: int = 1,
) -> list[list[np.ndarray]]:
    """Sample several batches, each ``(size, z or None, rng)``, ``threads`` at once
    (see the module docstring); one list of melodies per batch, in order.
    Batches below ``TORCH_MIN_BATCH`` melodies run the compiled loop of
    :mod:`vrashlib.sampling.kernels`, larger ones :class:`vrashlib.sampling.sampler.TorchDecoder`
    (as do all batches of a model with a history window or a conductor)."""
    settings = dict(
        p=p,
        style_idx=style_idx,
        max_len=max_len,
        temperature=temperature,
        shared_noise=shared_noise,
        min_len=min_len,
    )
    workers = min(threads, len(batches))
    with torch_threads(1), threadpool_limits(1):  # the caller's thread count is restored
        if workers > 1 and _FORK and not multiprocessing.current_process().daemon:
            _INHERITED.update(settings)
            try:
                with multiprocessing.get_context("fork").Pool(workers) as pool:
                    return pool.map(_run_inherited, batches, chunksize=1)
            finally:
                _INHERITED.clear()
        run = functools.partial(_run_batch, **settings)
        if workers > 1:
            with ThreadPoolExecutor(workers) as pool:
                return list(pool.map(run, batches))
        return [run(job) for job in batches]


_FORK = sys.platform == "linux"  # fork is the cheap way to hand the weights to workers
_INHERITED: dict = {}  # the settings of the running sample_batches call, for forked workers


def _run_batch(job: tuple, *, p: dict, style_idx: int, **kwargs) -> list[np.ndarray]:
    torch.set_num_threads(1)  # per OS thread (OpenMP's count is thread-local) and per process
    size, z, rng = job
    if size < TORCH_MIN_BATCH and compiled_refusal(p) is None:
        from vrashlib.sampling.kernels import sample_compiled  # numba: imported when needed

        return sample_compiled(p, style_idx, z, size, rng=rng, **kwargs)
    with torch.inference_mode():
        return sample_batch(TorchDecoder(p, style_idx, z, size), rng=rng, **kwargs)


def _run_inherited(job: tuple) -> list[np.ndarray]:
    return _run_batch(job, **_INHERITED)
