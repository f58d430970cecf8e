"""The same numbers on every x86-64 CPU with AVX2: the CPU kernels every run pins.

numpy, PyTorch, MKL and OpenBLAS choose their kernels by the CPU's instruction set
when they load. On a CPU with AVX-512 they run other code than on one with AVX2
only, and that code sums in another order or approximates ``exp``/``log``
differently: the last bit of a result changes. Training then turns a last-bit
difference into other weights, and every later stage inherits them, so a run on
another CPU model rebuilt other tables. Emulating other CPUs on one machine
(``benchmarks/bench_reproducibility.py``, the README's "Reproducibility") showed
which kernels matter, and each has a switch that must be set before its library
loads:

- ``ATEN_CPU_CAPABILITY``: PyTorch's own vectorised kernels (activations,
  optimiser, reductions): training.
- ``MKL_CBWR``: MKL's matrix products, in its conditional numerical
  reproducibility mode (the AVX2 code path on every CPU that has it; ``STRICT``:
  also independent of alignment and thread count): training.
- ``OPENBLAS_CORETYPE``: the BLAS of numpy/scipy/scikit-learn: the filter's
  logistic regression.
- ``NPY_DISABLE_CPU_FEATURES``: numpy's AVX-512 ``exp``/``log``: the filter's scores.

The other stages gave the same bits on every emulated CPU already (data
preparation, sampling with torch and with the numba-compiled loop, features,
mutual information): their float work is elementwise or summed in a fixed order.

:func:`pin_cpu_kernels` sets them (``import vrashlib`` calls it, before numpy or
torch load, and child processes such as the notebooks' kernels inherit them) on
CPUs of the x86-64-v3 level (AVX2, FMA, ...: Intel since 2013, AMD since 2015), where
every one of them can run. Elsewhere (ARM, older CPUs) nothing is pinned and
results may differ between CPU models within the tolerance the README gives. The
same bits hold across Intel CPUs; on an AMD EPYC the pinned kernels run, but training
differed from the Intel run in the 8th digit from the first steps, and so became
another model (README, "The same numbers on another machine").
``VRASH_NATIVE_KERNELS=1`` opts out (each CPU's fastest kernels, at the price of
CPU-dependent numbers); a variable the user has set is never overwritten.
"""

from __future__ import annotations

import json
import logging
import math
import os
import platform
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def _numpy_avx512_targets() -> str:
    """numpy's names of its AVX-512 code paths (renamed in numpy 2.4), read from the
    installed package's metadata, without importing numpy."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        major, minor = (int(v) for v in version("numpy").split(".")[:2])
    except (PackageNotFoundError, ValueError):
        major, minor = 2, 4
    if (major, minor) >= (2, 4):
        return "X86_V4 AVX512_ICL AVX512_SPR"
    return "AVX512F AVX512CD AVX512_KNL AVX512_KNM AVX512_SKX AVX512_CLX AVX512_CNL AVX512_ICL"


# The kernels every run uses on an x86-64-v3 CPU: see the module docstring.
PINNED: dict[str, str] = {
    "ATEN_CPU_CAPABILITY": "avx2",
    "MKL_CBWR": "AVX2,STRICT",
    "OPENBLAS_CORETYPE": "Haswell",
    "NPY_DISABLE_CPU_FEATURES": _numpy_avx512_targets(),
}
OPT_OUT = "VRASH_NATIVE_KERNELS"  # "1": no pinning
# The x86-64-v3 level (the /proc/cpuinfo names; "abm" is LZCNT): what every pinned kernel needs.
X86_64_V3 = frozenset({"avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe"})
# The libraries that read the settings when they load.
_READERS = {
    "ATEN_CPU_CAPABILITY": "torch",
    "MKL_CBWR": "torch",
    "OPENBLAS_CORETYPE": "numpy",
    "NPY_DISABLE_CPU_FEATURES": "numpy",
}


@dataclass(frozen=True)
class KernelStatus:
    """What :func:`pin_cpu_kernels` found: ``pinned`` if every setting of :data:`PINNED`
    is in effect, else ``reason`` says why not."""

    pinned: bool
    reason: str
    settings: dict[str, str] = field(default_factory=dict)


def cpu_flags() -> frozenset[str] | None:
    """The CPU's feature flags as Linux names them, or ``None`` where they cannot be read
    (other systems: nothing is pinned there)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return None


def cpu_vendor() -> str | None:
    """The CPU's vendor as Linux names it (``GenuineIntel``, ``AuthenticAMD``), or None.

    Pinned kernels give the same bits across CPUs of one vendor; between vendors
    training differs in the last bits (README, "The same numbers on another machine")."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("vendor_id"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _cannot_pin(env) -> str:
    """Why the kernels of :data:`PINNED` cannot or must not be pinned here ("" if they can)."""
    if env.get(OPT_OUT, "") not in ("", "0"):
        return f"{OPT_OUT}={env[OPT_OUT]}: this CPU's own kernels"
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return f"{platform.machine()} CPU: the pinned kernels are x86-64 ones"
    flags = cpu_flags()
    if flags is None:
        return "the CPU's features cannot be read (/proc/cpuinfo)"
    if not X86_64_V3 <= flags:
        return f"CPU below the x86-64-v3 level (no {', '.join(sorted(X86_64_V3 - flags))})"
    return ""


def kernel_status(environ=None) -> KernelStatus:
    """Whether the kernels of :data:`PINNED` are in effect in ``environ`` (default
    ``os.environ``) on this CPU, and why not if they are not."""
    env = os.environ if environ is None else environ
    settings = {k: env.get(k, "") for k in PINNED}
    reason = _cannot_pin(env)
    if reason:
        return KernelStatus(False, reason, settings)
    other = {k: v for k, v in settings.items() if v != PINNED[k]}
    if other:
        return KernelStatus(False, f"not set to the pinned values: {other}", settings)
    return KernelStatus(True, "the AVX2 kernels of every library", settings)


def pin_cpu_kernels() -> KernelStatus:
    """Set :data:`PINNED` in ``os.environ`` where this CPU can run them (never over a
    value the user set, nor with ``VRASH_NATIVE_KERNELS=1``); return the status.

    Must run before numpy and torch load to take effect in this process (a library
    already loaded keeps its kernels, which is logged); child processes started later
    inherit the settings either way.
    """
    if not _cannot_pin(os.environ):
        for key, value in PINNED.items():
            os.environ.setdefault(key, value)
        late = sorted({_READERS[k] for k in PINNED if _READERS[k] in sys.modules})
        if late:
            log.debug("%s loaded before vrashlib: not pinned in this process", late)
    return kernel_status()


# ------------------------------------------------------------ reference numbers
# Columns (and rows, by their name) that measure time, not results: left out of the
# reference numbers, since they change from run to run.
TIMING = re.compile(r"wall|realtime|^seconds$|(?:train|val|measure)_(?:seconds|minutes)")


def reference_numbers(figures: str | Path) -> dict[str, dict[str, list[Any]]]:
    """Every CSV table of a figures folder as ``{table: {column: values}}``, without
    the timing columns and rows (:data:`TIMING`); NaN as ``None``. JSON-ready."""
    import pandas as pd

    tables: dict[str, dict[str, list[Any]]] = {}
    for path in sorted(Path(figures).glob("*.csv")):
        df = pd.read_csv(path, keep_default_na=False, na_values=[""])
        df = df.loc[:, [c for c in df.columns if not TIMING.search(str(c))]]
        text = df.select_dtypes(exclude="number")
        timing_rows = text.apply(lambda col: col.astype(str).str.contains(TIMING)).any(axis=1)
        df = df.loc[~timing_rows]
        tables[path.stem] = {
            str(c): [None if isinstance(v, float) and math.isnan(v) else v for v in df[c].tolist()]
            for c in df.columns
        }
    return tables


def run_digests(run_dir: str | Path) -> dict[str, str]:
    """A SHA-256 prefix of what each stage left in a run folder: the trained weights, the
    generated melodies (with their latent codes) and the fitted filter. Bitwise, so
    that a change in the last bit shows, which the tables' rounding hides."""
    import hashlib

    import numpy as np

    from vrashlib.data.tracks import TrackSet
    from vrashlib.filter.classifiers import Filter
    from vrashlib.models import KINDS
    from vrashlib.models.module import load_model
    from vrashlib.paths import RunLayout

    def digest(arrays) -> str:
        h = hashlib.sha256()
        for a in arrays:
            a = np.ascontiguousarray(a)
            h.update(f"{a.dtype}{a.shape}".encode() + a.tobytes())
        return h.hexdigest()[:16]

    run, out = RunLayout(Path(run_dir)), {}
    for kind in KINDS:
        if run.checkpoint(kind).exists():
            weights = load_model(run.checkpoint(kind)).state_dict().values()
            out[f"weights {kind}"] = digest(w.detach().cpu().numpy() for w in weights)
        if run.generated(kind).exists():
            ts = TrackSet.load(run.generated(kind))
            latent = [] if ts.latent is None else [ts.latent]
            out[f"generated {kind}"] = digest([ts.events, ts.offsets, *latent])
    if run.filter.exists():
        text = json.dumps(Filter.load(run.filter).to_json(), sort_keys=True)
        out["filter"] = hashlib.sha256(text.encode()).hexdigest()[:16]
    return out


def compare_reference(
    reference: dict[str, dict[str, list[Any]]],
    actual: dict[str, dict[str, list[Any]]],
    tolerance: dict[str, float] | None = None,
) -> list[str]:
    """Where ``actual`` differs from ``reference`` (one line per table column; empty:
    the same). A number may differ by ``tolerance[table]`` (absolute; default 0: the
    same digits as written); text and missing values must be equal."""
    tolerance = tolerance or {}
    problems = []
    for table, columns in reference.items():
        if table not in actual:
            problems.append(f"{table}: missing")
            continue
        if list(actual[table]) != list(columns):
            problems.append(f"{table}: columns {list(actual[table])} != {list(columns)}")
            continue
        atol = tolerance.get(table, 0.0)
        for column, want in columns.items():
            got = actual[table][column]
            bad = len(got) != len(want) or any(
                not _same(a, b, atol) for a, b in zip(got, want, strict=False)
            )
            if bad:
                problems.append(f"{table}.{column}: {got} != {want} (tolerance {atol:g})")
    problems += [f"{table}: not in the reference" for table in actual if table not in reference]
    return problems


def _same(a: Any, b: Any, atol: float) -> bool:
    numbers = (int, float)
    if (
        isinstance(a, bool)
        or isinstance(b, bool)
        or not (isinstance(a, numbers) and isinstance(b, numbers))
    ):
        return a == b
    return abs(a - b) <= atol + 1e-12  # 1e-12: the float error of a difference of decimals
