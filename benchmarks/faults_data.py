"""Fault injection on the data pipeline: faults injected, survived, data lost.

    .venv/bin/python benchmarks/faults_data.py

Runs every scenario of ``tests/test_faults_data.py`` (real SIGKILLs of a
``prepare`` subprocess at each step of its write, failing renames, each file of a
dataset truncated / emptied / flipped / deleted) and prints one line per fault
and the totals. A fault is survived when the dataset afterwards is intact or a
clean rebuild identical to a fresh one and every damaged file was named; data
lost counts datasets that differ from a fresh build or loaded while damaged.
"""

from __future__ import annotations

import logging
import sys
import tempfile
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.test_faults_data import (  # noqa: E402
    all_scenarios,
    fresh_hashes,
    make_inputs,
    run_scenario,
)


def main() -> None:
    logging.basicConfig(level=logging.ERROR)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        root = make_inputs(Path(tmp))
        hashes = fresh_hashes(root)
        outcomes = []
        for kind, args in all_scenarios():
            with pytest.MonkeyPatch.context() as mp:
                o = run_scenario(kind, args, root, hashes, mp)
            outcomes.append(o)
            mark = "survived" if o.survived else "FAILED  "
            print(f"{mark} lost={o.lost}  {o.fault:<40} {o.detail}", flush=True)
    survived = sum(o.survived for o in outcomes)
    lost = sum(o.lost for o in outcomes)
    print(
        f"\nfaults injected: {len(outcomes)}  survived: {survived}  data lost: {lost}  "
        f"({time.perf_counter() - start:.0f} s)"
    )


if __name__ == "__main__":
    main()
