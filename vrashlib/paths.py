"""Every path the project uses, derived from the repository root.

The root is found from this file (an editable install keeps it in the
checkout); ``VRASH_ROOT`` overrides it, and ``VRASH_BUILD`` moves the build
folder (caches, runs, executed notebooks) elsewhere, e.g. to a bigger disk.

Profiles: the ``paper`` profile writes its figures and tables to the committed
``figures/`` folder; every other profile writes them under
``build/figures/<profile>/`` so that a smoke run never overwrites them, and a
named run (``VRASH_RUN``) under ``build/figures/<name>/``.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(os.environ.get("VRASH_ROOT", Path(__file__).resolve().parent.parent))
NOTEBOOKS = ROOT / "notebooks"
FIGURES = ROOT / "figures"
BUILD = Path(os.environ.get("VRASH_BUILD", ROOT / "build"))
CACHE = BUILD / "cache"
PAPER_PROFILE = "paper"


# A named run (``vrash reproduce --name NAME``, e.g. on your own MIDI folder) keeps its
# run folder and figures under that name, apart from the profile's.
def run_name() -> str:
    """The current named run (environment variable ``VRASH_RUN``), or ``""``."""
    return os.environ.get("VRASH_RUN", "")


def figures_dir(profile: str) -> Path:
    """Where a profile's figures and tables go (created on demand)."""
    if run_name():
        path = BUILD / "figures" / run_name()
    else:
        path = FIGURES if profile == PAPER_PROFILE else BUILD / "figures" / profile
    path.mkdir(parents=True, exist_ok=True)
    return path


def run_dir(profile: str) -> Path:
    """The run folder through which the notebooks of one profile hand results on."""
    path = BUILD / "runs" / (run_name() or profile)
    path.mkdir(parents=True, exist_ok=True)
    return path


def executed_notebooks_dir(profile: str) -> Path:
    """Where papermill writes the executed copies of the notebooks."""
    path = BUILD / "notebooks" / (run_name() or profile)
    path.mkdir(parents=True, exist_ok=True)
    return path


def music21_corpus_dir() -> Path:
    """The corpus folder that ships inside the installed music21 package."""
    import music21

    return Path(music21.__file__).resolve().parent / "corpus"


def music21_midi_examples() -> list[Path]:
    """The real MIDI files that ship with music21 (used by tests and benchmarks)."""
    import music21

    folder = Path(music21.__file__).resolve().parent / "midi" / "testPrimitive"
    return sorted(folder.glob("*.mid"))
