"""Train a model with Lightning (``vrash train`` is in :mod:`vrashlib.cli`).

``train_model`` trains until the validation bound stops improving (early
stopping with ``train.patience``, ``train.max_steps`` as a safety net, see
:mod:`vrashlib.models.module`) and is:

- idempotent: it returns the stored result at once when ``out_dir/model.ckpt``
  was already trained with the same config and data (the fingerprint), and
  otherwise uses the shipped weights of ``weights/`` whose manifest has the
  same fingerprint (:mod:`vrashlib.models.weights`), before it trains;
- resumable: after an interruption (Ctrl-C, kill -9, a crash) it resumes from
  the resume point written at every validation (``last.ckpt``, with the one
  before kept as ``previous.ckpt``) and ends with the weights and history the
  uninterrupted run would have had, bit for bit;
- safe with damaged files: a truncated, empty or altered resume point or
  ``model.ckpt`` is named in a warning, renamed to ``<name>.corrupt``, and
  training falls back to the previous resume point, or to the start.

``force=True`` (``vrash train --force``), or the environment variable
``VRASH_RETRAIN=1`` (``make figures RETRAIN=1``), trains from scratch even when
a finished model or matching shipped weights exist (an unfinished run of the
same config still resumes). New weights go to the run folder only; ``vrash
export-weights`` copies them into ``weights/`` (:func:`export_weights`).

The Trainer's accelerator / devices / strategy / num_nodes come from the config
unchanged, so the same call trains with DDP on a GPU cluster.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import signal
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Timer

from vrashlib import paths
from vrashlib.config import Config
from vrashlib.data.datamodule import MelodyDataModule
from vrashlib.data.tracks import TrackSet
from vrashlib.files import atomic_write_text
from vrashlib.models import weights
from vrashlib.models.evaluation import (  # noqa: F401 - re-exported, imported from here
    align_styles,
    cross_entropy_table,
    evaluate,
)
from vrashlib.models.module import (
    STOP_MAX_EPOCHS,
    STOP_MAX_MINUTES,
    STOP_MAX_STEPS,
    AtomicCheckpointIO,
    CorruptCheckpointError,
    MelodyModule,
    read_checkpoint,
    save_model,
    set_aside,
)
from vrashlib.models.network import build_net, check_kind, count_parameters
from vrashlib.threads import torch_threads

logger = logging.getLogger(__name__)

RETRAIN_ENV = "VRASH_RETRAIN"  # "1": train from scratch (``make figures RETRAIN=1``)

# Bump when a change to the models or the training code changes the trained
# weights, so that cached checkpoints and shipped weights are retrained.
# 2: the RHN's hand-written backward pass (same forward, gradients rounded differently).
# 3: random numbers seeded per step, batches resumed mid-epoch, early stopping.
TRAINING_REVISION = 3


@dataclass
class TrainResult:
    """What ``train_model`` produced: checkpoint path, history (bits/event), size, time."""

    kind: str
    checkpoint: Path
    history: pd.DataFrame
    params: int
    seconds: float  # training wall-clock, summed over resumed runs
    cached: bool = False  # True: nothing trained (an up-to-date model.ckpt, or shipped weights)
    stop_reason: str = ""  # patience | max_steps | max_minutes | max_epochs (module.STOP_*)
    source: str = "trained"  # trained | cached (model.ckpt) | shipped (weights/)


def fingerprint(kind: str, tracks: TrackSet, cfg: Config) -> str:
    """Hash of what determines the trained weights: the model settings the kind reads
    (``ModelConfig.weight_settings``), the training settings that change them
    (``TrainConfig.weight_settings``), the dataset's content and ``TRAINING_REVISION``."""
    blob = json.dumps(
        [
            TRAINING_REVISION,
            kind,
            cfg.model.weight_settings(kind),
            cfg.train.weight_settings(),
            tracks.content_hash(),
        ],
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def retrain_requested() -> bool:
    """Whether ``VRASH_RETRAIN`` asks to train from scratch (any value but "", "0", "false")."""
    return os.environ.get(RETRAIN_ENV, "").strip().lower() not in ("", "0", "false", "no")


def style_unit_seconds(tracks: TrackSet) -> dict[str, float]:
    """Median seconds per duration unit of each style (all tracks' median if none)."""
    overall = float(np.median(tracks.unit_seconds)) if len(tracks) else 0.25
    out = {}
    for i, name in enumerate(tracks.styles):
        sel = tracks.unit_seconds[tracks.style == i]
        out[name] = float(np.median(sel)) if len(sel) else overall
    return out


def build_module(kind: str, tracks: TrackSet, cfg: Config, fp: str = "") -> MelodyModule:
    """A freshly initialised module (seeded by ``cfg.train.seed``) for ``tracks``' styles."""
    check_kind(kind)
    torch.manual_seed(cfg.train.seed)
    net = build_net(kind, len(tracks.styles), cfg.model)
    return MelodyModule(
        net,
        kind=kind,
        styles=list(tracks.styles),
        unit_seconds=style_unit_seconds(tracks.select(split="train")),
        model_cfg=dataclasses.asdict(cfg.model),
        train_cfg=dataclasses.asdict(cfg.train),
        fingerprint=fp,
    )


def _devices(value: int | str) -> int | str:
    return int(value) if isinstance(value, str) and value.isdigit() else value


def make_trainer(
    cfg: Config, out_dir: Path, *, progress: bool, callbacks: Sequence[pl.Callback] = ()
) -> pl.Trainer:
    t = cfg.train
    return pl.Trainer(
        accelerator=t.accelerator,
        devices=_devices(t.devices),
        strategy=t.strategy,
        num_nodes=t.num_nodes,
        precision=t.precision,
        max_epochs=t.max_epochs,
        max_steps=t.max_steps,
        max_time=None if t.max_minutes is None else timedelta(minutes=t.max_minutes),
        val_check_interval=t.val_every_steps,
        check_val_every_n_epoch=None,
        num_sanity_val_steps=0,
        gradient_clip_val=t.grad_clip or None,
        callbacks=[_LastCheckpoint(out_dir), *callbacks],
        plugins=[AtomicCheckpointIO()],
        logger=False,
        enable_checkpointing=False,  # _LastCheckpoint + best weights in memory instead
        enable_progress_bar=progress,
        enable_model_summary=False,
        use_distributed_sampler=False,  # our batch sampler splits batches across ranks
        default_root_dir=out_dir,
    )


# Lightning logs a few INFO lines at every fit ("GPU available: ...", "TPU available:
# ...", a tip about its cloud loggers, "`Trainer.fit` stopped: `max_steps=...`
# reached"): noise in a notebook, where the progress bar and the history say what
# happened. Its warnings (WARNING and above) still show.
LIGHTNING_LOGGERS = ("pytorch_lightning", "lightning_fabric")  # the packages we import


@contextlib.contextmanager
def quiet_lightning():
    """Build and run Lightning trainers without its start-up and stop INFO lines."""
    loggers = [logging.getLogger(name) for name in LIGHTNING_LOGGERS]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(max(lg.getEffectiveLevel(), logging.WARNING))
    try:
        with warnings.catch_warnings():
            # Lightning's CombinedLoader (pytorch_lightning/utilities/_pytree.py) builds
            # torch's deprecated ``LeafSpec`` for every dataloader it wraps, whatever the
            # caller passes; only a Lightning release can remove it.
            warnings.filterwarnings(
                "ignore",
                message=r"`isinstance\(treespec, LeafSpec\)` is deprecated",
                category=FutureWarning,
            )
            # It warns that a run resumed mid-epoch repeats batches unless the loader has
            # Lightning's state_dict interface; our batch sampler resumes itself (see
            # _LastCheckpoint), and a test checks that the resumed run is the same.
            warnings.filterwarnings(
                "ignore", message=r"You're resuming from a checkpoint that ended before the epoch"
            )
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


class _LastCheckpoint(pl.Callback):
    """The resume points: ``last.ckpt`` after every validation (Lightning's own
    ``ModelCheckpoint`` saves at the same point of its loop), the one before it kept
    as ``previous.ckpt``; and, on a resumed run, the batch sampler's position."""

    def __init__(self, out_dir: Path) -> None:
        self.last = out_dir / paths.RESUME_FILE
        self.previous = out_dir / paths.RESUME_PREVIOUS_FILE

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        sampler = getattr(trainer.train_dataloader, "batch_sampler", None)
        if trainer.ckpt_path is not None and hasattr(sampler, "resume"):
            sampler.resume(*pl_module.position)  # skip the batches of this epoch already seen

    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        # Lightning's current_epoch is off by one after some resumes; the sampler's
        # epoch is the one that chose the batches.
        sampler = getattr(trainer.train_dataloader, "batch_sampler", None)
        pl_module.position = (getattr(sampler, "epoch", trainer.current_epoch), batch_idx + 1)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        if trainer.is_global_zero and self.last.exists():
            os.replace(self.last, self.previous)
        trainer.save_checkpoint(self.last, weights_only=False)  # a full resume point


@contextlib.contextmanager
def _ctrl_c_stays_ctrl_c(kind: str, out_dir: Path):
    """Lightning answers Ctrl-C by ignoring SIGINT from then on and calling sys.exit(1):
    a notebook kernel would no longer stop on "interrupt". Restore the handler, and
    raise KeyboardInterrupt again, saying where the run resumes from."""
    main = threading.current_thread() is threading.main_thread()
    handler = signal.getsignal(signal.SIGINT) if main else None
    try:
        yield
    except SystemExit as stop:
        if not isinstance(stop.__context__, KeyboardInterrupt):  # e.g. Lightning's SIGTERM
            raise
        raise KeyboardInterrupt(
            f"training of {kind} interrupted; run it again to resume from {out_dir}"
        ) from stop
    finally:
        if main and handler is not None:
            signal.signal(signal.SIGINT, handler)


def _resume_point(out_dir: Path, fp: str, kind: str) -> Path | None:
    """The newest intact resume point of this config and data; damaged ones are set
    aside (``.corrupt``) with a warning, those of another config removed."""
    candidates = [out_dir / paths.RESUME_FILE, out_dir / paths.RESUME_PREVIOUS_FILE]
    for i, path in enumerate(candidates):
        if not path.exists():
            continue
        try:
            stored = AtomicCheckpointIO().load_checkpoint(path)
        except CorruptCheckpointError as err:
            aside = set_aside(path)
            later = [c for c in candidates[i + 1 :] if c.exists()]
            then = f"resuming from {later[0].name} instead" if later else "training from the start"
            logger.warning("%s: %s; moved to %s, %s", kind, err, aside.name, then)
            continue
        if stored.get("hyper_parameters", {}).get("fingerprint") != fp:
            logger.info("%s: %s belongs to another config or dataset; removed", kind, path)
            path.unlink()
            continue
        logger.info("%s: resuming from %s (step %d)", kind, path, stored.get("global_step", 0))
        return path
    return None


def _stop_reason(trainer: pl.Trainer, cfg: Config) -> str:
    """Why a finished fit stopped, when early stopping did not stop it."""
    if trainer.global_step >= cfg.train.max_steps:
        return STOP_MAX_STEPS
    timer = next((c for c in trainer.callbacks if isinstance(c, Timer)), None)
    if timer is not None and (timer.time_remaining() or 0.0) <= 0.0:
        return STOP_MAX_MINUTES
    return STOP_MAX_EPOCHS


def ready_model(
    kind: str,
    tracks: TrackSet,
    cfg: Config,
    out_dir: str | Path,
    *,
    force: bool = False,
    weights_root: str | Path | None = None,
    shipped: bool = True,
) -> TrainResult | None:
    """What :func:`train_model` would use without training (None: it must train): an
    up-to-date ``model.ckpt`` in ``out_dir``, or shipped weights of this fingerprint
    (written there as ``model.ckpt``; not looked for when ``shipped`` is False, as for
    the ablation's variants, which are never shipped). Nothing with ``force`` or
    ``VRASH_RETRAIN=1``."""
    check_kind(kind)
    if force or retrain_requested():
        return None
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    fp = fingerprint(kind, tracks, cfg)
    final = out_dir / paths.MODEL_FILE
    if final.exists():
        try:
            payload = read_checkpoint(final)
        except ValueError as err:  # damaged, or not a model checkpoint: train it again
            aside = set_aside(final)
            logger.warning("%s: %s; moved to %s, training the model again", kind, err, aside.name)
        else:
            hparams, stop = payload["hparams"], payload.get("stop_reason")
            if hparams.get("fingerprint") == fp and not weights.stopped_by_another_cap(
                hparams, stop, cfg
            ):
                logger.info(
                    "%s: %s is up to date (same config and data), not retrained", kind, final
                )
                return _result(kind, final, payload, source="cached")
    if not shipped:
        return None
    return _use_shipped(kind, cfg, fp, final, weights_root, tracks.content_hash())


def train_model(
    kind: str,
    tracks: TrackSet,
    cfg: Config,
    out_dir: str | Path,
    *,
    progress: bool = True,
    force: bool = False,
    weights_root: str | Path | None = None,
    callbacks: Sequence[pl.Callback] = (),
) -> TrainResult:
    """Train ``kind`` on the train split of ``tracks``; writes ``model.ckpt``, ``history.csv``.

    Validation (bits/event) runs every ``cfg.train.val_every_steps`` steps; the
    weights with the best validation bound are kept. ``force`` (or
    ``VRASH_RETRAIN=1``) retrains even when an up-to-date ``model.ckpt`` or
    matching shipped weights exist (:func:`ready_model`). ``weights_root``: where
    shipped weights are looked for (default ``weights/``). ``callbacks``: more
    Lightning callbacks (:mod:`vrashlib.models.parallel` reports progress with one).
    Several models at once: :func:`vrashlib.models.parallel.train_models`.
    """
    ready = ready_model(kind, tracks, cfg, out_dir, force=force, weights_root=weights_root)
    if ready is not None:
        return ready
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    fp = fingerprint(kind, tracks, cfg)
    final = out_dir / paths.MODEL_FILE

    with torch_threads(cfg.train.threads):
        pl.seed_everything(cfg.train.seed, workers=True, verbose=False)
        module = build_module(kind, tracks, cfg, fp)
        dm = MelodyDataModule(
            tracks,
            batch_size=cfg.train.batch_size,
            max_len=cfg.train.max_len,
            num_workers=cfg.train.num_workers,
            seed=cfg.train.seed,
        )
        resume = _resume_point(out_dir, fp, kind)
        with quiet_lightning(), _ctrl_c_stays_ctrl_c(kind, out_dir):
            trainer = make_trainer(cfg, out_dir, progress=progress, callbacks=callbacks)
            trainer.fit(module, datamodule=dm, ckpt_path=resume)
        if not trainer.is_global_zero:
            return _result(kind, final, None)
        module.stop_reason = module.stop_reason or _stop_reason(trainer, cfg)
        if module.stop_reason == STOP_MAX_MINUTES:
            logger.warning(
                "%s: stopped by train.max_minutes=%s before it converged: this model depends on "
                "the machine's speed (raise the cap, or lower train.max_steps)",
                kind, cfg.train.max_minutes,
            )  # fmt: skip
        if module.best_state is not None:
            module.net.load_state_dict(module.best_state)
        params = count_parameters(module.net)
        save_model(module, final, params=params, best_val_bits=module.best_bound)
        write_history(module.history, out_dir / paths.HISTORY_FILE)
        for done in (paths.RESUME_FILE, paths.RESUME_PREVIOUS_FILE):
            (out_dir / done).unlink(missing_ok=True)
        logger.info(
            "%s: trained %d steps in %.1f min (%.1f of them validating), stopped by %s; "
            "best validation bound %.4f bits/event",
            kind, trainer.global_step, (module.train_seconds + module.val_seconds) / 60,
            module.val_seconds / 60, module.stop_reason, module.best_bound,
        )  # fmt: skip
        return _result(kind, final, read_checkpoint(final))


def _use_shipped(
    kind: str, cfg: Config, fp: str, final: Path, root: str | Path | None, dataset_hash: str
) -> TrainResult | None:
    """Write the shipped model of this fingerprint as ``final`` and return it (None: none,
    or damaged: then a warning names the file and the caller trains)."""
    folder = weights.find_shipped(
        kind, cfg, fp, None if root is None else Path(root),
        dataset_hash=dataset_hash, revision=TRAINING_REVISION,
    )  # fmt: skip
    if folder is None:
        return None
    try:
        module, manifest = weights.load_shipped(folder)
    except (ValueError, FileNotFoundError, KeyError) as err:
        logger.warning("%s: shipped weights not used (%s); training instead", kind, err)
        return None
    save_model(
        module,
        final,
        params=int(manifest["params"]),
        best_val_bits=float(manifest["best_val_bits"]),
        shipped_from=str(folder),
    )
    write_history(module.history, final.parent / paths.HISTORY_FILE)
    shown = folder.relative_to(paths.ROOT) if folder.is_relative_to(paths.ROOT) else folder
    logger.info(
        "%s: using shipped weights %s (%d steps, stopped by %s)",
        kind, shown, int(manifest["steps"]), manifest["stop_reason"],
    )  # fmt: skip
    return _result(kind, final, read_checkpoint(final), source="shipped")


def export_weights(
    kind: str,
    tracks: TrackSet,
    cfg: Config,
    checkpoint: str | Path,
    *,
    dataset_hash: str,
    root: str | Path | None = None,
) -> Path:
    """Copy the trained ``checkpoint`` of ``kind`` into the shipped weights
    (``weights/<profile>/seed<N>/<kind>/``, or under ``root``), with its manifest.

    Refuses (``ValueError``) a checkpoint trained with another config or dataset
    than ``cfg`` and ``tracks``: the shipped fingerprint must be the one that
    ``train_model`` will compute.
    """
    payload = read_checkpoint(checkpoint)
    fp = fingerprint(kind, tracks, cfg)
    if payload["hparams"].get("kind") != kind or payload["hparams"].get("fingerprint") != fp:
        raise ValueError(
            f"{checkpoint} was not trained as {kind} with this config and dataset "
            f"(fingerprint {payload['hparams'].get('fingerprint')}, expected {fp}); "
            "train it first (vrash train)"
        )
    dest = paths.shipped_dir(
        cfg.profile, cfg.train.seed, kind, None if root is None else Path(root)
    )
    return weights.export_model(
        checkpoint,
        dest,
        val=tracks.select(split="val"),
        cfg=cfg,
        dataset_hash=dataset_hash,
        revision=TRAINING_REVISION,
    )


def write_history(history: list[dict], path: Path) -> None:
    atomic_write_text(path, history_frame(history).to_csv(index=False))


def history_frame(history: list[dict]) -> pd.DataFrame:
    cols = ["step", "epoch", "split", "ce_pc", "ce_oct", "ce_dur", "ce_total", "kl_per_event"]
    df = pd.DataFrame(history)
    return df if len(df) else pd.DataFrame(columns=cols)


def _result(kind: str, path: Path, payload: dict | None, *, source: str = "trained") -> TrainResult:
    if payload is None:  # non-zero DDP rank: nothing was written by this process
        return TrainResult(kind, path, history_frame([]), 0, 0.0, source=source)
    return TrainResult(
        kind=kind,
        checkpoint=path,
        history=history_frame(payload.get("history", [])),
        params=int(payload.get("params", 0)),
        seconds=float(payload.get("train_seconds", 0.0)),
        cached=source != "trained",
        stop_reason=str(payload.get("stop_reason", "")),
        source=source,
    )
