"""Run every notebook in order, headlessly, with papermill.

Each notebook source is a jupytext ``py:percent`` file in ``notebooks/``; it is
converted to ``.ipynb`` in the build folder and executed there with the
profile and seed as papermill parameters. Executed copies stay in
``build/notebooks/<profile>/`` for inspection, also when one fails.

Resuming: ``reproduce(..., start="04")`` runs from notebook 04 on; the earlier
notebooks' results are read from the run folder.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from vrashlib import paths


@dataclass(frozen=True)
class Notebook:
    stem: str  # file name without .py, e.g. "01_data"
    artifact: str  # the paper artifact it rebuilds
    outputs: tuple[str, ...]  # files written into the profile's figures folder

    @property
    def source(self) -> Path:
        return paths.NOTEBOOKS / f"{self.stem}.py"


NOTEBOOKS: tuple[Notebook, ...] = (
    Notebook(
        "01_data",
        "Section 2: data preparation and normalisation",
        ("fig_data_overview.png", "fig_data_overview.pdf", "table_dataset.csv"),
    ),
    Notebook(
        "02_training",
        "Fig. 4: cross-entropy of LM, VAE and VRASH vs a random network",
        ("fig4_cross_entropy.png", "fig4_cross_entropy.pdf", "table_fig4_cross_entropy.csv"),
    ),
    Notebook(
        "03_listening",
        "Section 4: generated melodies, repeated notes, distributions",
        (
            "fig_generated_examples.png",
            "fig_generated_examples.pdf",
            "table_generated_stats.csv",
        ),
    ),
    Notebook(
        "04_filter",
        "Table 1: post-generation filter, classifier comparison",
        (
            "table1_filter.csv",
            "table1_filter.md",
            "table1_filter.tex",
            "fig_filter_features.png",
            "fig_filter_features.pdf",
        ),
    ),
    Notebook(
        "05_mutual_information",
        "Fig. 6: mutual information vs distance",
        ("fig6_mutual_information.png", "fig6_mutual_information.pdf", "table_fig6_fits.csv"),
    ),
    Notebook(
        "06_stream",
        "Fig. 5: pseudo-real-time filtered stream",
        ("fig5_stream.png", "fig5_stream.pdf", "table_stream.csv"),
    ),
)


def available_notebooks() -> list[Notebook]:
    """The registered notebooks whose source exists, in reading order."""
    return [nb for nb in NOTEBOOKS if nb.source.exists()]


def expected_outputs(profile: str, notebooks: list[Notebook] | None = None) -> list[Path]:
    out = paths.figures_dir(profile)
    return [out / name for nb in (notebooks or available_notebooks()) for name in nb.outputs]


def execute_notebook(
    nb: Notebook, profile: str, seed: int = 0, overrides: dict | None = None
) -> Path:
    """Convert one notebook source and execute it with papermill; return the executed copy."""
    import jupytext
    import papermill

    build = paths.executed_notebooks_dir(profile)
    source_ipynb = build / f"{nb.stem}.source.ipynb"
    executed = build / f"{nb.stem}.ipynb"
    notebook = jupytext.read(nb.source)
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    jupytext.write(notebook, source_ipynb)
    papermill.execute_notebook(
        str(source_ipynb),
        str(executed),
        parameters={"PROFILE": profile, "SEED": seed, "OVERRIDES": overrides or {}},
        kernel_name="python3",
        cwd=str(paths.NOTEBOOKS),
        progress_bar=False,
    )
    source_ipynb.unlink(missing_ok=True)
    return executed


def reproduce(
    profile: str = "paper",
    *,
    seed: int = 0,
    start: str | None = None,
    only: list[str] | None = None,
    overrides: dict | None = None,
    log=print,
) -> list[Path]:
    """Execute the notebooks in order and check that each wrote its outputs.

    Returns the list of figure/table files written. Raises ``RuntimeError``
    naming the notebook (and its executed copy) when one fails or misses an
    expected output.
    """
    notebooks = available_notebooks()
    if start is not None:
        notebooks = [nb for nb in notebooks if nb.stem >= start]
    if only is not None:
        notebooks = [nb for nb in notebooks if nb.stem in only or nb.stem[:2] in only]
    if not notebooks:
        raise RuntimeError(f"no notebooks selected (start={start!r}, only={only!r})")
    written = []
    t_all = time.perf_counter()
    for i, nb in enumerate(notebooks, 1):
        log(f"[{i}/{len(notebooks)}] {nb.stem} ({nb.artifact}) profile={profile} ...")
        t0 = time.perf_counter()
        try:
            executed = execute_notebook(nb, profile, seed, overrides)
        except Exception as err:
            copy = paths.executed_notebooks_dir(profile) / f"{nb.stem}.ipynb"
            raise RuntimeError(
                f"notebook {nb.source.name} failed; executed copy kept at {copy}: {err}"
            ) from err
        missing = [
            p for p in expected_outputs(profile, [nb]) if not p.exists() or p.stat().st_size == 0
        ]
        if missing:
            raise RuntimeError(
                f"notebook {nb.source.name} ran but did not write "
                + ", ".join(str(p) for p in missing)
                + f" (executed copy: {executed})"
            )
        written += expected_outputs(profile, [nb])
        log(f"    done in {time.perf_counter() - t0:.0f} s")
    log(f"all {len(notebooks)} notebooks done in {time.perf_counter() - t_all:.0f} s")
    return written
