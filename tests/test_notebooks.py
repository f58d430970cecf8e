"""Every notebook runs headlessly on the smoke profile and writes its figures and tables."""

from __future__ import annotations

import ast
import os
import subprocess
import sys

import jupytext
import pytest

from vrashlib import paths
from vrashlib.reproduce import NOTEBOOKS, available_notebooks

SOURCES = sorted(paths.NOTEBOOKS.glob("[0-9][0-9]_*.py"))


def test_every_notebook_source_is_registered():
    assert [p.stem for p in SOURCES] == [nb.stem for nb in available_notebooks()]
    assert len(available_notebooks()) == len(NOTEBOOKS), "a registered notebook has no source"


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
def test_all_notebooks_run_on_smoke_profile(tmp_path):
    committed = {p: p.stat().st_mtime_ns for p in paths.FIGURES.glob("*")}
    env = {**os.environ, "VRASH_BUILD": str(tmp_path), "MPLBACKEND": "Agg"}
    proc = subprocess.run(
        [sys.executable, "-m", "vrashlib.cli", "reproduce", "--profile", "smoke"],
        env=env,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    figures = tmp_path / "figures" / "smoke"
    for nb in available_notebooks():
        for name in nb.outputs:
            path = figures / name
            assert path.exists() and path.stat().st_size > 0, f"{nb.stem} did not write {name}"
    # the smoke run never touches the committed paper figures
    assert {p: p.stat().st_mtime_ns for p in paths.FIGURES.glob("*")} == committed
    executed = tmp_path / "notebooks" / "smoke"
    assert sorted(p.stem for p in executed.glob("*.ipynb")) == [
        nb.stem for nb in available_notebooks()
    ]
