"""Train a model with Lightning and evaluate it (``vrash train`` is in :mod:`vrashlib.cli`).

``train_model`` is resumable and idempotent: it resumes from ``out_dir/last.ckpt``
after an interruption, and returns the stored result at once when
``out_dir/model.ckpt`` was already trained with the same config and data. The
Trainer's accelerator / devices / strategy / num_nodes come from the config
unchanged, so the same call trains with DDP on a GPU cluster.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import warnings
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytorch_lightning as pl
import torch

from vrashlib import paths
from vrashlib.config import Config
from vrashlib.data.datamodule import MelodyDataModule, make_loader
from vrashlib.data.tracks import TrackSet
from vrashlib.files import atomic_write_text
from vrashlib.models.module import (
    AtomicCheckpointIO,
    MelodyModule,
    read_checkpoint,
    save_model,
    summarize,
)
from vrashlib.models.network import MelodyNet, build_net, check_kind, count_parameters, loss_terms
from vrashlib.threads import torch_threads

logger = logging.getLogger(__name__)

HARDWARE_FIELDS = ("accelerator", "devices", "strategy", "num_nodes", "threads", "num_workers")


@dataclass
class TrainResult:
    """What ``train_model`` produced: checkpoint path, history (bits/event), size, time."""

    kind: str
    checkpoint: Path
    history: pd.DataFrame
    params: int
    seconds: float  # training wall-clock, summed over resumed runs
    cached: bool = False  # True: an up-to-date model.ckpt was found, nothing trained


# Bump when a change to the models or the training code changes the trained
# weights, so that cached checkpoints are retrained. 2: the RHN's hand-written
# backward pass (same forward, gradients rounded differently).
TRAINING_REVISION = 2


def fingerprint(kind: str, tracks: TrackSet, cfg: Config) -> str:
    """Hash of what determines the trained weights (not the hardware it ran on)."""
    train = {k: v for k, v in dataclasses.asdict(cfg.train).items() if k not in HARDWARE_FIELDS}
    blob = json.dumps(
        [TRAINING_REVISION, kind, dataclasses.asdict(cfg.model), train, tracks.content_hash()],
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


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


def make_trainer(cfg: Config, out_dir: Path, *, progress: bool) -> pl.Trainer:
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
        callbacks=[_LastCheckpoint(out_dir / paths.RESUME_FILE)],
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
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


class _LastCheckpoint(pl.Callback):
    """Save ``last.ckpt`` after every validation (what an interrupted run resumes);
    Lightning's own ``ModelCheckpoint`` saves at the same point of its loop."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.sanity_checking:
            trainer.save_checkpoint(self.path, weights_only=False)  # a full resume point


def train_model(
    kind: str,
    tracks: TrackSet,
    cfg: Config,
    out_dir: str | Path,
    *,
    progress: bool = True,
    force: bool = False,
) -> TrainResult:
    """Train ``kind`` on the train split of ``tracks``; writes ``model.ckpt``, ``history.csv``.

    Validation (bits/event) runs every ``cfg.train.val_every_steps`` steps; the
    weights with the best validation bound are kept. ``force`` retrains even when
    an up-to-date ``model.ckpt`` exists.
    """
    check_kind(kind)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    fp = fingerprint(kind, tracks, cfg)
    final = out_dir / paths.MODEL_FILE
    if final.exists() and not force:
        payload = read_checkpoint(final)
        if payload["hparams"].get("fingerprint") == fp:
            logger.info("%s: %s is up to date (same config and data), not retrained", kind, final)
            return _result(kind, final, payload, cached=True)

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
        last = out_dir / paths.RESUME_FILE
        ckpt_path = None
        if last.exists():
            stored = torch.load(last, map_location="cpu", weights_only=False)
            if stored.get("hyper_parameters", {}).get("fingerprint") == fp:
                ckpt_path = str(last)
                logger.info("%s: resuming from %s", kind, last)
            else:
                last.unlink()  # a resume point of another config or dataset
        with quiet_lightning():
            trainer = make_trainer(cfg, out_dir, progress=progress)
            trainer.fit(module, datamodule=dm, ckpt_path=ckpt_path)
        if not trainer.is_global_zero:
            return _result(kind, final, None)
        if module.best_state is not None:
            module.net.load_state_dict(module.best_state)
        params = count_parameters(module.net)
        save_model(module, final, params=params, best_val_bits=module.best_bound)
        write_history(module.history, out_dir / "history.csv")
        last.unlink(missing_ok=True)
        return _result(kind, final, read_checkpoint(final))


def write_history(history: list[dict], path: Path) -> None:
    atomic_write_text(path, history_frame(history).to_csv(index=False))


def history_frame(history: list[dict]) -> pd.DataFrame:
    cols = ["step", "epoch", "split", "ce_pc", "ce_oct", "ce_dur", "ce_total", "kl_per_event"]
    df = pd.DataFrame(history)
    return df if len(df) else pd.DataFrame(columns=cols)


def _result(kind: str, path: Path, payload: dict | None, *, cached: bool = False) -> TrainResult:
    if payload is None:  # non-zero DDP rank: nothing was written by this process
        return TrainResult(kind, path, history_frame([]), 0, 0.0, cached)
    return TrainResult(
        kind=kind,
        checkpoint=path,
        history=history_frame(payload.get("history", [])),
        params=int(payload.get("params", 0)),
        seconds=float(payload.get("train_seconds", 0.0)),
        cached=cached,
    )


def align_styles(tracks: TrackSet, styles: list[str] | tuple[str, ...]) -> TrackSet:
    """The same tracks with style ids renumbered into a model's style list."""
    if tuple(tracks.styles) == tuple(styles):
        return tracks
    missing = sorted(set(tracks.style_names()) - set(styles))
    if missing:
        raise KeyError(f"styles {missing} are unknown to the model (it knows {list(styles)})")
    lookup = np.array([list(styles).index(s) for s in tracks.styles], dtype=np.int16)
    return dataclasses.replace(tracks, style=lookup[tracks.style], styles=tuple(styles))


def evaluate(
    model: MelodyModule | MelodyNet, tracks: TrackSet, batch_size: int = 64, *, seed: int = 0
) -> dict[str, float]:
    """Cross-entropy per head and total (bits/event) and KL (bits/event, bits/track).

    For VAE/VRASH the cross-entropy is the reconstruction term with z drawn from
    the posterior (seeded), so ``bound_total`` = CE + KL/event is the number that
    compares with the LM's CE (an upper bound on bits/event).
    """
    net = model.net if isinstance(model, MelodyModule) else model
    styles = model.styles if isinstance(model, MelodyModule) else tracks.styles
    tracks = align_styles(tracks, styles)
    gen = torch.Generator().manual_seed(seed)
    sums: dict[str, float] = {}
    was_training = net.training
    net.eval()
    with torch.inference_mode():
        for batch in make_loader(tracks, batch_size, max_len=None, shuffle=False):
            eps = torch.randn(len(batch["lengths"]), max(net.z_dim, 1), generator=gen)
            out = net(batch["events"], batch["lengths"], batch["style"], eps=eps[:, : net.z_dim])
            for k, v in loss_terms(out, batch["events"], batch["lengths"]).items():
                sums[k] = sums.get(k, 0.0) + float(v)
    net.train(was_training)
    return summarize(sums)


def cross_entropy_table(
    models: dict[str, MelodyModule], tracks: TrackSet, batch_size: int = 64
) -> pd.DataFrame:
    """Fig. 4's table: one row per model (e.g. lm, vae, vrash, random) with the
    cross-entropy per head and total (bits/event), KL, parameters and training time."""
    rows = []
    for name, module in models.items():
        scores = evaluate(module, tracks, batch_size)
        rows.append(
            {
                "model": name,
                **{k: scores[k] for k in ("ce_pc", "ce_oct", "ce_dur", "ce_total")},
                "kl_per_event": scores["kl_per_event"] if module.net.latent else np.nan,
                "kl_per_track": scores["kl_per_track"] if module.net.latent else np.nan,
                "bound_total": scores["bound_total"],
                "params": count_parameters(module.net),
                "train_minutes": module.train_seconds / 60.0,
                "steps": int(module.history[-1]["step"]) if module.history else 0,
            }
        )
    return pd.DataFrame(rows)
