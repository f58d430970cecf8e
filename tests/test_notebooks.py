"""Every notebook runs headlessly on the smoke profile and writes its figures and tables."""

from __future__ import annotations

import ast

import jupytext
import pytest

from vrashlib import paths
from vrashlib.files import FIGURE_FORMATS, TABLE_FORMATS
from vrashlib.reproduce import NOTEBOOKS, available_notebooks, notebooks_markdown

SOURCES = sorted(paths.NOTEBOOKS.glob("[0-9][0-9]_*.py"))


def test_every_notebook_source_is_registered():
    assert [p.stem for p in SOURCES] == [nb.stem for nb in available_notebooks()]
    assert len(available_notebooks()) == len(NOTEBOOKS), "a registered notebook has no source"


def test_registry_lists_every_committed_figure_and_table():
    registered = [f for nb in NOTEBOOKS for f in nb.files]
    assert len(registered) == len(set(registered)), "an output is registered twice"
    committed = {p.name for p in paths.FIGURES.iterdir() if p.is_file()}
    assert committed == set(registered), (
        f"committed but not registered: {sorted(committed - set(registered))}; "
        f"registered but not committed: {sorted(set(registered) - committed)}"
    )


def _written_outputs(source) -> set[tuple[str, tuple[str, ...]]]:
    """(name, formats) of every savefig/save_table call of a notebook into ``out``."""
    found = set()
    for node in ast.walk(ast.parse(source.read_text())):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
            continue
        if node.func.id not in ("savefig", "save_table") or len(node.args) < 3:
            continue
        target = node.args[2]
        if not (isinstance(target, ast.Name) and target.id == "out"):
            continue  # e.g. the MI curves that go to the run folder
        formats = FIGURE_FORMATS if node.func.id == "savefig" else TABLE_FORMATS
        for kw in node.keywords:
            if kw.arg == "formats":
                formats = tuple(ast.literal_eval(kw.value))
        found.add((ast.literal_eval(node.args[1]), formats))
    return found


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda nb: nb.stem)
def test_each_figure_a_notebook_writes_is_registered(nb):
    assert _written_outputs(nb.source) == {(o.name, o.formats) for o in nb.outputs}


def test_readme_notebook_table_is_the_registry():
    readme = (paths.ROOT / "README.md").read_text()
    assert notebooks_markdown() in readme, (
        "README's notebook table differs from the registry; paste "
        "`python -c 'from vrashlib.reproduce import notebooks_markdown as m; print(m())'`"
    )


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_notebook_is_thin_and_parameterised(source):
    nb = jupytext.read(source)
    code = [c for c in nb.cells if c.cell_type == "code"]
    first = code[0]
    assert "parameters" in first.metadata.get("tags", []), (
        "first code cell must be tagged parameters"
    )
    for node in ast.parse(first.source).body:
        assert isinstance(node, ast.Assign | ast.AnnAssign), (
            "parameters cell holds assignments only"
        )
        ast.literal_eval(node.value)  # flat literals only
    names = {
        t.id
        for node in ast.parse(first.source).body
        for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
    }
    assert {"PROFILE", "SEED", "OVERRIDES"} <= names
    for cell in code:
        for node in ast.walk(ast.parse(cell.source)):
            assert not isinstance(node, ast.FunctionDef | ast.ClassDef | ast.Lambda), (
                f"{source.name}: logic belongs in vrashlib, not in a notebook cell"
            )
    assert any(c.cell_type == "markdown" for c in nb.cells)


@pytest.mark.slow
def test_all_notebooks_run_on_smoke_profile(smoke_reproduction):
    run = smoke_reproduction  # one smoke run per test session (tests/conftest.py)
    assert run.returncode == 0, run.output
    for nb in available_notebooks():
        for name in nb.files:
            path = run.figures / name
            assert path.exists() and path.stat().st_size > 0, f"{nb.stem} did not write {name}"
    # the smoke run never touches the committed paper figures
    assert {p: p.stat().st_mtime_ns for p in paths.FIGURES.glob("*")} == run.committed_before
    assert sorted(p.stem for p in run.notebooks.glob("*.ipynb")) == [
        nb.stem for nb in available_notebooks()
    ]


def test_reproduce_runs_a_notebook_after_the_one_it_needs():
    from vrashlib.reproduce import execution_order

    stems = [nb.stem for nb in execution_order(available_notebooks())]
    listen = next(nb for nb in NOTEBOOKS if nb.stem == "00_listen")
    assert listen.after == "02_training" and listen.outputs == ()
    assert stems.index("00_listen") == stems.index("02_training") + 1
    assert sorted(stems) == [nb.stem for nb in available_notebooks()]  # each once
    alone = [nb for nb in available_notebooks() if nb.stem in ("00_listen", "04_filter")]
    assert [nb.stem for nb in execution_order(alone)] == ["00_listen", "04_filter"]
