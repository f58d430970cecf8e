"""The mutation-testing tools stay in step with the code they plant bugs in.

``benchmarks/planted_bugs.py`` edits exact lines of the library and
``benchmarks/mutation_equivalent.md`` names functions: when the code moves on, these
tests say which entry went stale, instead of the slow runs silently testing nothing.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load(name: str):
    path = ROOT / "benchmarks" / f"{name}.py"
    sys.path.insert(0, str(path.parent))
    try:
        spec = importlib.util.spec_from_file_location(f"_bench_{name}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    return module


mutation = _load("mutation")
planted = _load("planted_bugs")


@pytest.mark.parametrize("bug", planted.BUGS, ids=lambda b: b[0][:40])
def test_each_planted_bug_matches_the_code_once_and_changes_it(bug):
    what, file, code, buggy = bug
    text = (ROOT / file).read_text()
    assert text.count(code) == 1, f"{what}: {file} no longer holds {code!r} exactly once"
    assert buggy != code
    # the planted file still parses: a bug that breaks the import would be caught trivially
    ast.parse(text.replace(code, buggy))


def test_the_tests_the_tools_run_exist():
    for test in mutation.TESTS:
        file, _, name = test.partition("::")
        assert (ROOT / file).is_file(), test
        if name:
            assert f"\ndef {name}(" in (ROOT / file).read_text(), f"{test}: no such test"


def _defined(file: str) -> set[str]:
    """``module.function`` and ``module.Class.method`` names defined in a file."""
    module = Path(file).stem
    names = set()
    for node in ast.parse((ROOT / file).read_text()).body:
        if isinstance(node, ast.FunctionDef):
            names.add(f"{module}.{node.name}")
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    names.add(f"{module}.{node.name}.{item.name}")
    return names


def test_every_mutated_module_and_listed_function_exists():
    for name, (file, globs) in mutation.MODULES.items():
        assert (ROOT / file).is_file(), f"{name}: {file}"
        defined = _defined(file)
        for glob in globs:
            if glob.endswith(".*"):
                continue
            function = mutation.function_of(glob.replace("__mutmut_*", "__mutmut_1"))
            assert function in defined, f"{name}: {glob} names no function of {file}"


def test_equivalent_mutants_name_mutated_functions_and_give_a_reason():
    rows = mutation.load_equivalent()
    assert len(rows) >= 10
    defined = set().union(*(_defined(f) for f, _ in mutation.MODULES.values()))
    for func, line, reason in rows:
        assert func in defined, f"equivalent mutant of {func}: no such function is mutated"
        assert line and len(reason) > 15, (func, line, reason)


def test_equivalent_rows_are_matched_by_their_mutated_line():
    """A survivor whose diff adds the listed line, in the listed function, is equivalent;
    the same line in another function, or another line, is not."""
    func, line, reason = mutation.load_equivalent()[0]
    module, _, name = func.partition(".")
    diff = f"--- a\n+++ b\n-    old\n+    {line}\n"
    row = {"status": "survived", "diff": diff, "function": func}
    other = {**row, "function": f"{module}.not_{name}"}
    changed = {**row, "diff": diff.replace(line, line + " + 1")}
    killed = {**row, "status": "killed"}
    mutation.classify([row, other, changed, killed], mutation.load_equivalent())
    assert row["equivalent"] == reason
    assert other["equivalent"] is None and changed["equivalent"] is None
    assert killed["equivalent"] is None


def test_function_of_reads_mutmut_names():
    assert mutation.function_of("vrashlib.analysis.mi.x_mi_curve__mutmut_12") == "mi.mi_curve"
    name = "vrashlib.models.rhn.xǁRHNǁforward__mutmut_3"
    assert mutation.function_of(name) == "rhn.RHN.forward"


def test_equivalent_table_rows_may_hold_escaped_pipes(tmp_path, monkeypatch):
    table = tmp_path / "eq.md"
    table.write_text(
        "| function | mutated line | why |\n| --- | --- | --- |\n"
        "| `m.f` | `x = a \\| b  # a \\| b` | the same bits either way |\n"
        "| not a row |\n"
    )
    monkeypatch.setattr(mutation, "EQUIVALENT_FILE", table)
    assert mutation.load_equivalent() == [("m.f", "x = a | b  # a | b", "the same bits either way")]
