"""Shipped trained models: safetensors weights and a JSON manifest; nothing executes on load.

A clean clone rebuilds the figures from the models committed under ``weights/``
instead of training them for the better part of an hour. One model lives in
:func:`vrashlib.paths.shipped_dir` (``weights/<profile>/seed<N>/<kind>/``)::

    model.safetensors   the network's tensors (float32)
    manifest.json       what they are and how they were made

The manifest records the ``fingerprint`` that
:func:`vrashlib.models.training.train_model` compares before using the weights
(the model settings the kind reads, the training settings, the dataset's
content hash and ``TRAINING_REVISION``) and its parts, the seed, the git
commit, the module's hyper-parameters, the SHA-256 of the weights file, why
and when training stopped, the training history (Fig. 4's curves), the
metrics on the validation split, and a *probe*: a few validation
tracks (cropped) stored in the manifest itself with the model's bits/event on
them, which a test recomputes in well under a second.

``vrash export-weights`` writes these folders from a run's trained models; a
damaged weights file (truncated, altered) is refused with
:class:`~vrashlib.models.module.CorruptCheckpointError` naming it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import safetensors.torch
import torch

from vrashlib import paths
from vrashlib.config import OFF_UNLESS_SET, Config, TrainConfig
from vrashlib.data.tracks import TrackSet
from vrashlib.files import atomic_directory
from vrashlib.models import KINDS
from vrashlib.models.evaluation import evaluate
from vrashlib.models.module import (
    STOP_MAX_MINUTES,
    CorruptCheckpointError,
    MelodyModule,
    module_from_payload,
    read_checkpoint,
)
from vrashlib.models.network import count_parameters

logger = logging.getLogger(__name__)

WEIGHTS_FORMAT = "vrash-weights/1"
PROBE_TRACKS = 4  # validation tracks in the manifest's probe
PROBE_EVENTS = 64  # events per probe track (a prefix): the probe runs in milliseconds
PROBE_SEED = 0  # the seed of the probe's posterior noise (``evaluate``)


def git_commit(root: Path = paths.ROOT) -> str | None:
    """The checkout's commit (``+dirty`` when it has uncommitted changes), or None."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10
        )
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root, capture_output=True, text=True, timeout=10,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    if head.returncode != 0:
        return None
    return head.stdout.strip() + ("+dirty" if status.stdout.strip() else "")


# ---------------------------------------------------------------- probe
def probe_set(val: TrackSet) -> dict[str, Any]:
    """The first :data:`PROBE_TRACKS` validation tracks, cut to :data:`PROBE_EVENTS`
    events, as JSON-ready lists (the manifest's ``probe``, without its value)."""
    n = min(PROBE_TRACKS, len(val))
    return {
        "ids": [str(val.ids[i]) for i in range(n)],
        "styles": [str(s) for s in val.style_names()[:n]],
        "events": [val[i][:PROBE_EVENTS].astype(int).tolist() for i in range(n)],
        "seed": PROBE_SEED,
    }


def probe_tracks(probe: dict[str, Any]) -> TrackSet:
    """The probe's tracks (from a manifest) as a TrackSet."""
    styles = sorted(set(probe["styles"]))
    return TrackSet.from_tracks(
        [np.asarray(ev, dtype=np.int16) for ev in probe["events"]],
        styles,
        [styles.index(s) for s in probe["styles"]],
        ids=list(probe["ids"]),
    )


def probe_bits(model: MelodyModule, probe: dict[str, Any]) -> float:
    """The model's bound (bits/event) on the probe's tracks."""
    return float(evaluate(model, probe_tracks(probe), seed=probe["seed"])["bound_total"])


# ---------------------------------------------------------------- write
def export_model(
    checkpoint: str | Path,
    dest: str | Path,
    *,
    val: TrackSet,
    cfg: Config,
    dataset_hash: str,
    revision: int,
) -> Path:
    """Write the trained ``model.ckpt`` at ``checkpoint`` as a shipped model folder ``dest``.

    ``val`` is the validation split it was trained beside (metrics, probe);
    ``dataset_hash`` the prepared dataset's content hash, ``revision`` the
    training code's ``TRAINING_REVISION``. The folder is replaced as a whole.
    """
    payload = read_checkpoint(checkpoint)
    module = module_from_payload(payload)
    state = {k: v.detach().cpu().contiguous().clone() for k, v in module.net.state_dict().items()}
    metrics = evaluate(module, val, cfg.generate.batch_size)
    probe = probe_set(val)
    probe["bound_total"] = probe_bits(module, probe)
    history = list(payload.get("history", []))
    hp = dict(payload["hparams"])
    manifest = {
        "format": WEIGHTS_FORMAT,
        "kind": hp["kind"],
        "profile": cfg.profile,
        "seed": cfg.train.seed,
        "fingerprint": hp["fingerprint"],
        "dataset_hash": dataset_hash,
        "training_revision": revision,
        "git_commit": git_commit(),
        "hparams": hp,
        "params": count_parameters(module.net),
        "dtype": "float32",
        "weights_sha256": "",  # filled in below, from the file's bytes
        "stop_reason": str(payload.get("stop_reason", "")),
        "steps": int(history[-1]["step"]) if history else 0,
        "train_seconds": float(payload.get("train_seconds", 0.0)),
        "val_seconds": float(payload.get("val_seconds", 0.0)),
        "best_val_bits": float(payload.get("best_val_bits", float("nan"))),
        "metrics": {"split": "val", "batch_size": cfg.generate.batch_size, **metrics},
        "probe": probe,
        "history": history,
    }
    dest = Path(dest)
    data = safetensors.torch.save(state, metadata={"format": WEIGHTS_FORMAT})
    manifest["weights_sha256"] = hashlib.sha256(data).hexdigest()
    with atomic_directory(dest) as tmp:  # (save_file would make an owner-only file)
        (tmp / paths.SHIPPED_WEIGHTS_FILE).write_bytes(data)
        text = json.dumps(manifest, indent=1)  # insertion order: history columns as trained
        (tmp / paths.SHIPPED_MANIFEST_FILE).write_text(text + "\n", encoding="utf-8")
    logger.info("%s: shipped weights written to %s", hp["kind"], dest)
    return dest


# ----------------------------------------------------------------- read
def read_manifest(folder: str | Path) -> dict[str, Any]:
    """A shipped model's manifest; ``FileNotFoundError`` / ``ValueError`` naming the file."""
    path = Path(folder) / paths.SHIPPED_MANIFEST_FILE
    if not path.exists():
        raise FileNotFoundError(f"no shipped model manifest at {path}")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CorruptCheckpointError(path, f"not valid JSON: {err}") from err
    if not isinstance(manifest, dict) or manifest.get("format") != WEIGHTS_FORMAT:
        raise ValueError(f"{path} is not a {WEIGHTS_FORMAT} manifest")
    return manifest


def load_shipped(folder: str | Path) -> tuple[MelodyModule, dict[str, Any]]:
    """The shipped model in eval mode (with its history) and its manifest.

    The weights file must match the manifest's SHA-256; it is read with
    safetensors (tensors only) and never unpickled.
    """
    folder = Path(folder)
    manifest = read_manifest(folder)
    path = folder / paths.SHIPPED_WEIGHTS_FILE
    if not path.exists():
        raise FileNotFoundError(f"no shipped weights at {path} (its manifest is there)")
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != manifest["weights_sha256"]:
        raise CorruptCheckpointError(path, "its SHA-256 does not match manifest.json")
    try:
        state = safetensors.torch.load(data)
    except Exception as err:  # noqa: BLE001 - safetensors' errors do not name the file
        raise CorruptCheckpointError(path, str(err)) from err
    payload = {
        "hparams": manifest["hparams"],
        "state_dict": {k: v.to(torch.float32) for k, v in state.items()},
        "history": manifest["history"],
        "train_seconds": manifest["train_seconds"],
        "val_seconds": manifest["val_seconds"],
        "stop_reason": manifest["stop_reason"],
    }
    return module_from_payload(payload), manifest


def find_shipped(
    kind: str,
    cfg: Config,
    fingerprint: str,
    root: Path | None = None,
    *,
    dataset_hash: str | None = None,
    revision: int | None = None,
) -> Path | None:
    """The shipped model folder of ``kind`` for ``cfg`` (profile, seed) whose manifest
    has ``fingerprint``, or None. Shipped weights that do not match are named in a
    warning that says what differs (``dataset_hash``, ``revision``: the current ones)."""
    folder = paths.shipped_dir(cfg.profile, cfg.train.seed, kind, root)
    if not (folder / paths.SHIPPED_MANIFEST_FILE).exists():
        return None
    try:
        manifest = read_manifest(folder)
    except ValueError as err:
        logger.warning("%s: shipped weights not used: %s", kind, err)
        return None
    if manifest.get("fingerprint") != fingerprint:
        logger.warning(
            "%s: shipped weights at %s not used, they were trained with %s; training instead",
            kind, folder, _difference(manifest, cfg, dataset_hash, revision),
        )  # fmt: skip
        return None
    if stopped_by_another_cap(manifest.get("hparams", {}), manifest.get("stop_reason"), cfg):
        logger.warning(
            "%s: shipped weights at %s not used, train.max_minutes=%s cut them short (here %s);"
            " training instead", kind, folder,
            manifest["hparams"]["train_cfg"]["max_minutes"], cfg.train.max_minutes,
        )  # fmt: skip
        return None
    return folder


def stopped_by_another_cap(hparams: dict, stop_reason: str | None, cfg: Config) -> bool:
    """Whether a model that the wall-clock cap ``train.max_minutes`` stopped was trained
    under another cap than ``cfg``'s. The cap is not in the fingerprint (it says when
    to give up on a slow machine, not what is learnt), but a model it cut short is the
    model of that cap only: under another one it is trained again."""
    cap = hparams.get("train_cfg", {}).get("max_minutes")
    return stop_reason == STOP_MAX_MINUTES and cap != cfg.train.max_minutes


def _replace_known(section: Any, values: dict[str, Any]) -> Any:
    """``section`` with the values of the settings it has (a config dataclass)."""
    names = {f.name for f in dataclasses.fields(section)}
    return dataclasses.replace(section, **{k: v for k, v in values.items() if k in names})


def _difference(manifest: dict, cfg: Config, dataset_hash: str | None, revision: int | None) -> str:
    """What makes a manifest's fingerprint differ from the current one, in words."""
    if dataset_hash is not None and manifest.get("dataset_hash") != dataset_hash:
        return (
            f"another dataset (content hash {str(manifest.get('dataset_hash'))[:12]}, here "
            f"{dataset_hash[:12]}: other data settings, corpus or music21 version?)"
        )
    if revision is not None and manifest.get("training_revision") != revision:
        return f"training code revision {manifest.get('training_revision')} (here {revision})"
    hp = manifest.get("hparams", {})
    kind = str(manifest.get("kind", ""))
    # what it was trained with: a setting its manifest lacks did not exist then (a model
    # setting added since is off: OFF_UNLESS_SET), and before lr_schedule existed every
    # model trained with a constant learning rate
    model_then = _replace_known(cfg.model, {**OFF_UNLESS_SET, **hp.get("model_cfg", {})})
    train_then = _replace_known(cfg.train, {"lr_schedule": "constant", **hp.get("train_cfg", {})})

    model_hashed = (lambda m: m.weight_settings(kind)) if kind in KINDS else dataclasses.asdict
    sections = (  # each with what the fingerprint hashes of it
        ("model", model_then, cfg.model, model_hashed),
        ("train", train_then, cfg.train, TrainConfig.weight_settings),
    )
    changed = []
    for name, then, now, hashed in sections:
        old, new = hashed(then), hashed(now)
        for key in dict.fromkeys([*old, *new]):  # (one not hashed on one side: as set)
            was, here = old.get(key, getattr(then, key)), new.get(key, getattr(now, key))
            if was != here:
                changed.append(f"{name}.{key}={was!r} (here {here!r})")
    return "other settings: " + ", ".join(changed) if changed else "another config"
