"""Worker processes with a time limit per job: one hanging input cannot stall the rest.

:func:`map_units` runs ``fn(item, params)`` for every item in ``workers``
processes, one job at a time per worker. A job past its time limit has its
worker killed and replaced, and its result is a ``timeout`` error text; a worker
that dies (a crash in a parser's C code) is replaced likewise. ``multiprocessing.Pool``
cannot do this: it cannot kill the worker of one task.
"""

from __future__ import annotations

import logging
import multiprocessing
import time
from collections import deque
from dataclasses import dataclass
from multiprocessing.connection import wait

log = logging.getLogger(__name__)


def _worker(conn, fn, params: dict) -> None:
    """A worker process: say ready, then answer ``(index, unit)`` jobs until ``None``."""
    conn.send("ready")
    try:
        while (job := conn.recv()) is not None:
            index, unit = job
            conn.send((index, fn(unit, params)))
    except (EOFError, BrokenPipeError, KeyboardInterrupt):
        pass  # the parent is gone (killed, interrupted): nothing left to answer


def _label(unit) -> str:
    return str(getattr(unit, "label", unit))


@dataclass
class _Slot:
    """One worker process and the job it holds (``index`` None when idle)."""

    proc: multiprocessing.process.BaseProcess
    conn: object
    ready: bool = False
    index: int | None = None
    started: float = 0.0


def map_units(
    fn, units: list, params: dict, *, workers: int, timeout: float, progress: bool = False
) -> list:
    """``fn(unit, params)`` for every unit, in order, in ``workers`` processes.

    ``fn`` returns ``(error text or None, outcomes)`` and must be importable by name
    (workers start with ``spawn``, safe beside threads). Each unit gets ``timeout``
    seconds from the moment a ready worker takes it (a worker's start-up does not
    count); past that, or if the worker dies, its worker is replaced and its result
    is ``(reason, [])``.
    """
    from tqdm.auto import tqdm

    results: list = [None] * len(units)
    todo: deque[int] = deque(range(len(units)))
    if not todo:
        return results
    ctx = multiprocessing.get_context("spawn")  # safe beside threads (torch, Jupyter)

    def start() -> _Slot:
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_worker, args=(child, fn, params), daemon=True)
        proc.start()
        child.close()
        return _Slot(proc, parent)

    def stop(slot: _Slot) -> None:
        if slot.proc.is_alive():
            slot.proc.kill()
        slot.proc.join()
        slot.conn.close()

    slots = [start() for _ in range(min(workers, len(todo)))]
    bar = tqdm(total=len(todo), desc="parsing", unit="tune", disable=not progress)
    try:
        while todo or any(s.index is not None for s in slots):
            for s in slots:
                if s.ready and s.index is None and todo:
                    s.index = todo.popleft()
                    s.started = time.monotonic()
                    s.conn.send((s.index, units[s.index]))
            busy = [s.started + timeout for s in slots if s.index is not None]
            wait_s = max(0.0, min(busy) - time.monotonic()) if busy else timeout
            ready = wait([s.conn for s in slots], timeout=min(wait_s, 5.0))
            for k, s in enumerate(slots):
                if s.conn in ready:
                    try:
                        msg = s.conn.recv()
                    except (EOFError, OSError):
                        s.proc.join(timeout=2)
                        code = s.proc.exitcode
                        if s.index is None:
                            raise RuntimeError(
                                f"a parsing worker died while starting (exit code {code}); "
                                "see its error above (a script that prepares data needs "
                                "`if __name__ == '__main__':`, as worker processes import it)"
                            ) from None
                        results[s.index] = (f"parser crashed (worker exit code {code})", [])
                        log.warning("parser crashed on %s; worker replaced", _label(units[s.index]))
                        bar.update()
                        stop(s)
                        slots[k] = start()
                        continue
                    if msg == "ready":
                        s.ready = True
                    else:
                        results[msg[0]] = msg[1]
                        s.index = None
                        bar.update()
                elif s.index is not None and time.monotonic() - s.started > timeout:
                    results[s.index] = (
                        f"timeout: parsing took longer than {timeout:g} s "
                        "(data.parse_timeout_seconds); the worker was replaced",
                        [],
                    )
                    log.warning("timeout parsing %s; worker replaced", _label(units[s.index]))
                    bar.update()
                    stop(s)
                    slots[k] = start()
    finally:
        bar.close()
        for s in slots:
            try:
                if s.proc.is_alive() and s.index is None:
                    s.conn.send(None)
                    s.proc.join(timeout=5)
            except OSError:
                pass
            stop(s)
    return results
