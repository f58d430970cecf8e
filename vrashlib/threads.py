"""Threads and worker processes: :func:`torch_threads` sets torch's number of threads
for a block and restores it; :func:`fork_map` maps a function over items on several
cores (forked processes on Linux)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` torch intra-op threads, restoring the old number after.

    torch is imported on first use, so importing this module stays cheap.
    """
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(old)


_FORK = sys.platform == "linux"  # fork hands the workers their inputs without copying them
_INHERITED: list = []  # (fn, items) of the running fork_map call, for forked workers


def fork_map(fn: Callable[[Any], Any], items: Sequence[Any], workers: int = 1) -> list[Any]:
    """``[fn(item) for item in items]``, ``workers`` at once, in order.

    On Linux the workers are forked processes: they inherit ``fn`` and ``items`` (no
    copy, no pickling of the inputs; results come back pickled), and are handed one
    item at a time so that a long item does not hold up the rest. Elsewhere, or in a
    daemonic process (which may not have children), threads run them. Each worker
    runs with one torch and one BLAS thread, so ``workers`` is the number of cores
    used. With one worker (or one item) the items run here, with the caller's thread
    settings. ``fn`` must not depend on which worker runs it (seed it from the item),
    so that the results do not depend on ``workers``.
    """
    import multiprocessing
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_limits

    workers = min(int(workers), len(items))
    if workers <= 1:
        return [fn(item) for item in items]
    with torch_threads(1), threadpool_limits(1):  # the caller's settings are restored
        if _FORK and not multiprocessing.current_process().daemon:
            _INHERITED[:] = [fn, items]
            try:
                with multiprocessing.get_context("fork").Pool(workers) as pool:
                    return pool.map(_call_inherited, range(len(items)), chunksize=1)
            finally:
                _INHERITED.clear()
        with ThreadPoolExecutor(workers) as pool:
            return list(pool.map(_one_thread(fn), items))


def _one_thread(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def run(item: Any) -> Any:
        import torch

        torch.set_num_threads(1)  # OpenMP's count is per OS thread
        return fn(item)

    return run


def _call_inherited(i: int) -> Any:
    import torch

    torch.set_num_threads(1)
    fn, items = _INHERITED
    return fn(items[i])
