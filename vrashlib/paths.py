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
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(os.environ.get("VRASH_ROOT", Path(__file__).resolve().parent.parent))
NOTEBOOKS = ROOT / "notebooks"
FIGURES = ROOT / "figures"
BUILD = Path(os.environ.get("VRASH_BUILD", ROOT / "build"))
WEIGHTS = ROOT / "weights"  # shipped trained models (once they exist)
PAPER_PROFILE = "paper"

# Inside one model's folder (``RunLayout.model_dir``; ``train_model`` can write anywhere).
MODEL_FILE = "model.ckpt"  # the trained model: best validation weights + history
RESUME_FILE = "last.ckpt"  # the resume point of an interrupted training run
RESUME_PREVIOUS_FILE = "previous.ckpt"  # the resume point before it (if last.ckpt is damaged)
HISTORY_FILE = "history.csv"  # the training history (bits/event), Fig. 4's curves
CORRUPT_SUFFIX = ".corrupt"  # a damaged checkpoint is renamed to <name>.corrupt and kept

# Shipped trained models: WEIGHTS/<profile>/seed<N>/<kind>/ holds these two files
# (vrashlib.models.weights; ``vrash export-weights`` writes them).
SHIPPED_WEIGHTS_FILE = "model.safetensors"
SHIPPED_MANIFEST_FILE = "manifest.json"


def shipped_dir(profile: str, seed: int, kind: str, root: Path | None = None) -> Path:
    """The folder of the shipped model ``kind`` of ``profile`` trained with ``seed``."""
    return (WEIGHTS if root is None else Path(root)) / profile / f"seed{seed}" / kind


def shipped_ablation(profile: str, seed: int, root: Path | None = None) -> Path:
    """The shipped measurements of the VRASH ablation (``RunLayout.ablation_results`` of
    the run that made the shipped weights): 13 small models are too large to ship."""
    return (WEIGHTS if root is None else Path(root)) / profile / f"seed{seed}" / "ablation.csv"


@dataclass(frozen=True)
class RunLayout:
    """Where each result of one run lives: the only place that names them.

    The notebooks hand results on through these files, never through kernel state;
    ``vrash`` commands read the same ones.
    """

    root: Path

    @property
    def dataset(self) -> Path:
        """The prepared dataset folder (notebook 01, ``vrash prepare``)."""
        return self.root / "dataset"

    def model_dir(self, kind: str) -> Path:
        """One model's folder: checkpoint, resume point, history (notebook 02)."""
        return self.root / "models" / kind

    def checkpoint(self, kind: str) -> Path:
        """The trained model of ``kind``."""
        return self.model_dir(kind) / MODEL_FILE

    @property
    def ablation_dir(self) -> Path:
        """The VRASH remedy ablation (``vrash ablation``, notebook 02): one model
        folder per variant (``ablation_dir / name``) and the results so far."""
        return self.root / "ablation"

    @property
    def ablation_results(self) -> Path:
        """One row per finished ablation variant (what a resumed ablation skips)."""
        return self.ablation_dir / "results.csv"

    @property
    def generated_dir(self) -> Path:
        return self.root / "generated"

    def generated(self, kind: str) -> Path:
        """The generated set of one model, all styles (notebook 03)."""
        return self.generated_dir / f"{kind}.npz"

    @property
    def generated_midi(self) -> Path:
        """Example MIDI files of the generated sets (notebook 03)."""
        return self.generated_dir / "midi"

    @property
    def filter_dir(self) -> Path:
        return self.root / "filter"

    @property
    def filter(self) -> Path:
        """The fitted stream filter (notebook 04)."""
        return self.filter_dir / "filter.json"

    @property
    def ratings(self) -> Path:
        """The ratings Table 1 is built from (notebook 04)."""
        return self.filter_dir / "ratings.csv"

    @property
    def my_ratings(self) -> Path:
        """Ratings given by hand in notebook 04's rating panel."""
        return self.filter_dir / "my_ratings.csv"

    @property
    def mi_dir(self) -> Path:
        """Mutual-information curves in long form (notebook 05)."""
        return self.root / "mi"

    @property
    def claims_dir(self) -> Path:
        """Measurements behind the claims ledger, one JSON per notebook (notebooks 04-07)."""
        return self.root / "claims"

    @property
    def stream(self) -> Path:
        """The stream's output folder (notebook 06, ``vrash stream`` default)."""
        return self.root / "stream"

    def model_path(self, model: str) -> Path:
        """A model kind (``lm``/``vae``/``vrash``) of this run, or a checkpoint path."""
        from vrashlib.models import KINDS

        return self.checkpoint(model) if model in KINDS else Path(model).expanduser()


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


def run_layout(profile: str) -> RunLayout:
    """The layout of the current run of ``profile`` (or of the named run)."""
    return RunLayout(run_dir(profile))


def run_for_dataset(dataset: str | Path) -> RunLayout:
    """The run folder of a dataset prepared on its own (``vrash prepare --out X``).

    A run's own dataset folder belongs to that run; any other dataset folder ``X``
    gets ``build/runs/<X's folder name>``, where ``vrash train/generate/stream
    --dataset X`` keep its models and results.
    """
    folder = Path(dataset).expanduser().resolve()
    if RunLayout(folder.parent).dataset == folder:
        return RunLayout(folder.parent)
    return RunLayout(BUILD / "runs" / folder.name)


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
