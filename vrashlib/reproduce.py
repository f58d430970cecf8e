"""Run every notebook in order, headlessly, with papermill.

Each notebook source is a jupytext ``py:percent`` file in ``notebooks/``; it is
converted to ``.ipynb`` in the build folder and executed there with the
profile and seed as papermill parameters. Executed copies stay in
``build/notebooks/<profile>/`` for inspection, also when one fails.

Resuming: ``reproduce(..., start="04")`` runs from notebook 04 on; the earlier
notebooks' results are read from the run folder.

Order: the notebooks run in reading order, except one that names another in its
``after`` field: it runs right after that one. Notebook 00 (listening) is read
first but, without shipped weights, has models only once notebook 02 has trained
them, so it runs after 02.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from vrashlib import paths
from vrashlib.files import FIGURE_FORMATS, TABLE_FORMATS


@dataclass(frozen=True)
class Output:
    """One figure or table a notebook writes into the profile's figures folder."""

    name: str  # the stem, e.g. "fig4_cross_entropy"
    formats: tuple[str, ...]  # file extensions, e.g. ("png", "pdf")

    @property
    def files(self) -> tuple[str, ...]:
        return tuple(f"{self.name}.{ext}" for ext in self.formats)


def figure(name: str) -> Output:
    return Output(name, FIGURE_FORMATS)


def table(name: str, formats: tuple[str, ...] = TABLE_FORMATS) -> Output:
    return Output(name, formats)


@dataclass(frozen=True)
class Notebook:
    stem: str  # file name without .py, e.g. "01_data"
    artifact: str  # the paper artifact it rebuilds
    outputs: tuple[Output, ...]  # what it writes into the profile's figures folder (maybe none)
    after: str = ""  # run it right after this notebook (it needs that one's results)

    @property
    def source(self) -> Path:
        return paths.NOTEBOOKS / f"{self.stem}.py"

    @property
    def files(self) -> tuple[str, ...]:
        """The file names of every output."""
        return tuple(f for o in self.outputs for f in o.files)


# The output registry: every figure and table of every notebook. The notebook smoke
# test checks that each is written, and that each savefig/save_table into the figures
# folder is registered here; the README's notebook table is rendered from it.
NOTEBOOKS: tuple[Notebook, ...] = (
    Notebook(
        "00_listen",
        "Listening first: melodies by model, style, temperature and seed; latent walks",
        (),  # plays and draws; writes no figure or table
        after="02_training",  # the run's models, where no weights are shipped
    ),
    Notebook(
        "01_data",
        "Section 2: ingest funnel, normalisation, distributions",
        (figure("fig_data_overview"), table("table_dataset")),
    ),
    Notebook(
        "02_training",
        "Fig. 4: cross-entropy of LM, VAE, VRASH vs a random network; what z carries",
        (
            table("table_fig4_cross_entropy"),
            figure("fig4_cross_entropy"),
            table("table_latent_diagnostics"),
            figure("fig_latent_diagnostics"),
            figure("fig_latent_interpolation"),
            table("table_vrash_ablation"),
        ),
    ),
    Notebook(
        "03_listening",
        "Section 4: generated melodies, repeated notes, distributions, realism",
        (
            figure("fig_generated_examples"),
            table("table_generated_stats"),
            figure("fig_generated_distributions"),
            table("table_melody_realism"),
        ),
    ),
    Notebook(
        "04_filter",
        "Table 1: post-generation filter, classifier comparison",
        (
            table("table_filter_ratings"),
            figure("fig_filter_features"),
            table("table1_filter", ("csv", "md", "tex")),
            figure("fig_filter_table1"),
            figure("fig_filter_pr_curves"),
            table("table_filter_heuristics"),
            table("table_filter_acceptance"),
            figure("fig_filter_acceptance"),
        ),
    ),
    Notebook(
        "05_mutual_information",
        "Fig. 6: mutual information vs distance",
        (
            figure("fig6_mutual_information"),
            table("table_fig6_fits"),
            table("table_fig6_observations"),
        ),
    ),
    Notebook(
        "06_stream",
        "Fig. 5: pseudo-real-time filtered stream",
        (table("table_stream"), figure("fig5_stream")),
    ),
    Notebook(
        "07_claims",
        "Every claim of the paper with its 95 % interval and verdict: the claims ledger",
        (
            table("table_repeats"),
            table("table_models_seeds"),
            table("table_similarity"),
            table("table_claims_measurements", ("csv",)),
            table("table_claims"),
            figure("fig_claims"),
        ),
    ),
)


def notebooks_markdown() -> str:
    """The README's table of notebooks, rendered from the registry."""
    lines = [
        "| notebook | rebuilds | writes (into `figures/` for the paper profile) |",
        "| --- | --- | --- |",
    ]
    for nb in NOTEBOOKS:
        writes = ", ".join(
            f"`{o.name}.{o.formats[0]}" + "".join(f"/.{f}" for f in o.formats[1:]) + "`"
            for o in nb.outputs
        )
        writes = writes or "nothing: it plays and draws"
        lines.append(f"| `{nb.stem}.py` | {nb.artifact} | {writes} |")
    return "\n".join(lines) + "\n"


def available_notebooks() -> list[Notebook]:
    """The registered notebooks whose source exists, in reading order."""
    return [nb for nb in NOTEBOOKS if nb.source.exists()]


def execution_order(notebooks: list[Notebook]) -> list[Notebook]:
    """``notebooks`` in the order :func:`reproduce` runs them: reading order, except that
    a notebook with ``after`` runs right after that notebook when it is among them."""
    stems = {nb.stem for nb in notebooks}
    order = [nb for nb in notebooks if nb.after not in stems]
    for nb in notebooks:
        if nb.after in stems:
            anchor = next(k for k, other in enumerate(order) if other.stem == nb.after)
            order.insert(anchor + 1, nb)
    return order


def expected_outputs(profile: str, notebooks: list[Notebook] | None = None) -> list[Path]:
    out = paths.figures_dir(profile)
    return [out / name for nb in (notebooks or available_notebooks()) for name in nb.files]


def execute_notebook(
    nb: Notebook, profile: str, seed: int = 0, overrides: dict | None = None
) -> Path:
    """Convert one notebook source and execute it with papermill; return the executed copy."""
    import os

    import jupytext
    import papermill
    from traitlets.config import Config

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
        # On a busy 2-core machine a cell's last output can reach the client seconds after
        # its reply (nbclient's default wait, 4 s, failed a 70-minute training cell)
        iopub_timeout=120,
        # The kernel talks over IPC sockets, not localhost TCP: no open ports, and no
        # "[IPKernelApp] WARNING | Kernel is running over TCP without encryption" line.
        config=Config({"KernelManager": {"transport": "ipc"}}) if os.name == "posix" else None,
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
    notebooks = execution_order(notebooks)
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
