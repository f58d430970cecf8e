"""Several models trained at once: one process and one torch thread each.

On our 2-core CPU a second torch thread adds little to one RHN training run: the
matrices of a batch are too small to split well between threads. One thread per
model and several models at once use the cores fully: the three models of the paper
profile train in about half the time they take one after another with two threads
(``benchmarks/bench_models.py --parallel`` measures both).

Each process runs :func:`train_model` with the config it was given, ``train.threads``
set to 1; the number of threads is not part of a model's fingerprint. At the paper
profile's widths the pinned kernels (:mod:`vrashlib.reproducibility`: MKL in its
strict reproducible mode) make the weights independent of it
(``tests/test_parallel_training.py``, and ``benchmarks/bench_parallel_training.py``
against the shipped weights). At very small widths (the smoke profile's 16) some
matrix products are not covered: there the last bits depend on the thread count.

:func:`train_models` is what notebook 02 and the ablation call: it first uses what
is already there (an up-to-date model, or matching shipped weights), then trains
the rest, ``cfg.train.parallel`` at a time, and shows one progress bar per model.
A failure names the model; an interrupt stops every process, and the next call
resumes each model from its last checkpoint. A worker whose parent dies (killed
outright, with no chance to stop its workers) ends too.
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import os
import queue as queue_mod
import threading
import time
from collections.abc import Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytorch_lightning as pl

from vrashlib.config import Config
from vrashlib.data.tracks import TrackSet
from vrashlib.models.training import TrainResult, ready_model, train_model

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    """One model to train: its kind, its config and its folder."""

    kind: str
    cfg: Config
    out_dir: Path


def train_models(
    jobs: Mapping[str, Job],
    tracks: TrackSet,
    *,
    parallel: int,
    progress: bool = True,
    force: bool = False,
    weights_root: str | Path | None = None,
    shipped: bool = True,
) -> dict[str, TrainResult]:
    """Train every job (or reuse it: see :func:`ready_model`, ``shipped`` as there);
    ``{name: result}`` in the order of ``jobs``. ``parallel`` > 1 trains up to that many
    at once, each in its own process with one thread; 1 trains them one after another in
    this process."""
    results: dict[str, TrainResult] = {}
    todo: dict[str, Job] = {}
    for name, job in jobs.items():
        ready = ready_model(
            job.kind, tracks, job.cfg, job.out_dir,
            force=force, weights_root=weights_root, shipped=shipped,
        )  # fmt: skip
        if ready is None:
            todo[name] = job
        else:
            results[name] = ready
    if parallel <= 1 or len(todo) <= 1:
        for name, job in todo.items():
            results[name] = train_model(
                job.kind, tracks, job.cfg, job.out_dir,
                progress=progress, force=True, weights_root=weights_root,
            )  # fmt: skip
    elif todo:
        results.update(_train_in_processes(todo, tracks, min(parallel, len(todo)), progress))
    return {name: results[name] for name in jobs}


def one_thread(cfg: Config) -> Config:
    """``cfg`` with ``train.threads`` = 1 (what each training process uses)."""
    return dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, threads=1))


# ------------------------------------------------------------------ the processes
_REPORTS: Any = None  # the child's end of the progress queue (set by _start_child)


def _start_child(reports: Any) -> None:
    global _REPORTS
    _REPORTS = reports
    watch = threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True)
    watch.start()


def _exit_with_parent(parent: int, every: float = 1.0) -> None:
    """End this process once ``parent`` is gone (killed, say, so that it could not stop
    its workers): an orphaned worker would train on unseen, on cores that the next run
    needs, into the run folder that run resumes from. Its last checkpoint stays (the
    writes are atomic), and the next run resumes from it."""
    while os.getppid() == parent:
        time.sleep(every)
    os._exit(1)


class _Report(pl.Callback):
    """Sends (name, step, validation bound or None) to the parent after every step."""

    def __init__(self, name: str) -> None:
        self.name = name

    def on_train_batch_end(self, trainer: pl.Trainer, *args: Any) -> None:
        _REPORTS.put((self.name, int(trainer.global_step), None))

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        bound = getattr(pl_module, "best_bound", None)
        _REPORTS.put((self.name, int(trainer.global_step), bound))


def _child(name: str, job: Job, tracks: TrackSet) -> TrainResult:
    # force: the parent found nothing to reuse (a resume point is still used)
    return train_model(
        job.kind, tracks, one_thread(job.cfg), job.out_dir,
        progress=False, force=True, callbacks=[_Report(name)],
    )  # fmt: skip


def _train_in_processes(
    todo: dict[str, Job], tracks: TrackSet, workers: int, progress: bool
) -> dict[str, TrainResult]:
    from tqdm.auto import tqdm

    ctx = multiprocessing.get_context("spawn")  # no fork of a process that holds torch threads
    reports = ctx.Queue()
    bars = {
        name: tqdm(total=job.cfg.train.max_steps, desc=name, unit="step", disable=not progress)
        for name, job in todo.items()
    }
    logger.info("training %s at once, one thread each: %s", workers, ", ".join(todo))
    results: dict[str, TrainResult] = {}
    pool = ProcessPoolExecutor(
        max_workers=workers, mp_context=ctx, initializer=_start_child, initargs=(reports,)
    )
    try:
        futures: dict[Future, str] = {
            pool.submit(_child, name, job, tracks): name for name, job in todo.items()
        }
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            _drain(reports, bars)
            for fut in done:
                name = futures[fut]
                try:
                    results[name] = fut.result()
                except Exception as err:
                    raise RuntimeError(f"training {name} failed: {err}") from err
                bars[name].update(bars[name].total - bars[name].n)
                logger.info(
                    "%s trained, %d of %d (%.1f min)",
                    name, len(results), len(todo), results[name].seconds / 60.0,
                )  # fmt: skip
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        for proc in list((getattr(pool, "_processes", None) or {}).values()):
            proc.terminate()  # they resume from their last checkpoint next time
            proc.join(timeout=10)
            if proc.is_alive():  # Lightning's SIGTERM handler lets a step finish first
                proc.kill()
                proc.join(timeout=10)
        logger.warning(
            "training stopped; run it again to resume %s from their last checkpoints",
            ", ".join(n for n in todo if n not in results),
        )
        raise
    finally:
        for bar in bars.values():
            bar.close()
    pool.shutdown()
    return results


def _drain(reports: Any, bars: dict[str, Any]) -> None:
    while True:
        try:
            name, step, bound = reports.get_nowait()
        except queue_mod.Empty:
            return
        bar = bars[name]
        bar.update(max(0, min(step, bar.total) - bar.n))
        if bound is not None:
            bar.set_postfix(best_bound=f"{bound:.3f}", refresh=False)
