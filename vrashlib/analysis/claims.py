"""The claims ledger: every claim of the paper, our measurement, and a verdict computed from it.

Each notebook that measures something a claim rests on writes its
:class:`~vrashlib.analysis.uncertainty.Estimate` s to the run folder
(:func:`save_measurements`, one JSON file per notebook in ``run.claims_dir``);
the last notebook reads them all (:func:`load_measurements`) and judges every
claim of :data:`CLAIMS` (:func:`ledger`). Nothing in the ledger is typed by hand.

A claim is one or more :class:`Check` s, each a measurement compared with a
boundary by a :data:`RULES` rule. The verdict of one test (:func:`verdict`):

- ``holds``: the whole 95 % interval is on the claim's side of the boundary;
- ``fails``: the whole interval is on the other side;
- ``undecided``: the interval straddles the boundary.

A claim of several tests holds when all hold, fails when any fails, and is
undecided otherwise. It is *robust across seeds* when every seed run, taken on
its own (its point value), points the way the verdict does (for an undecided
claim: when all runs point the same way); with fewer than two seed runs
robustness is not known (``n/a (one seed)``).

The boundaries are our reading of the paper's words (the paper gives no
numbers for most of its claims); each claim says what it is in ``reading``,
and the ledger prints it beside the paper's words.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from vrashlib.analysis.uncertainty import Estimate
from vrashlib.files import atomic_write_text

RULES = ("greater", "less", "within", "outside")
VERDICTS = ("holds", "fails", "undecided", "not measured")

# Our readings of the paper's qualitative words, in one place.
COMPARABLE_BITS = 0.10  # "comparable" cross-entropy: within 0.10 bits/event
FAR_ABOVE_RATIO = 2.0  # "<<": the random network at least twice the VAE's bits/event
WORKS_WELL_RATIO = 0.5  # "work relatively well": at least half the real tracks' acceptance
HEURISTIC_PRECISION = 0.95  # "100 %" within sampling error: precision above 0.95
FILTER_CHANGE = 0.05  # "significantly affects the decline": decay ratio moves > 0.05
REALTIME_MARGIN = 100.0  # real time with room for a computer 100x slower than one core here


@dataclass(frozen=True)
class Check:
    """One comparison: measurement ``name`` against ``bound`` by ``rule``.

    ``greater``/``less``: a number; ``within``/``outside``: ``(low, high)``.
    """

    name: str
    rule: str
    bound: float | tuple[float, float]

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise ValueError(f"unknown rule {self.rule!r}; choose one of {RULES}")
        pair = isinstance(self.bound, tuple)
        if pair != (self.rule in ("within", "outside")):
            raise ValueError(f"rule {self.rule!r} needs {'a pair' if not pair else 'a number'}")

    def describe(self) -> str:
        if self.rule == "greater":
            return f"> {self.bound:g}"
        if self.rule == "less":
            return f"< {self.bound:g}"
        lo, hi = self.bound
        return f"{'in' if self.rule == 'within' else 'outside'} ({lo:g}, {hi:g})"


@dataclass(frozen=True)
class Claim:
    """One claim of the paper: where, its words, our reading, and the tests that judge it."""

    key: str
    where: str  # "Fig. 4", "Sec. 4", "Table 1", ...
    words: str  # the paper's words (quoted or closely paraphrased)
    reading: str  # what we measure and which boundary
    tests: tuple[Check, ...]
    notebook: str  # the notebook that computes the measurements


def verdict(lo: float, hi: float, rule: str, bound: float | tuple[float, float]) -> str:
    """``holds`` / ``fails`` / ``undecided`` for an interval ``[lo, hi]`` (see module doc);
    ``not measured`` when the interval is not finite."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return "not measured"
    if lo > hi:
        raise ValueError(f"interval [{lo}, {hi}] is reversed")
    if rule == "greater":
        return "holds" if lo > bound else "fails" if hi <= bound else "undecided"
    if rule == "less":
        return "holds" if hi < bound else "fails" if lo >= bound else "undecided"
    a, b = bound
    inside = a < lo and hi < b
    outside = hi <= a or lo >= b
    if rule == "within":
        return "holds" if inside else "fails" if outside else "undecided"
    if rule == "outside":
        return "holds" if hi < a or lo > b else "fails" if a <= lo and hi <= b else "undecided"
    raise ValueError(f"unknown rule {rule!r}; choose one of {RULES}")


def satisfied(value: float, rule: str, bound: float | tuple[float, float]) -> bool:
    """Whether a single value lies on the claim's side of the boundary."""
    if rule == "greater":
        return value > bound
    if rule == "less":
        return value < bound
    a, b = bound
    return a < value < b if rule == "within" else not (a <= value <= b)


NOT_TESTED = "n/a (one seed)"  # robustness cannot be judged from fewer than two seed runs


def robust(per_seed: tuple[float, ...], rule: str, bound, verdict_: str) -> tuple[str, str]:
    """``(yes | no | NOT_TESTED, "k of n seed runs ...")``: do the seed runs, one by one,
    agree?"""
    values = [v for v in per_seed if math.isfinite(v)]
    if len(values) < 2:
        return NOT_TESTED, f"{len(values)} seed run"
    sides = [satisfied(v, rule, bound) for v in values]
    k = sum(sides)
    if verdict_ == "holds":
        ok = k == len(sides)
    elif verdict_ == "fails":
        ok = k == 0
    else:
        ok = k in (0, len(sides))
    return ("yes" if ok else "no"), f"{k} of {len(sides)} seed runs on the claim's side"


def judge(claim: Claim, measurements: dict[str, Estimate]) -> dict:
    """One ledger row for ``claim`` from the named measurements."""
    parts, verdicts, robusts, seeds = [], [], [], []
    for test in claim.tests:
        est = measurements.get(test.name)
        if est is None:
            parts.append(f"{test.name}: missing")
            verdicts.append("not measured")
            continue
        v = verdict(est.lo, est.hi, test.rule, test.bound)
        r, agree = robust(est.per_seed, test.rule, test.bound, v)
        verdicts.append(v)
        robusts.append(r)
        seeds.append(est.seeds)
        parts.append(f"{test.name} = {est.text()} (claim: {test.describe()}; {v}; {agree})")
    if "not measured" in verdicts:
        overall = "not measured"
    elif "fails" in verdicts:
        overall = "fails"
    elif all(v == "holds" for v in verdicts):
        overall = "holds"
    else:
        overall = "undecided"
    if overall == "not measured":
        rob = "n/a (not measured)"
    elif not robusts or NOT_TESTED in robusts:
        rob = NOT_TESTED
    else:
        rob = "yes" if all(r == "yes" for r in robusts) else "no"
    return {
        "claim": claim.key,
        "where": claim.where,
        "paper": claim.words,
        "reading": claim.reading,
        "measurement": "; ".join(parts),
        "verdict": overall,
        "robust_across_seeds": rob,
        "seeds": "; ".join(dict.fromkeys(s for s in seeds if s)),
        "notebook": claim.notebook,
    }


LEDGER_COLUMNS = (
    "claim", "where", "paper", "reading", "measurement", "verdict", "robust_across_seeds",
    "seeds", "notebook",
)  # fmt: skip


def ledger(
    measurements: dict[str, Estimate], claims: tuple[Claim, ...] | None = None
) -> pd.DataFrame:
    """The ledger: one row per claim (:data:`CLAIMS` by default), columns :data:`LEDGER_COLUMNS`."""
    rows = [judge(c, measurements) for c in (CLAIMS if claims is None else claims)]
    return pd.DataFrame(rows, columns=list(LEDGER_COLUMNS))


def ledger_markdown(table: pd.DataFrame) -> str:
    """The ledger as a Markdown table, the verdict in bold."""
    shown = table.assign(verdict="**" + table["verdict"] + "**")
    return shown.to_markdown(index=False) + "\n"


# ------------------------------------------------------------ measurements IO
def save_measurements(measurements: dict[str, Estimate], notebook: str, folder: str | Path) -> Path:
    """Write one notebook's measurements to ``folder/<notebook>.json`` (atomically)."""
    path = Path(folder) / f"{notebook}.json"
    body = {name: {**est.as_dict(), "notebook": notebook} for name, est in measurements.items()}
    atomic_write_text(path, json.dumps(body, indent=1, sort_keys=True, default=_json_float))
    return path


def _json_float(v):
    return float(v)


def load_measurements(folder: str | Path) -> dict[str, Estimate]:
    """Every measurement written into ``folder`` by :func:`save_measurements`.

    A name written by two notebooks raises (a fact must have one source).
    """
    out: dict[str, Estimate] = {}
    source: dict[str, str] = {}
    for path in sorted(Path(folder).glob("*.json")):
        try:
            body = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: not a measurements file ({err})") from err
        for name, d in body.items():
            if name in out:
                raise ValueError(f"measurement {name!r} written by both {source[name]} and {path}")
            out[name] = Estimate.from_dict(d)
            source[name] = str(path)
    return out


# ------------------------------------------------------------------ the claims
def _pair_tests(prefix: str, names: tuple[str, ...], rule: str, bound) -> tuple[Check, ...]:
    return tuple(Check(f"{prefix}.{n}", rule, bound) for n in names)


TEMPERATURES = (0.5, 0.7, 1.0)  # the repeated-note claim is judged at each
METHODS = ("logreg", "svc_linear", "svc_rbf")

CLAIMS: tuple[Claim, ...] = (
    Claim(
        "fig4_ordering",
        "Fig. 4",
        "Cross-entropy near saturation: LM and VRASH comparable, the VAE worse, the untrained "
        "random network far above (LM ≈ VRASH < VAE ≪ random).",
        f"Validation bits/event (bound: CE + KL): |VRASH - LM| < {COMPARABLE_BITS}; VAE minus the "
        f"better of LM and VRASH > 0; random / VAE > {FAR_ABOVE_RATIO}.",
        (
            Check("fig4.vrash_minus_lm", "within", (-COMPARABLE_BITS, COMPARABLE_BITS)),
            Check("fig4.vae_minus_best", "greater", 0.0),
            Check("fig4.random_over_vae", "greater", FAR_ABOVE_RATIO),
        ),
        "07_claims",
    ),
    Claim(
        "fig4_vrash_marginally_better",
        "Sec. 4",
        "Formally speaking, VRASH demonstrates only marginally better performance in "
        "comparison with the language model.",
        f"VRASH - LM validation bits/event (bound) in (-{COMPARABLE_BITS}, 0).",
        (Check("fig4.vrash_minus_lm", "within", (-COMPARABLE_BITS, 0.0)),),
        "07_claims",
    ),
    Claim(
        "all_three_work",
        "Sec. 4",
        "All three of the proposed architectures work relatively well and generate music "
        "that is diverse and sufficiently interesting.",
        "Share of melodies the automatic panel rates acceptable (4-5), over the share among "
        f"held-out real melodies of the same styles, > {WORKS_WELL_RATIO} for each model.",
        _pair_tests("accept.ratio_to_real", ("lm", "vae", "vrash"), "greater", WORKS_WELL_RATIO),
        "07_claims",
    ),
    Claim(
        "vrash_most_interesting",
        "Sec. 4",
        "VRASH yields the highest percentage of tracks with qualitative interesting "
        "temporal and melodic structures.",
        "Share rated acceptable by the automatic panel: VRASH minus LM > 0 and VRASH minus "
        "VAE > 0 (both styles pooled).",
        _pair_tests("accept", ("vrash_minus_lm", "vrash_minus_vae"), "greater", 0.0),
        "07_claims",
    ),
    Claim(
        "lm_repeats_notes",
        "Sec. 4",
        "The tendency to repeat a certain note ... is more prominent for the language model, "
        "whereas VAE and specifically VRASH tend to deal with this challenge more successfully.",
        "Share of melodies with a run of four or more equal pitches: LM minus VAE > 0 and "
        f"LM minus VRASH > 0, at each sampling temperature {TEMPERATURES}.",
        tuple(
            Check(f"repeats.run4.T{t:g}.lm_minus_{other}", "greater", 0.0)
            for t in TEMPERATURES
            for other in ("vae", "vrash")
        ),
        "07_claims",
    ),
    Claim(
        "table1_precision_range",
        "Table 1",
        "Up to 87 % of tracks classified as good are also positively evaluated by human "
        "(0.74-0.87 across methods and test shares).",
        "The paper's protocol (a filter for VRASH-Bach melodies, latent coordinates among the "
        "features, no class reweighting): precision of the 'good' class over repeated "
        "stratified splits of every test share, in (0.74, 0.87) for each method.",
        _pair_tests("table1.paper.precision", METHODS, "within", (0.74, 0.87)),
        "04_filter",
    ),
    Claim(
        "table1_precision_range_ours",
        "Table 1",
        "The same range, 0.74-0.87, with our protocol.",
        "Our protocol (every generated melody, entropy features, balanced class weights): "
        "precision of the 'good' class in (0.74, 0.87) for each method.",
        _pair_tests("table1.ours.precision", METHODS, "within", (0.74, 0.87)),
        "04_filter",
    ),
    Claim(
        "table1_improves_as_test_shrinks",
        "Table 1",
        "Precision rises as the share of the test split shrinks from 0.5 to 0.2 "
        "(every method's column in Table 1).",
        "The paper's protocol: precision at test share 0.2 minus at 0.5 > 0 for each method "
        "(repeated splits).",
        _pair_tests("table1.paper.gain", METHODS, "greater", 0.0),
        "04_filter",
    ),
    Claim(
        "heuristics_full_precision",
        "Sec. 4",
        "One can make such heuristics even more strict so that 100 % accuracy is achieved.",
        f"Strict rules with a minimum support, fitted on a training split: precision on the "
        f"test split > {HEURISTIC_PRECISION} (repeated splits).",
        (Check("heuristics.test_precision", "greater", HEURISTIC_PRECISION),),
        "04_filter",
    ),
    Claim(
        "fig6_bach_higher_long_mi",
        "Fig. 6",
        "Bach-stylized VRASH-generated music tends to have higher mutual information between "
        "notes that are further apart (than real tracks).",
        "Key-invariant token, MI above the within-track shuffle floor, mean over the long "
        "distances (the tail): filtered VRASH-Bach minus real Bach > 0.",
        (Check("fig6.first_filtered_minus_real_tail", "greater", 0.0),),
        "05_mutual_information",
    ),
    Claim(
        "fig6_second_style_closest",
        "Fig. 6",
        "Jazz-stylized VRASH-generated music demonstrates a mutual information profile that "
        "is closest to the profile of real tracks (jazz: fiddle tunes here).",
        "Mean |difference| to the real curve of the same style (area between curves over "
        "log-distance, bits): VRASH-fiddle's gap minus each other generated set's gap < 0.",
        _pair_tests(
            "fig6.second_gap_minus",
            ("vrash_first", "vrash_first_filtered", "lm_first"),
            "less",
            0.0,
        ),
        "05_mutual_information",
    ),
    Claim(
        "fig6_second_style_decays_faster",
        "Fig. 6",
        "As the distance between the notes gets longer, mutual information in generated "
        "(jazz) tracks tends to decrease faster than in real data.",
        "Decay ratio (tail MI / MI at distance 1, above the floor): VRASH-fiddle minus real "
        "fiddle < 0.",
        (Check("fig6.second_decay_minus_real", "less", 0.0),),
        "05_mutual_information",
    ),
    Claim(
        "fig6_filter_changes_second_style",
        "Fig. 6",
        "Filtering jazz-stylized music significantly affects the decline of mutual "
        "information between the notes.",
        f"Decay ratio of filtered minus unfiltered VRASH-fiddle outside ±{FILTER_CHANGE}.",
        (Check("fig6.second_filtered_decay_change", "outside", (-FILTER_CHANGE, FILTER_CHANGE)),),
        "05_mutual_information",
    ),
    Claim(
        "fig6_lm_decays_faster",
        "Fig. 6",
        "VRASH-generated melodies tend to demonstrate a slower decline of mutual information "
        "than music generated by a language model.",
        "Decay ratio: LM-Bach minus VRASH-Bach < 0.",
        (Check("fig6.lm_decay_minus_vrash", "less", 0.0),),
        "05_mutual_information",
    ),
    Claim(
        "stream_realtime",
        "Fig. 5",
        "A pseudo-real-time non-stop stream of generated music with very limited "
        "computational power ... on Raspberry Pi.",
        f"Music seconds per wall-clock second of the filtered, de-duplicated stream on one "
        f"thread of our CPU > {REALTIME_MARGIN:g} (room for a computer {REALTIME_MARGIN:g}x "
        "slower).",
        (Check("stream.realtime_factor", "greater", REALTIME_MARGIN),),
        "07_claims",
    ),
)


def measurement_names(claims: tuple[Claim, ...] = CLAIMS) -> set[str]:
    """Every measurement some claim needs."""
    return {t.name for c in claims for t in c.tests}


def measurements_frame(measurements: dict[str, Estimate]) -> pd.DataFrame:
    """Every measurement in long form: ``name, value, lo, hi, unit, seeds, method,
    n_units, per_seed`` (the seed runs' values, space-separated)."""
    rows = [
        {
            "name": name,
            "value": e.value,
            "lo": e.lo,
            "hi": e.hi,
            "unit": e.unit,
            "seeds": e.seeds,
            "method": e.method,
            "n_units": e.n_units,
            "per_seed": " ".join(f"{v:.4g}" for v in e.per_seed),
        }
        for name, e in sorted(measurements.items())
    ]
    return pd.DataFrame(
        rows,
        columns=["name", "value", "lo", "hi", "unit", "seeds", "method", "n_units", "per_seed"],
    )
