"""Sampling several batches at once: one batch per core, in worker processes.

At batch 64 a sampler step is six matrix products too small for two threads to
share well, plus ~50 small operators; so a second core is best used on a second
batch. Threads of one process gain only ~20 % (the small operators serialise on
Python's GIL); two processes double the rate. On Linux the workers are forked,
which hands them the exported weights for free; elsewhere, or inside a daemonic
process (which may not have children), the batches run in threads.

Each batch runs on one thread with its own random stream and z, so the
melodies do not depend on how many run at once. :func:`run_jobs` takes the
batches of many requests (:func:`vrashlib.sampling.generate.sample_many`) at once:
the claims ledger's sets of 50 melodies are one batch each, and one request after
another would leave the second core idle.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from vrashlib.sampling.sampler import (
    TORCH_MIN_BATCH,
    TorchDecoder,
    compiled_refusal,
    sample_batch,
)
from vrashlib.threads import fork_map, torch_threads


@dataclass(frozen=True)
class Job:
    """One batch to sample: which exported model (an index into the ``samplers`` of
    :func:`run_jobs`), which style, how many melodies, their z (or None) and random
    stream, and the step loop's settings."""

    sampler: int
    style_idx: int
    size: int
    z: np.ndarray | None
    rng: np.random.Generator
    max_len: int
    temperature: float
    shared_noise: bool = False
    min_len: int = 1


def run_jobs(samplers: list[dict], jobs: list[Job], *, threads: int = 1) -> list[list[np.ndarray]]:
    """Sample every batch of ``jobs`` (of any of the exported models ``samplers``),
    ``threads`` at once (see the module docstring); one list of melodies per job, in
    order. Jobs are handed out one at a time, so a long batch does not hold up the
    others. Batches below ``TORCH_MIN_BATCH`` melodies run the compiled loop of
    :mod:`vrashlib.sampling.kernels`, larger ones :class:`vrashlib.sampling.sampler.TorchDecoder`
    (as do all batches of a model with a history window or a conductor)."""
    with torch_threads(1), threadpool_limits(1):  # one batch, one thread (restored after)
        return fork_map(functools.partial(_run_job, samplers), jobs, threads)


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
    """:func:`run_jobs` for several batches, each ``(size, z or None, rng)``, of one
    exported model and style."""
    jobs = [
        Job(0, style_idx, size, z, rng, max_len, temperature, shared_noise, min_len)
        for size, z, rng in batches
    ]
    return run_jobs([p], jobs, threads=threads)


def _run_job(samplers: list[dict], job: Job) -> list[np.ndarray]:
    p = samplers[job.sampler]
    kwargs = dict(
        max_len=job.max_len,
        temperature=job.temperature,
        shared_noise=job.shared_noise,
        min_len=job.min_len,
    )
    if job.size < TORCH_MIN_BATCH and compiled_refusal(p) is None:
        from vrashlib.sampling.kernels import sample_compiled  # numba: imported when needed

        return sample_compiled(p, job.style_idx, job.z, job.size, rng=job.rng, **kwargs)
    with torch.inference_mode():
        return sample_batch(TorchDecoder(p, job.style_idx, job.z, job.size), rng=job.rng, **kwargs)
