"""The one call that opens every notebook: config, run folder, figures folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vrashlib import paths
from vrashlib.config import Config, load_config


def setup(
    profile: str, overrides: dict[str, Any] | None = None, seed: int = 0
) -> tuple[Config, paths.RunLayout, Path]:
    """Return ``(cfg, run, out)`` for a notebook's parameters.

    ``cfg`` is the profile with the overrides and seed applied (unknown keys
    raise), ``run`` the layout of the folder through which the notebooks hand
    results on (:class:`vrashlib.paths.RunLayout`),
    ``out`` where this profile's figures and tables go (``figures/`` for the paper
    profile, ``build/figures/<profile>/`` otherwise). Also sets a headless-safe,
    consistent plotting style (the backend is left as it is).
    """
    import matplotlib

    matplotlib.rcParams.update(
        {"figure.dpi": 100, "axes.spines.top": False, "axes.spines.right": False}
    )
    cfg = load_config(profile, overrides, seed=seed)
    run = paths.run_layout(profile)
    print(f"profile {profile!r}, seed {seed}; run folder {run.root}")
    return cfg, run, paths.figures_dir(profile)
