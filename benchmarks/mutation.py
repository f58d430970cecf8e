"""Mutation testing of the science modules with mutmut: do the tests catch wrong science?

``make mutation`` (or ``python benchmarks/mutation.py [--only NAME ...]``) plants
small bugs (mutants: an operator flipped, a constant changed, an argument
dropped, ...) one at a time in a *copy* of the library and runs the fast tests
that reach the mutated function; a mutant whose tests still pass "survived".
It prints the share of mutants killed per module and overall, and every
survivor that is not listed in ``benchmarks/mutation_equivalent.md`` (a mutant
that cannot change any result, with the reason) with its diff. Exit status 1
when the score is below ``--target`` (85 %).

Too slow for CI (tens of minutes on two cores): run it by hand after changing
a science module or its tests, like the benchmarks. Runs are incremental:
mutmut keeps its results in ``build/mutation/mutants`` and re-tests only the
functions whose code changed (``--fresh`` starts over). Changing :data:`MODULES` or
:data:`TESTS` changes mutmut's configuration, and mutmut then forgets every result: the
next run tests everything again.

How it works: the library, the tests and ``pyproject.toml`` are copied to
``build/mutation/`` (so that nothing here touches the working tree), a
``setup.cfg`` with the ``[mutmut]`` section below is written there, and
``mutmut run`` is called on the mutants of the functions listed in
:data:`MODULES` only (for ``generate.py`` just the statistics
functions). mutmut finds, per function, the tests that call
it (from :data:`TESTS`) and runs only those for its mutants.
"""

from __future__ import annotations

import argparse
import filecmp
import fnmatch
import os
import random
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "build" / "mutation"
EQUIVALENT_FILE = ROOT / "benchmarks" / "mutation_equivalent.md"


def _functions(module: str, *names: str) -> tuple[str, ...]:
    """Mutant-name globs of some functions (``name``) and methods (``Class.name``)."""
    out = []
    for name in names:
        cls, _, func = name.rpartition(".")
        out.append(f"{module}.xǁ{cls}ǁ{func}__mutmut_*" if cls else f"{module}.x_{func}__mutmut_*")
    return tuple(out)


# name -> (file, mutant-name globs). Whole files, except where a file mixes science
# with plumbing: then the science functions are listed, and what is left out is in
# OUT_OF_SCOPE with the reason (a function added to such a file is not mutated
# until it is listed here).
MODULES: dict[str, tuple[str, tuple[str, ...]]] = {
    "losses": ("vrashlib/models/network.py", ("vrashlib.models.network.*",)),
    "rhn": (
        "vrashlib/models/rhn.py",
        _functions(
            "vrashlib.models.rhn",
            *(f"RHN.{f}" for f in ("__init__", "reset_parameters", "initial_state", "project")),
            *(f"RHN.{f}" for f in ("weights", "cell", "forward", "step")),
            *(f"RHNLayerFunction.{f}" for f in ("forward", "_forward", "backward")),
        ),
    ),
    "features": ("vrashlib/filter/features.py", ("vrashlib.filter.features.*",)),
    "mi": ("vrashlib/analysis/mi.py", ("vrashlib.analysis.mi.*",)),
    "table1": (
        "vrashlib/filter/classifiers.py",
        _functions(
            "vrashlib.filter.classifiers",
            "make_classifier",
            "classifier_score",
            "table1",
            "acceptance_by_group",
            "pool_mask",
            "fit_strict_heuristics",
            "Filter.fit",
            "Filter.fit_features",
            "Filter.features",
            "Filter.score",
            "Filter.accept",
            "fit_stream_filter",
        ),  # fmt: skip
    ),
    "table1_splits": ("vrashlib/analysis/table1.py", ("vrashlib.analysis.table1.*",)),
    "heuristics": ("vrashlib/filter/heuristics.py", ("vrashlib.filter.heuristics.*",)),
    "tracks": (
        "vrashlib/data/tracks.py",
        _functions(
            "vrashlib.data.tracks",
            *(f"TrackSet.{f}" for f in ("__post_init__", "from_tracks", "__len__", "__getitem__")),
            *(f"TrackSet.{f}" for f in ("__iter__", "style_names", "style_index", "subset")),
            "TrackSet.select",
        ),
    ),
    "split": ("vrashlib/data/split.py", ("vrashlib.data.split.*",)),
    "datamodule": ("vrashlib/data/datamodule.py", ("vrashlib.data.datamodule.*",)),
    "stats": (
        "vrashlib/sampling/generate.py",
        _functions(
            "vrashlib.sampling.generate",
            "repeat_rate",
            "_entropy_bits",
            "melody_stats",
            "stats_table",
            "distributions",
        ),  # fmt: skip
    ),
}

# What those files hold besides science, left out of the run and the score, and why.
OUT_OF_SCOPE: dict[str, str] = {
    "rhn._BufferPool.*, rhn._Lease.*": "reuse of work buffers between training steps "
    "(speed; what the buffers hold is checked by the gradient tests)",
    "rhn.rhn_reference": "the slow literal RHN the tests compare with: the oracle, not the code",
    "classifiers.Filter.save, .load, .to_json, .from_json": "JSON storage of a fitted filter "
    "(round trip tested)",
    "classifiers.fit_for_stream, .check_filter_for": "which tracks the live stream's filter "
    "is fitted on and its model/style check (stream plumbing, tested with the stream)",
    "tracks.TrackSet.save, .load, .content_hash, _strip_zip_dates": "storage "
    "(round trip and byte-identical files tested in test_tracks)",
    "generate.py (other functions)": "sampling and MIDI output: not the statistics",
}

# The fast tests that may kill mutants (mutmut runs, per mutant, those that reach it).
TESTS = (
    "tests/test_oracles_models.py",
    "tests/test_oracles_filter.py",
    "tests/test_oracles_heuristics.py",
    "tests/test_oracles_mi.py",
    "tests/test_isolation.py",
    "tests/test_sampling_stats.py",
    "tests/test_models.py",
    "tests/test_rhn.py",
    "tests/test_features.py",
    "tests/test_mi.py",
    "tests/test_filtering.py",
    "tests/test_tracks.py",
    "tests/test_table1.py",
    "tests/test_data.py::test_split_is_stratified_and_seeded",
    "tests/test_data.py::test_split_keeps_pieces_whole_stratified_and_seeded",
    "tests/test_data.py::test_duplicates_within_and_across_files_and_copies_share_a_group",
)

SETUP_CFG = """\
[mutmut]
source_paths = vrashlib
only_mutate =
{only}
pytest_add_cli_args =
    -p
    no:cacheprovider
    -q
    -x
    -m
    not slow
    -W
    ignore
pytest_add_cli_args_test_selection =
{tests}
process_isolation = forkserver
use_git_change_detection = False
timeout_multiplier = 5.0
timeout_constant = 10.0
"""

KILLED = {"killed", "timeout", "caught by type check", "segfault"}


def _sync(src: Path, dst: Path) -> None:
    """Copy a tree, leaving files whose content is unchanged alone (mutmut compares
    modification times to know what to re-mutate)."""
    for path in src.rglob("*"):
        if "__pycache__" in path.parts or path.suffix in {".pyc", ".nbi", ".nbc"}:
            continue
        target = dst / path.relative_to(src)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        elif not target.exists() or not filecmp.cmp(path, target, shallow=False):
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
    for path in sorted(dst.rglob("*"), reverse=True):  # files deleted here go there too
        if "__pycache__" in path.parts:
            continue
        if not (src / path.relative_to(dst)).exists():
            shutil.rmtree(path) if path.is_dir() else path.unlink()


def prepare_workdir(modules: dict, fresh: bool) -> None:
    if fresh and WORK.exists():
        shutil.rmtree(WORK)
    WORK.mkdir(parents=True, exist_ok=True)
    _sync(ROOT / "vrashlib", WORK / "vrashlib")
    _sync(ROOT / "tests", WORK / "tests")
    shutil.copy2(ROOT / "pyproject.toml", WORK / "pyproject.toml")
    indent = "\n".join
    files = sorted({f for f, _ in modules.values()})
    for f in files:  # copied unmutated by a run before the file was listed: mutmut would
        copy = WORK / "mutants" / f  # take it as done and never mutate it, and its record
        if copy.exists() and not copy.with_name(copy.name + ".meta").exists():
            copy.unlink()  # of which tests call which function would not hold the file's
            (WORK / "mutants" / "mutmut-stats.json").unlink(missing_ok=True)  # functions
    (WORK / "setup.cfg").write_text(
        SETUP_CFG.format(
            only=indent(f"    {f}" for f in files), tests=indent(f"    {t}" for t in TESTS)
        )
    )


def failing_tests() -> list[str]:
    """The selected tests that fail on the unmutated copy (a test someone is editing right
    now): mutmut refuses to start while any does, so they are left out of the run."""
    cmd = [sys.executable, "-m", "pytest", "-q", "-rfE", "-p", "no:cacheprovider"]
    cmd += ["-m", "not slow", "-W", "ignore", *TESTS]
    out = subprocess.run(["nice", "-n", "10", *cmd], cwd=WORK, capture_output=True, text=True)
    failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", out.stdout, flags=re.M)
    return sorted({f.split(" - ")[0] for f in failed})


def run_mutmut(globs: list[str], max_children: int) -> int:
    failed = failing_tests()
    if failed:
        print(f"left out: {len(failed)} test(s) failing on the unmutated code: {', '.join(failed)}")
    env = {
        **os.environ,
        "PYTEST_ADDOPTS": " ".join(f"--deselect={t}" for t in failed),
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "NUMBA_NUM_THREADS": "1",
        "MPLBACKEND": "Agg",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    mutmut = Path(sys.executable).with_name("mutmut")
    cmd = ["nice", "-n", "10", str(mutmut), "run", "--max-children", str(max_children), *globs]
    shown = " ".join(cmd[3:7] + (globs if len(globs) <= 12 else [f"<{len(globs)} mutants>"]))
    print("$", shown, f"(in {WORK.relative_to(ROOT)})", flush=True)
    return subprocess.call(cmd, cwd=WORK, env=env)


# ------------------------------------------------------------------ results
def load_equivalent() -> list[tuple[str, str, str]]:
    """``(function glob, mutated line, reason)`` rows of the equivalent-mutant table."""
    rows = []
    for line in EQUIVALENT_FILE.read_text().splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
        if len(cells) == 3 and cells[0].startswith("`") and cells[1].startswith("`"):
            rows.append((cells[0].strip("`"), cells[1].strip("`").replace("\\|", "|"), cells[2]))
    return rows


def _norm(code: str) -> str:
    return re.sub(r"\s+", " ", code).strip()


def mutated_lines(diff: str) -> list[str]:
    return [
        _norm(line[1:])
        for line in diff.splitlines()
        if line.startswith("+") and not line.startswith("+++")
    ]


def function_of(name: str) -> str:
    """``vrashlib.filter.features.x_compute_features__mutmut_3`` -> ``features.compute_features``."""
    base = name.partition("__mutmut_")[0]
    module, _, func = base.rpartition(".")
    func = func[2:] if func.startswith("x_") else func.lstrip("x").replace("ǁ", ".").strip(".")
    return f"{module.rpartition('.')[2]}.{func}"


def collect(modules: dict) -> list[dict]:
    """Every selected mutant: module, name, function, status, mutated lines."""
    os.chdir(WORK)
    sys.path.insert(0, str(WORK))
    from mutmut.__main__ import SourceFileMutationData, walk_mutatable_files
    from mutmut.mutation.diff_apply import get_diff_for_mutant
    from mutmut.stats import status_by_exit_code

    by_file = {}
    for path in walk_mutatable_files():
        m = SourceFileMutationData(path=path)
        m.load()
        by_file[str(path)] = m
    out = []
    for module, (file, globs) in modules.items():
        data = by_file.get(file)
        if data is None:
            continue
        for name, code in sorted(data.exit_code_by_key.items()):
            if not any(fnmatch.fnmatch(name, g) for g in globs):
                continue
            status = status_by_exit_code[code] if code is not None else "not checked"
            row = {"module": module, "name": name, "function": function_of(name), "status": status}
            if status not in KILLED:
                try:
                    row["diff"] = get_diff_for_mutant(name, path=file)
                except Exception as err:  # noqa: BLE001 - reported, not fatal
                    row["diff"] = f"(no diff: {err})"
            out.append(row)
    return out


def classify(rows: list[dict], equivalent: list[tuple[str, str, str]]) -> list[tuple]:
    """Mark each surviving mutant listed as equivalent; return the rows of the table
    that match no survivor (killed by a test now, or their code changed)."""
    used = set()
    for row in rows:
        row["equivalent"] = None
        if row["status"] in KILLED:
            continue
        lines = mutated_lines(row.get("diff", ""))
        for func, line, reason in equivalent:
            if fnmatch.fnmatch(row["function"], func) and _norm(line) in lines:
                row["equivalent"] = reason
                used.add((func, line))
                break
    return [e for e in equivalent if (e[0], e[1]) not in used]


def report(rows: list[dict], target: float) -> float:
    print()
    unchecked = [r for r in rows if r["status"] == "not checked"]
    if unchecked:
        print(f"{len(unchecked)} of {len(rows)} mutants not tested (yet): scores are over the rest")
    rows = [r for r in rows if r["status"] != "not checked"]
    print(f"{'module':<12} {'mutants':>8} {'killed':>7} {'equiv.':>7} {'survived':>9} {'score':>7}")
    total = killed = equiv = 0
    for module in dict.fromkeys(r["module"] for r in rows):
        mine = [r for r in rows if r["module"] == module]
        k = sum(r["status"] in KILLED for r in mine)
        e = sum(r["equivalent"] is not None for r in mine)
        s = len(mine) - k - e
        score = 100.0 * k / max(len(mine) - e, 1)
        print(f"{module:<12} {len(mine):>8} {k:>7} {e:>7} {s:>9} {score:>6.1f}%")
        total, killed, equiv = total + len(mine), killed + k, equiv + e
    score = 100.0 * killed / max(total - equiv, 1)
    raw = 100.0 * killed / max(total, 1)
    print(
        f"{'overall':<12} {total:>8} {killed:>7} {equiv:>7} {total - killed - equiv:>9} "
        f"{score:>6.1f}%"
    )
    print(
        f"\nmutation score {score:.1f}% of non-equivalent mutants killed "
        f"({raw:.1f}% of all mutants); target {target:.0f}%"
    )
    print("left out of the score (not science):")
    for func, why in OUT_OF_SCOPE.items():
        print(f"  {func}: {why}")
    survivors = [r for r in rows if r["status"] not in KILLED and r["equivalent"] is None]
    if survivors:
        print(
            f"\n{len(survivors)} surviving mutants (kill them with a test, or list them in "
            f"{EQUIVALENT_FILE.relative_to(ROOT)} with the reason):"
        )
        for r in survivors:
            print(f"\n--- {r['name']} [{r['status']}]")
            print("\n".join(ln for ln in r.get("diff", "").splitlines() if ln[:1] in "+-@"))
    return score


def _last_results(modules: dict, which: str) -> list[str]:
    """Names of the last run's ``survivors`` or ``pending`` (never tested) mutants, read
    in a child process: mutmut reads its configuration once, from the working directory."""
    cmd = [sys.executable, __file__, "--list", which, "--only", *modules]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"could not read the last results: {out.stderr[-2000:]}")
    return out.stdout.split()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=list(MODULES), help="these modules only")
    parser.add_argument("--max-children", type=int, default=2, help="mutants tested at once")
    parser.add_argument("--target", type=float, default=85.0, help="required score (%%)")
    parser.add_argument("--fresh", action="store_true", help="forget earlier results")
    parser.add_argument("--report", action="store_true", help="only report the last results")
    parser.add_argument(
        "--survivors", action="store_true", help="re-test only the last run's survivors"
    )
    parser.add_argument(
        "--resume", action="store_true", help="test only mutants without a result (or timed out)"
    )
    parser.add_argument(
        "--sample",
        type=float,
        default=1.0,
        help="with --resume: test this random share of each module's untested mutants",
    )
    parser.add_argument("--list", choices=["survivors", "pending"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    modules = {k: v for k, v in MODULES.items() if not args.only or k in args.only}
    if args.list:
        rows = collect(modules)
        keep = {"survivors": lambda r: r["status"] not in KILLED | {"not checked"},
                "pending": lambda r: r["status"] in ("not checked", "timeout")}[args.list]  # fmt: skip
        print("\n".join(r["name"] for r in rows if keep(r)))
        return 0
    start = time.perf_counter()
    if not args.report:
        globs = [g for _, gs in modules.values() for g in gs]
        if args.survivors or args.resume:
            # (mutants of functions changed since are regenerated untested: run --resume again)
            globs = []
            if args.survivors:
                globs += _last_results(modules, "survivors")
            if args.resume:
                pending = _last_results(modules, "pending")
                if args.sample < 1.0:  # a uniform random share of each module's mutants
                    rng = random.Random(0)
                    picked = []
                    for _, module_globs in modules.values():
                        mine = [
                            n for n in pending if any(fnmatch.fnmatch(n, g) for g in module_globs)
                        ]
                        picked += rng.sample(mine, round(args.sample * len(mine)))
                    print(f"sampled {len(picked)} of {len(pending)} untested mutants")
                    pending = picked
                globs += pending
            if not globs:
                print("nothing to re-test")
        prepare_workdir(MODULES, args.fresh)
        rc = run_mutmut(globs, args.max_children) if globs else 0
        if rc != 0:
            print(f"mutmut run failed with exit status {rc}")
            return rc
    rows = collect(modules)
    unused = classify(rows, load_equivalent())
    score = report(rows, args.target)
    if unused and not args.only and not any(r["status"] == "not checked" for r in rows):
        print(f"\n{len(unused)} rows of {EQUIVALENT_FILE.name} match no surviving mutant "
              "(a test kills it now, or its code changed): remove them")  # fmt: skip
        for func, line, _ in unused:
            print(f"  {func}: {line}")
    print(f"\n({time.perf_counter() - start:.0f} s)")
    return 0 if score >= args.target else 1


if __name__ == "__main__":
    sys.exit(main())
