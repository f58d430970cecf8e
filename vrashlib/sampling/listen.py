"""Listening at once: a trained model without training, melodies on demand, latent walks.

Notebook 00 and ``vrash interpolate`` start here. :func:`load_listening_model` finds
a model in this order:

1. the shipped weights (``weights/<profile>/seed<N>/<kind>/``, safetensors + JSON,
   :func:`vrashlib.models.weights.load_shipped`), committed with the repository;
2. the run folder's trained checkpoint (``run.checkpoint(kind)``, notebook 02 or
   ``vrash train``);
3. else it raises :class:`NoModelError`, which says how to get one.

Real melodies to start or end a walk come from the run's dataset when it is there,
else from the validation tracks a shipped model's manifest keeps for its probe.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from vrashlib import paths
from vrashlib.data.tracks import TrackSet

logger = logging.getLogger(__name__)


class NoModelError(FileNotFoundError):
    """No shipped weights and no trained checkpoint for a model kind."""


def model_sources(kind: str, profile: str = "paper", seed: int = 0) -> list[Path]:
    """Where :func:`load_listening_model` looks, in order: the shipped folder, the checkpoint."""
    return [paths.shipped_dir(profile, seed, kind), paths.run_layout(profile).checkpoint(kind)]


def load_listening_model(kind: str, profile: str = "paper", seed: int = 0):
    """A trained ``kind`` model (``lm``/``vae``/``vrash``) in eval mode: shipped weights
    if present, else the run folder's checkpoint, else :class:`NoModelError`."""
    from vrashlib.models import KINDS

    if kind not in KINDS:
        raise ValueError(f"unknown model kind {kind!r}; choose one of {list(KINDS)}")
    shipped, checkpoint = model_sources(kind, profile, seed)
    if (shipped / paths.SHIPPED_MANIFEST_FILE).exists():
        from vrashlib.models.weights import load_shipped

        model, _ = load_shipped(shipped)
        logger.info("%s: shipped weights from %s", kind, shipped)
        return model.eval()
    if checkpoint.exists():
        from vrashlib.models.module import load_model

        logger.info("%s: trained checkpoint %s", kind, checkpoint)
        return load_model(checkpoint).eval()
    raise NoModelError(
        f"no {kind} model of the {profile!r} profile: neither shipped weights in {shipped} "
        f"nor a trained checkpoint at {checkpoint}. Train it with notebook 02 "
        f"(`vrash reproduce --profile {profile} --only 01 02`) or `vrash train --model {kind} "
        f"--profile {profile}` (after `vrash prepare --profile {profile}`)."
    )


def load_listening_models(profile: str = "paper", seed: int = 0) -> dict:
    """Every model kind that :func:`load_listening_model` finds (at least one, else it raises)."""
    from vrashlib.models import KINDS

    models, missing = {}, []
    for kind in KINDS:
        try:
            models[kind] = load_listening_model(kind, profile, seed)
        except NoModelError as err:
            missing.append(err)
    if not models:
        raise missing[-1]
    for err in missing:
        logger.warning("%s", err)
    return models


def melody(model, style: str, *, seed: int = 0, temperature: float = 1.0, max_len: int = 256):
    """One melody of ``style`` (a one-track TrackSet); the same seed gives the same melody."""
    from vrashlib.sampling.generate import sample

    return sample(model, 1, style, max_len=max_len, temperature=temperature, seed=seed)


def real_melodies(run: paths.RunLayout, profile: str = "paper", seed: int = 0) -> TrackSet | None:
    """Real melodies to walk from or to: the run dataset's test split, or the probe tracks
    of a shipped model's manifest; ``None`` when there are neither."""
    if (run.dataset / "tracks.npz").exists():
        from vrashlib.data.prepare import load_prepared

        return load_prepared(run.dataset).tracks.select(split="test")
    from vrashlib.models import KINDS
    from vrashlib.models.weights import probe_tracks, read_manifest

    for kind in KINDS:
        folder = paths.shipped_dir(profile, seed, kind)
        if (folder / paths.SHIPPED_MANIFEST_FILE).exists():
            return probe_tracks(read_manifest(folder)["probe"])
    return None


def endpoint(model, spec: int | str, style: str, real: TrackSet | None = None) -> np.ndarray:
    """The latent code of one end of a walk: an ``int`` is a seed (the code
    :func:`melody` with that seed draws), a ``str`` the id of a real track in ``real``
    (its posterior mean, :func:`vrashlib.sampling.generate.encode`)."""
    from vrashlib.sampling.generate import encode

    if not model.net.latent:
        raise ValueError(f"a {model.kind} model has no latent space to walk in; use vae or vrash")
    if isinstance(spec, int | np.integer):
        return np.random.default_rng(int(spec)).standard_normal(model.net.z_dim).astype(np.float32)
    if real is None or str(spec) not in set(real.ids):
        raise KeyError(f"no real track {spec!r} to start or end the walk from")
    if style not in model.styles:
        raise KeyError(
            f"style {style!r} unknown to this {model.kind} model; it knows {model.styles}"
        )
    i = int(np.flatnonzero(real.ids == str(spec))[0])
    track = TrackSet.from_tracks(
        [real[i]], model.styles, [model.styles.index(style)],  # the encoder reads the style
        unit_seconds=real.unit_seconds[i : i + 1], ids=[str(spec)],
    )  # fmt: skip
    return encode(model, track)[0]


def walk(
    model,
    start: int | str,
    end: int | str,
    style: str,
    *,
    steps: int = 7,
    real: TrackSet | None = None,
    temperature: float = 1.0,
    seed: int = 0,
    max_len: int = 256,
) -> TrackSet:
    """``steps`` melodies on the straight line between two latent codes (ends included),
    all with the same sampling noise so that only the code changes (see :func:`endpoint`)."""
    from vrashlib.sampling.generate import interpolate

    if steps < 2:
        raise ValueError(f"a walk needs at least 2 steps, got {steps}")
    z0, z1 = endpoint(model, start, style, real), endpoint(model, end, style, real)
    return interpolate(
        model, z0, z1, steps, style, max_len=max_len, temperature=temperature, seed=seed
    )


def write_walk(tracks: TrackSet, out_dir: str | Path) -> list[Path]:
    """Each melody of a walk as ``step_00.mid`` / ``step_00.wav``, ... (MIDI and WAV)."""
    from vrashlib.sampling.audio import synthesize, write_midi, write_wav

    out_dir = Path(out_dir)
    written = []
    for k in range(len(tracks)):
        unit = float(tracks.unit_seconds[k])
        written.append(write_midi(tracks[k], unit, out_dir / f"step_{k:02d}.mid"))
        written.append(write_wav(synthesize(tracks[k], unit), out_dir / f"step_{k:02d}.wav"))
    return written
