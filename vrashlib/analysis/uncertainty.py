"""Intervals for the claims ledger: a bootstrap over melodies and a spread over seeds.

Every number a claim rests on is an :class:`Estimate`: a value, a 95 % interval,
and the value of each seed run on its own (for "robust across seeds").

Most claims compare statistics of *sets of melodies* (the share rated
acceptable, the share with a long run of one pitch, bits per event on the
validation tracks) made by models of several training seeds, each sampled
with several generation seeds. Their uncertainty has two sources: which
melodies happened to be drawn (or which validation tracks), and which model
the training seed produced. :class:`Draws` carries both for one statistic:

- ``runs``: the statistic on each seed run alone (training seed x generation
  seed), the values the ledger's robustness check looks at;
- ``full`` and ``reps``: per *training* seed, the statistic on all its melodies
  (every generation seed pooled: given the model, more generation seeds are
  just more melodies) and its bootstrap replicates over those melodies.

Draws of independent sets combine with arithmetic (``a - b``, ``a / b``), replicate
by replicate, so a difference between two models gets the interval of the
difference, not two intervals to compare by eye. :meth:`Draws.estimate` makes the
interval by a two-level bootstrap (Davison & Hinkley 1997, Sec. 3.8): draw
training seeds with replacement, then for each drawn seed one of its
melody-bootstrap replicates, and average; with one training seed this is the
plain bootstrap over melodies. Intervals are percentile intervals.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats

CONFIDENCE = 0.95  # every interval of the ledger
N_BOOTSTRAP = 1000  # default replicates (cheap: statistics are sums over melodies)


def interval(samples: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The central ``confidence`` percentile interval of ``samples`` (NaNs ignored;
    ``(nan, nan)`` when there is no finite sample)."""
    x = np.asarray(samples, dtype=np.float64).ravel()
    x = x[np.isfinite(x)]
    if len(x) == 0:
        return float("nan"), float("nan")
    a = (1.0 - confidence) / 2
    lo, hi = np.quantile(x, [a, 1.0 - a])
    return float(lo), float(hi)


def resample(n: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """``(n_boot, n)`` indices drawn with replacement (an empty set gives ``(n_boot, 0)``)."""
    return rng.integers(0, max(n, 1), size=(n_boot, n))


def ratio_replicates(
    num: np.ndarray, den: np.ndarray, n_boot: int, rng: np.random.Generator
) -> tuple[float, np.ndarray]:
    """``sum(num) / sum(den)`` over units (melodies), and its bootstrap replicates.

    A mean is the ratio with ``den = 1``; a rate over events (repeated notes per
    note pair, bits per event) is a ratio with per-melody counts. Units are
    resampled whole, so melodies of different lengths keep their weight.
    """
    num, den = np.asarray(num, np.float64), np.asarray(den, np.float64)
    if num.shape != den.shape or num.ndim != 1:
        raise ValueError(f"num and den must be 1-d and alike, got {num.shape} and {den.shape}")
    with np.errstate(invalid="ignore", divide="ignore"):
        full = num.sum() / den.sum() if len(num) else np.nan
        if len(num) == 0:
            return float("nan"), np.full(n_boot, np.nan)
        idx = resample(len(num), n_boot, rng)
        return float(full), num[idx].sum(1) / den[idx].sum(1)


def mean_replicates(
    values: np.ndarray, n_boot: int, rng: np.random.Generator
) -> tuple[float, np.ndarray]:
    """Mean of per-melody values and its bootstrap replicates (NaN values dropped)."""
    v = np.asarray(values, np.float64)
    v = v[np.isfinite(v)]
    return ratio_replicates(v, np.ones_like(v), n_boot, rng)


@dataclass(frozen=True)
class Estimate:
    """One number of the ledger: value, 95 % interval, and the value of each seed run."""

    value: float
    lo: float
    hi: float
    per_seed: tuple[float, ...] = ()
    unit: str = ""
    seeds: str = ""  # e.g. "3 training x 10 generation seeds"
    method: str = ""  # how the interval was made
    n_units: int = 0  # melodies, tracks or splits behind the interval

    def as_dict(self) -> dict:
        return {
            "value": self.value,
            "lo": self.lo,
            "hi": self.hi,
            "per_seed": list(self.per_seed),
            "unit": self.unit,
            "seeds": self.seeds,
            "method": self.method,
            "n_units": self.n_units,
        }

    @classmethod
    def from_dict(cls, d: dict) -> Estimate:
        return cls(
            value=_num(d["value"]),
            lo=_num(d["lo"]),
            hi=_num(d["hi"]),
            per_seed=tuple(_num(v) for v in d.get("per_seed", ())),
            unit=d.get("unit", ""),
            seeds=d.get("seeds", ""),
            method=d.get("method", ""),
            n_units=int(d.get("n_units", 0)),
        )

    def text(self, digits: int = 3) -> str:
        """``0.123 [0.100, 0.150]`` (the unit, if any, after)."""
        f = f"{{:.{digits}f}}"
        body = f"{f.format(self.value)} [{f.format(self.lo)}, {f.format(self.hi)}]"
        return f"{body} {self.unit}".rstrip()


def _num(v) -> float:
    return float("nan") if v is None else float(v)


@dataclass(frozen=True)
class Draws:
    """One statistic, per training seed and per seed run (see the module docstring).

    ``full``: ``(T,)`` value on all melodies of each training seed; ``reps``:
    ``(T, B)`` bootstrap replicates of it over those melodies; ``runs``: ``(R,)``
    value on each seed run alone (training x generation seed); ``n_units``:
    melodies (or tracks) behind ``full`` in all.
    """

    full: np.ndarray
    reps: np.ndarray
    runs: np.ndarray
    n_units: int = 0
    seeds: str = ""
    unit: str = ""
    level: str = "melodies"  # what the replicates resample within a training seed

    def __post_init__(self) -> None:
        full, reps = np.asarray(self.full, np.float64), np.asarray(self.reps, np.float64)
        if reps.ndim != 2 or full.shape != (reps.shape[0],):
            raise ValueError(f"full (T,) and reps (T, B) disagree: {full.shape}, {reps.shape}")
        object.__setattr__(self, "full", full)
        object.__setattr__(self, "reps", reps)
        object.__setattr__(self, "runs", np.asarray(self.runs, np.float64).ravel())

    def combine(self, other: Draws, op: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Draws:
        """``op`` applied replicate by replicate (the two sets are independent draws)."""
        if self.reps.shape != other.reps.shape or self.runs.shape != other.runs.shape:
            raise ValueError(
                f"draws of different layouts: {self.reps.shape}/{self.runs.shape} vs "
                f"{other.reps.shape}/{other.runs.shape}"
            )
        with np.errstate(invalid="ignore", divide="ignore"):
            return Draws(
                op(self.full, other.full),
                op(self.reps, other.reps),
                op(self.runs, other.runs),
                self.n_units + other.n_units,
                self.seeds or other.seeds,
                self.unit,
                self.level,
            )

    def __sub__(self, other: Draws) -> Draws:
        return self.combine(other, np.subtract)

    def __add__(self, other: Draws) -> Draws:
        return self.combine(other, np.add)

    def __truediv__(self, other: Draws) -> Draws:
        return self.combine(other, np.divide)

    def with_unit(self, unit: str) -> Draws:
        return Draws(self.full, self.reps, self.runs, self.n_units, self.seeds, unit, self.level)

    def estimate(
        self, *, seed: int = 0, n_boot: int | None = None, confidence: float = CONFIDENCE
    ) -> Estimate:
        """Value (mean over training seeds) and the two-level bootstrap interval."""
        pooled = two_level(self.reps, np.random.default_rng(seed), n_boot)
        lo, hi = interval(pooled, confidence)
        n_seeds = len(self.full)
        method = (
            f"percentile bootstrap over {self.level} ({self.reps.shape[1]} replicates)"
            if n_seeds == 1
            else f"two-level bootstrap: {n_seeds} training seeds, then {self.level}"
        )
        with np.errstate(invalid="ignore"):
            value = float(np.nanmean(self.full)) if np.isfinite(self.full).any() else np.nan
        return Estimate(
            value=value,
            lo=lo,
            hi=hi,
            per_seed=tuple(float(v) for v in self.runs),
            unit=self.unit,
            seeds=self.seeds,
            method=method,
            n_units=self.n_units,
        )


def two_level(reps: np.ndarray, rng: np.random.Generator, n_boot: int | None = None) -> np.ndarray:
    """Replicates of the mean over training seeds: seeds drawn with replacement,
    then one of each drawn seed's own bootstrap replicates (``reps``: ``(T, B)``)."""
    reps = np.asarray(reps, np.float64)
    n_seeds, b = reps.shape
    n_boot = n_boot or b
    if n_seeds == 1:
        return reps[0, rng.integers(0, b, n_boot)] if n_boot != b else reps[0].copy()
    seeds = rng.integers(0, n_seeds, size=(n_boot, n_seeds))
    cols = rng.integers(0, b, size=(n_boot, n_seeds))
    with np.errstate(invalid="ignore"):
        return reps[seeds, cols].mean(1)


def draws_from_sets(
    sets: list[list[tuple[np.ndarray, np.ndarray]]],
    *,
    n_boot: int = N_BOOTSTRAP,
    seed: int = 0,
    seeds: str = "",
    unit: str = "",
) -> Draws:
    """:class:`Draws` of a ratio statistic ``sum(num) / sum(den)`` over melodies.

    ``sets[t][g] = (num, den)``: per-melody numerators and denominators of the
    set drawn by training seed ``t`` with generation seed ``g`` (use ``den = 1``
    for a mean). The generation seeds of one training seed are pooled for
    ``full`` and ``reps``; each ``(t, g)`` alone gives one of ``runs``.
    """
    if not sets or any(not s for s in sets):
        raise ValueError("need at least one training seed with at least one set")
    rng = np.random.default_rng(seed)
    full, reps, runs, n = [], [], [], 0
    for per_gen in sets:
        num = np.concatenate([np.asarray(a, np.float64) for a, _ in per_gen])
        den = np.concatenate([np.asarray(b, np.float64) for _, b in per_gen])
        f, r = ratio_replicates(num, den, n_boot, rng)
        full.append(f)
        reps.append(r)
        n += len(num)
        for a, b in per_gen:
            with np.errstate(invalid="ignore", divide="ignore"):
                runs.append(np.sum(a) / np.sum(b) if len(a) else np.nan)
    return Draws(np.array(full), np.vstack(reps), np.array(runs), n, seeds, unit)


def draws_from_runs(
    values: list[list[float]],
    *,
    n_boot: int = N_BOOTSTRAP,
    seed: int = 0,
    seeds: str = "",
    unit: str = "",
) -> Draws:
    """:class:`Draws` of a statistic known only per seed run (``values[t][g]``), e.g.
    one that needs a whole set (a classifier's AUC, an overlap of distributions).

    Its replicates per training seed are means of its runs drawn with
    replacement: the spread between fresh sets of melodies stands in for the
    bootstrap over melodies.
    """
    if not values or any(not v for v in values):
        raise ValueError("need at least one training seed with at least one run")
    rng = np.random.default_rng(seed)
    full, reps, runs = [], [], []
    for per_gen in values:
        v = np.asarray(per_gen, np.float64)
        full.append(float(np.nanmean(v)) if np.isfinite(v).any() else np.nan)
        with np.errstate(invalid="ignore"):
            reps.append(np.nanmean(v[resample(len(v), n_boot, rng)], axis=1))
        runs.extend(v.tolist())
    return Draws(
        np.array(full), np.vstack(reps), np.array(runs), len(runs), seeds, unit, "seed runs"
    )


def from_samples(
    samples: np.ndarray,
    *,
    unit: str = "",
    seeds: str = "",
    method: str = "",
    confidence: float = CONFIDENCE,
) -> Estimate:
    """An :class:`Estimate` from repeated experiments (e.g. repeated stratified splits):
    their mean, the central ``confidence`` interval of their spread, each as ``per_seed``."""
    x = np.asarray(samples, np.float64).ravel()
    lo, hi = interval(x, confidence)
    finite = x[np.isfinite(x)]
    return Estimate(
        value=float(finite.mean()) if len(finite) else float("nan"),
        lo=lo,
        hi=hi,
        per_seed=tuple(float(v) for v in x),
        unit=unit,
        seeds=seeds,
        method=method or f"spread of {len(x)} repeats ({confidence:.0%} central interval)",
        n_units=len(x),
    )


def clopper_pearson(k: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Exact binomial interval for ``k`` successes in ``n`` trials (NaN for ``n = 0``)."""
    if n <= 0:
        return float("nan"), float("nan")
    a = (1.0 - confidence) / 2
    lo = 0.0 if k == 0 else float(stats.beta.ppf(a, k, n - k + 1))
    hi = 1.0 if k == n else float(stats.beta.ppf(1 - a, k + 1, n - k))
    return lo, hi
