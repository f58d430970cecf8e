"""The one call that opens every notebook: config, run folder, figures folder."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

from vrashlib import paths
from vrashlib.config import Config, load_config

logger = logging.getLogger(__name__)


class _CellOutput(logging.StreamHandler):
    """Plain ``%(message)s`` lines on whatever ``sys.stdout`` is when a message is
    logged: the running cell's output in a notebook."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)
        self.setFormatter(logging.Formatter("%(message)s"))

    @property
    def stream(self):
        return sys.stdout

    @stream.setter
    def stream(self, value) -> None:  # StreamHandler sets it; sys.stdout is read per message
        pass


def show_logging(level: int = logging.INFO) -> None:
    """Show the ``vrashlib`` loggers' messages from ``level`` up in the notebook
    (progress and results). Idempotent: the handler is added once."""
    log = logging.getLogger("vrashlib")
    if not any(isinstance(h, _CellOutput) for h in log.handlers):
        log.addHandler(_CellOutput())
    log.setLevel(level)


def check_overrides(profile: str, overrides: dict[str, Any] | None) -> None:
    """Refuse ``overrides`` that would write changed results into the committed ``figures/``
    (the paper profile, not a named run): the notebooks' form of the CLI's guard."""
    if not overrides or paths.figures_dir(profile) != paths.FIGURES:
        return
    keys = ", ".join(sorted(overrides))
    raise ValueError(
        f"OVERRIDES ({keys}) change the results of the {profile!r} profile, whose figures and "
        f"tables are the committed {paths.FIGURES}. Name the run so that they go to "
        "build/runs/NAME and build/figures/NAME instead: `vrash reproduce --profile "
        f"{profile} --name NAME --set KEY=VALUE ...` runs every notebook that way, and "
        "`VRASH_RUN=NAME make lab` (or `VRASH_RUN=NAME jupyter lab`) does it in JupyterLab. "
        "Or try the change on the small profile: PROFILE = 'smoke'."
    )


def setup(
    profile: str, overrides: dict[str, Any] | None = None, seed: int = 0
) -> tuple[Config, paths.RunLayout, Path]:
    """Return ``(cfg, run, out)`` for a notebook's parameters.

    ``cfg`` is the profile with the overrides and seed applied (unknown keys
    raise), ``run`` the layout of the folder through which the notebooks hand
    results on (:class:`vrashlib.paths.RunLayout`),
    ``out`` where this profile's figures and tables go (``figures/`` for the paper
    profile, ``build/figures/<profile>/`` otherwise). Also sets a headless-safe,
    consistent plotting style (the backend is left as it is), and shows the
    library's INFO messages in the notebook (:func:`show_logging`).

    ``overrides`` on the paper profile need a named run (``VRASH_RUN``), as
    ``vrash reproduce --set`` needs ``--name``: otherwise they would change the
    committed ``figures/``; :func:`check_overrides` raises.
    """
    import matplotlib

    check_overrides(profile, overrides)
    show_logging()

    matplotlib.rcParams.update(
        {"figure.dpi": 100, "axes.spines.top": False, "axes.spines.right": False}
    )
    cfg = load_config(profile, overrides, seed=seed)
    run = paths.run_layout(profile)
    logger.info("profile %r, seed %s; run folder %s", profile, seed, run.root)
    return cfg, run, paths.figures_dir(profile)
