"""The LightningModule around :class:`~vrashlib.models.network.MelodyNet`, and checkpoints.

The network is passed in (lightning-hydra-template style); one shared
``model_step`` serves training and validation.

Training is a pure function of the seed, whatever interrupts it. The random
numbers of a training step (dropout masks, the posterior noise of z, history
dropout) come from generators seeded by ``(seed, step, rank)``, and every
validation draws the same ones (``(seed, "val")``), so a run resumed at step s
draws exactly what the uninterrupted run drew; with the batch sampler's position
(:meth:`MelodyModule.on_save_checkpoint`) and the optimiser state in the resume
checkpoint, it ends with bit-identical weights and history.

Early stopping: after ``train.patience`` validations in a row without an
improvement of the validation bound by at least ``train.min_improvement``
bits/event, training stops (``stop_reason`` says why it stopped); the weights
with the best validation bound are kept.

Two kinds of checkpoint, both loaded with ``torch.load(weights_only=True)``
(nothing in them can execute code) and both checked for damage:

- resume points (``last.ckpt``): Lightning's checkpoint dict, serialised and
  wrapped with its SHA-256 (:class:`AtomicCheckpointIO`); a truncated or altered
  file raises :class:`CorruptCheckpointError`, which names it;
- the trained model (``model.ckpt``): state dict + hyper-parameters + history,
  only tensors and builtins, with the SHA-256 of the weights (:func:`save_model`,
  :func:`read_checkpoint`).
"""

from __future__ import annotations

import functools
import hashlib
import io
import logging
import math
import os
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.plugins.io import TorchCheckpointIO

from vrashlib import paths
from vrashlib.config import ModelConfig
from vrashlib.files import atomic_path
from vrashlib.models.network import HEADS, MelodyNet, bits, build_net, kl_weight, loss_terms

CKPT_FORMAT = "vrash-model/1"
RESUME_FORMAT = "vrash-resume/1"  # a Lightning checkpoint, serialised, with its SHA-256

# Why training stopped (``MelodyModule.stop_reason``, the model's ``stop_reason``).
STOP_PATIENCE = "patience"  # train.patience validations without improvement (converged)
STOP_MAX_STEPS = "max_steps"  # the step cap
STOP_MAX_MINUTES = "max_minutes"  # the wall-clock safety cap (machine-dependent result)
STOP_MAX_EPOCHS = "max_epochs"

logger = logging.getLogger(__name__)


class CorruptCheckpointError(ValueError):
    """A checkpoint file that cannot be read back as written (truncated, empty, altered)."""

    def __init__(self, path: str | Path, reason: str) -> None:
        super().__init__(f"{path} is damaged ({reason})")
        self.path = Path(path)


def set_aside(path: str | Path) -> Path:
    """Rename a damaged file to ``<name>.corrupt`` (kept for inspection); the new name."""
    path = Path(path)
    aside = path.with_name(path.name + paths.CORRUPT_SUFFIX)
    os.replace(path, aside)
    return aside


def reseed(seed: int, *stream: int) -> None:
    """Seed torch, numpy and Python's global generators from ``(seed, *stream)``."""
    state = np.random.SeedSequence([seed, *stream]).generate_state(2, np.uint32)
    value = (int(state[0]) << 31) ^ int(state[1])  # 63 bits: fits torch.manual_seed
    torch.manual_seed(value)
    np.random.seed(int(state[0]))
    random.seed(value)


TRAIN_STREAM, VAL_STREAM = 0, 1  # the two families of random streams of :func:`reseed`


class MelodyModule(pl.LightningModule):
    """Training logic for any of the three kinds; ``net`` does the music.

    Args:
        net: the network (built from ``model_cfg`` when ``None``).
        kind: ``lm``, ``vae`` or ``vrash``.
        styles: style names, index = style id the network was trained with.
        unit_seconds: per style, the median seconds per duration unit of the
            training tracks (to play generated melodies at a natural tempo).
        model_cfg, train_cfg: the config sections as plain dicts.
        fingerprint: hash of config + data, so that a stale resume checkpoint
            or a finished model trained on something else is never reused.
    """

    def __init__(
        self,
        net: MelodyNet | None = None,
        *,
        kind: str,
        styles: list[str],
        unit_seconds: dict[str, float],
        model_cfg: dict,
        train_cfg: dict,
        fingerprint: str = "",
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["net"], logger=False)
        self.net = (
            net if net is not None else build_net(kind, len(styles), ModelConfig(**model_cfg))
        )
        self.kind, self.styles, self.unit_seconds = kind, list(styles), dict(unit_seconds)
        self.history: list[dict[str, float]] = []  # step, epoch, split, bits/event terms
        self.train_seconds = 0.0  # in training steps (wall-clock, summed over resumed runs)
        self.val_seconds = 0.0  # in validations
        self._val_sums: dict[str, float] = {}
        self._train_sums: dict[str, float] = {}
        self._tick = self._val_tick = 0.0
        self.best_bound = float("inf")  # best validation bits/event (bound) so far
        self.best_state: dict[str, torch.Tensor] | None = None
        self.stall = 0  # validations since the bound last improved by train.min_improvement
        self.stop_reason = ""  # set by early stopping (STOP_PATIENCE) or by train_model
        # (epoch, batches of it done) of the batch sampler once the current step is
        # done: where a resumed run continues (kept up to date by train_model's callback)
        self.position: tuple[int, int] = (0, 0)

    # ---------------------------------------------------------------- steps
    def model_step(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict]:
        cfg = self.net.cfg  # the kind's own settings (ModelConfig.for_kind)
        out = self.net(batch["events"], batch["lengths"], batch["style"])
        terms = loss_terms(out, batch["events"], batch["lengths"], free_bits=cfg.free_bits)
        beta = (
            kl_weight(self.global_step, cfg.kl_warmup_steps, cfg.kl_cycles)
            if self.net.latent
            else 0.0
        )
        loss = terms["ce"] + beta * terms["kl_penalty"]
        if "bow" in terms:  # the bag-of-notes loss: an auxiliary term, not part of the bound
            loss = loss + cfg.bow_weight * terms["bow"]
        return loss / terms["n_events"], terms

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss, terms = self.model_step(batch)
        _accumulate(self._train_sums, terms)
        self.log(
            "train/loss_bits", bits(loss.detach()), prog_bar=True, batch_size=len(batch["lengths"])
        )
        return loss

    def on_train_start(self) -> None:
        if self.stop_reason == STOP_PATIENCE:  # resumed from the validation that stopped it
            self.trainer.should_stop = True

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        reseed(self.hparams.train_cfg["seed"], TRAIN_STREAM, self.global_step, self.global_rank)
        self._tick = time.perf_counter()

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        self.train_seconds += time.perf_counter() - self._tick
        every = max(1, self.hparams.train_cfg["val_every_steps"] // 4)
        if self.global_step % every == 0 and self._train_sums:
            self._record("train", self._train_sums)
            self._train_sums = {}

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        _, terms = self.model_step(batch)
        _accumulate(self._val_sums, terms)

    def on_validation_start(self) -> None:
        reseed(self.hparams.train_cfg["seed"], VAL_STREAM)  # the same z noise every time
        self._val_tick = time.perf_counter()

    def on_validation_epoch_end(self) -> None:
        self.val_seconds += time.perf_counter() - self._val_tick
        if not self._val_sums:
            return
        row = self._record("val", self._val_sums)
        self._val_sums = {}
        self.log("val/ce_bits", row["ce_total"], prog_bar=True)
        t = self.hparams.train_cfg
        bound = row["bound_total"]
        self.stall = 0 if bound < self.best_bound - t["min_improvement"] else self.stall + 1
        if bound < self.best_bound:  # keep the best weights
            self.best_bound = bound
            self.best_state = {k: v.detach().clone() for k, v in self.net.state_dict().items()}
        if t.get("lr_schedule") == "plateau" and self.stall and self.stall % t["lr_patience"] == 0:
            self._decay_lr(t)
        if t["patience"] and self.stall >= t["patience"]:
            self.stop_reason = STOP_PATIENCE
            self.trainer.should_stop = True
            logger.info(
                "%s: validation bound not better by %g bits/event in %d validations: "
                "stopping at step %d (best %.4f bits/event)",
                self.kind, t["min_improvement"], self.stall, self.global_step, self.best_bound,
            )  # fmt: skip

    def _decay_lr(self, t: dict[str, Any]) -> None:
        """The "plateau" schedule: the rate times ``lr_decay``, never below ``lr * lr_final``.
        The rate is the optimiser's, so it travels in the resume checkpoint."""
        floor = t["lr"] * t["lr_final"]
        for group in self.trainer.optimizers[0].param_groups:
            group["lr"] = max(group["lr"] * t["lr_decay"], floor)
        logger.info(
            "%s: validation bound not better by %g bits/event in %d validations: learning "
            "rate now %.3g (step %d)", self.kind, t["min_improvement"], self.stall,
            self.trainer.optimizers[0].param_groups[0]["lr"], self.global_step,
        )  # fmt: skip

    def _record(self, split: str, sums: dict[str, float]) -> dict[str, float]:
        row = {"step": self.global_step, "epoch": self.position[0], "split": split}
        row.update(summarize(sums))
        row["seconds"] = self.train_seconds
        row["val_seconds"] = self.val_seconds  # wall-clock of the run = the two together
        moving = self.hparams.train_cfg.get("lr_schedule", "constant") != "constant"
        if moving and self._trainer is not None and self.trainer.optimizers:
            row["lr"] = self.trainer.optimizers[0].param_groups[0]["lr"]  # the rate it trained at
        self.history.append(row)
        return row

    def configure_optimizers(self):
        t = self.hparams.train_cfg
        optimiser = torch.optim.AdamW(self.parameters(), lr=t["lr"], weight_decay=t["weight_decay"])
        schedule = t.get("lr_schedule", "constant")  # (absent from checkpoints made before it)
        if schedule in ("constant", "plateau"):  # ("plateau": see on_validation_epoch_end)
            return optimiser
        scale = functools.partial(lr_scale, schedule, steps=t["max_steps"], final=t["lr_final"])
        # stepped after every optimiser step; its state travels in the resume checkpoint
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimiser, scale)
        return {
            "optimizer": optimiser,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }

    # ---------------------------------------------------- resume bookkeeping
    # Lightning's checkpoint holds the weights, the optimiser and its loops' progress;
    # this is the rest of what the run's continuation depends on. The random numbers
    # need nothing: they are reseeded from the step (see the module docstring).
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["vrash"] = {
            "history": list(self.history),
            "train_seconds": self.train_seconds,
            "val_seconds": self.val_seconds,
            "best_bound": self.best_bound,
            "best_state": self.best_state,
            "stall": self.stall,
            "stop_reason": self.stop_reason,
            "train_sums": dict(self._train_sums),  # train terms not yet in the history
            "position": list(self.position),
        }

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        state = checkpoint["vrash"]
        self.history = list(state["history"])
        self.train_seconds = float(state["train_seconds"])
        self.val_seconds = float(state["val_seconds"])
        self.best_bound, self.best_state = float(state["best_bound"]), state["best_state"]
        self.stall, self.stop_reason = int(state["stall"]), str(state["stop_reason"])
        self._train_sums = dict(state["train_sums"])
        self.position = (int(state["position"][0]), int(state["position"][1]))


def lr_scale(schedule: str, step: int, *, steps: int, final: float) -> float:
    """The learning rate's share of ``train.lr`` at optimiser step ``step`` (0-based) of a
    run of ``steps``: 1 throughout for "constant"; for "cosine", a half cosine from 1 at
    step 0 to ``final`` at step ``steps``, and ``final`` after it."""
    if schedule == "constant":
        return 1.0
    if schedule == "cosine":
        done = min(step, steps) / max(steps, 1)
        return final + (1.0 - final) * 0.5 * (1.0 + math.cos(math.pi * done))
    raise ValueError(f"unknown learning-rate schedule {schedule!r}")


def _accumulate(sums: dict[str, float], terms: dict[str, torch.Tensor]) -> None:
    for k, v in terms.items():
        sums[k] = sums.get(k, 0.0) + float(v.detach())


def summarize(sums: dict[str, float]) -> dict[str, float]:
    """Summed nats -> bits per event (per head and total) and KL bits per event/track."""
    n, tracks = sums["n_events"], sums["n_tracks"]
    row = {f"ce_{h}": bits(sums[f"ce_{h}"]) / n for h in HEADS}
    row["ce_total"] = bits(sums["ce"]) / n
    row["kl_per_event"] = bits(sums["kl"]) / n
    row["kl_per_track"] = bits(sums["kl"]) / tracks
    row["bound_total"] = row["ce_total"] + row["kl_per_event"]  # ELBO bound on bits/event
    row["n_events"], row["n_tracks"] = n, tracks
    return row


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's resume checkpoints, safe to write and to read.

    Written atomically (temporary file, then renamed), as :data:`RESUME_FORMAT`: the
    checkpoint serialised by ``torch.save``, wrapped with its SHA-256. Read with
    ``torch.load(weights_only=True)`` (tensors and builtins only; the checkpoint
    dict holds nothing else), after checking the SHA-256.
    """

    def save_checkpoint(self, checkpoint: dict, path, storage_options: Any | None = None) -> None:
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        data = buffer.getvalue()
        wrapped = {
            "format": RESUME_FORMAT,
            "sha256": hashlib.sha256(data).hexdigest(),
            "data": torch.frombuffer(bytearray(data), dtype=torch.uint8),
        }
        with atomic_path(path) as tmp:
            torch.save(wrapped, tmp)

    def load_checkpoint(self, path, map_location: Any = "cpu", weights_only: bool | None = None):
        """The checkpoint dict, or :class:`CorruptCheckpointError` naming ``path``.

        ``weights_only`` is accepted for Lightning's signature and ignored: always True.
        """
        if not Path(path).exists():
            raise FileNotFoundError(f"no resume checkpoint at {path}")
        wrapped = _load_weights_only(path, io_map=map_location)
        if not isinstance(wrapped, dict) or wrapped.get("format") != RESUME_FORMAT:
            raise CorruptCheckpointError(path, f"not a {RESUME_FORMAT} resume checkpoint")
        data = wrapped["data"].numpy().tobytes()
        if hashlib.sha256(data).hexdigest() != wrapped.get("sha256"):
            raise CorruptCheckpointError(path, "its SHA-256 does not match its content")
        return _load_weights_only(io.BytesIO(data), io_map=map_location, name=path)


def _load_weights_only(source: Any, *, io_map: Any = "cpu", name: Any = None) -> Any:
    """``torch.load(weights_only=True)``; an unreadable file -> CorruptCheckpointError."""
    try:
        return torch.load(source, map_location=io_map, weights_only=True)
    except Exception as err:  # noqa: BLE001 - truncated, empty, not a torch file: named
        text = str(err).strip()
        reason = text.splitlines()[0].split(". ")[0] if text else type(err).__name__
        raise CorruptCheckpointError(name if name is not None else source, reason) from err


# ------------------------------------------------------------ model.ckpt
def state_sha256(state: dict[str, torch.Tensor]) -> str:
    """SHA-256 of a state dict: names, dtypes, shapes and bytes, in name order."""
    h = hashlib.sha256()
    for name in sorted(state):
        t = state[name].detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def save_model(module: MelodyModule, path: str | Path, **extra: Any) -> Path:
    """Write the plain checkpoint (atomically): weights and their SHA-256,
    hyper-parameters, history, why training stopped, and ``extra``."""
    state = {k: v.detach().cpu() for k, v in module.net.state_dict().items()}
    payload = {
        "format": CKPT_FORMAT,
        "state_dict": state,
        "weights_sha256": state_sha256(state),
        "hparams": dict(module.hparams),
        "history": list(module.history),
        "train_seconds": float(module.train_seconds),
        "val_seconds": float(module.val_seconds),
        "stop_reason": module.stop_reason,
        **extra,
    }
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def read_checkpoint(path: str | Path) -> dict:
    """The raw ``model.ckpt`` payload (weights-only load), with clear errors:
    ``FileNotFoundError``, :class:`CorruptCheckpointError` (unreadable, or weights that
    do not match their SHA-256), ``ValueError`` (some other file)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no model checkpoint at {path}; train it first (vrash train)")
    payload = _load_weights_only(path)
    if not isinstance(payload, dict) or payload.get("format") != CKPT_FORMAT:
        raise ValueError(f"{path} is not a {CKPT_FORMAT} checkpoint (written by train_model)")
    stored = payload.get("weights_sha256")  # absent in checkpoints of older versions
    if stored is not None and state_sha256(payload["state_dict"]) != stored:
        raise CorruptCheckpointError(path, "its weights do not match their SHA-256")
    return payload


def module_from_payload(payload: dict) -> MelodyModule:
    hp = payload["hparams"]
    module = MelodyModule(
        kind=hp["kind"],
        styles=list(hp["styles"]),
        unit_seconds=dict(hp["unit_seconds"]),
        model_cfg=dict(hp["model_cfg"]),
        train_cfg=dict(hp["train_cfg"]),
        fingerprint=hp.get("fingerprint", ""),
    )
    module.net.load_state_dict(payload["state_dict"])
    module.history = list(payload.get("history", []))
    module.train_seconds = float(payload.get("train_seconds", 0.0))
    module.val_seconds = float(payload.get("val_seconds", 0.0))
    module.stop_reason = str(payload.get("stop_reason", ""))
    return module.eval()


def load_model(path: str | Path) -> MelodyModule:
    """A trained model in eval mode; knows ``kind``, ``styles`` and ``unit_seconds``."""
    return module_from_payload(read_checkpoint(path))
