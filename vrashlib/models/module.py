"""The LightningModule around :class:`~vrashlib.models.network.MelodyNet`, and checkpoints.

The network is passed in (lightning-hydra-template style); one shared
``model_step`` serves training and validation. Besides Lightning's own resume
checkpoints (``last.ckpt``), a trained model is stored as a small, plain
``model.ckpt`` (state dict + hyper-parameters + history, only tensors and
builtins) that :func:`load_model` reads with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.plugins.io import TorchCheckpointIO

from vrashlib.config import ModelConfig
from vrashlib.files import atomic_path
from vrashlib.models.network import HEADS, MelodyNet, bits, build_net, kl_weight, loss_terms

CKPT_FORMAT = "vrash-model/1"


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
        self.train_seconds = 0.0
        self._val_sums: dict[str, float] = {}
        self._train_sums: dict[str, float] = {}
        self._tick = 0.0
        self.best_bound = float("inf")  # best validation bits/event (bound) so far
        self.best_state: dict[str, torch.Tensor] | None = None

    # ---------------------------------------------------------------- steps
    def model_step(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict]:
        cfg = self.hparams.model_cfg
        out = self.net(batch["events"], batch["lengths"], batch["style"])
        terms = loss_terms(out, batch["events"], batch["lengths"], free_bits=cfg["free_bits"])
        beta = kl_weight(self.global_step, cfg["kl_warmup_steps"]) if self.net.latent else 0.0
        loss = (terms["ce"] + beta * terms["kl_penalty"]) / terms["n_events"]
        return loss, terms

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss, terms = self.model_step(batch)
        _accumulate(self._train_sums, terms)
        self.log(
            "train/loss_bits", bits(loss.detach()), prog_bar=True, batch_size=len(batch["lengths"])
        )
        return loss

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
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

    def on_validation_epoch_end(self) -> None:
        if not self._val_sums:
            return
        row = self._record("val", self._val_sums)
        self._val_sums = {}
        self.log("val/ce_bits", row["ce_total"], prog_bar=True)
        if row["bound_total"] < self.best_bound:  # keep the best weights (early stopping)
            self.best_bound = row["bound_total"]
            self.best_state = {k: v.detach().clone() for k, v in self.net.state_dict().items()}

    def _record(self, split: str, sums: dict[str, float]) -> dict[str, float]:
        row = {"step": self.global_step, "epoch": self.current_epoch, "split": split}
        row.update(summarize(sums))
        row["seconds"] = self.train_seconds
        self.history.append(row)
        return row

    def configure_optimizers(self):
        t = self.hparams.train_cfg
        return torch.optim.AdamW(self.parameters(), lr=t["lr"], weight_decay=t["weight_decay"])

    # ---------------------------------------------------- resume bookkeeping
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["vrash_history"] = list(self.history)
        checkpoint["vrash_train_seconds"] = self.train_seconds
        checkpoint["vrash_best"] = (self.best_bound, self.best_state)

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.history = list(checkpoint.get("vrash_history", []))
        self.train_seconds = float(checkpoint.get("vrash_train_seconds", 0.0))
        self.best_bound, self.best_state = checkpoint.get("vrash_best", (float("inf"), None))


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
    """Lightning checkpoints written to a temporary file, then renamed into place."""

    def save_checkpoint(self, checkpoint: dict, path, storage_options: Any | None = None) -> None:
        with atomic_path(path) as tmp:
            torch.save(checkpoint, tmp)


# ------------------------------------------------------------ model.ckpt
def save_model(module: MelodyModule, path: str | Path, **extra: Any) -> Path:
    """Write the plain checkpoint (atomically): weights, hyper-parameters, history."""
    payload = {
        "format": CKPT_FORMAT,
        "state_dict": {k: v.detach().cpu() for k, v in module.net.state_dict().items()},
        "hparams": dict(module.hparams),
        "history": list(module.history),
        "train_seconds": float(module.train_seconds),
        **extra,
    }
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def read_checkpoint(path: str | Path) -> dict:
    """The raw ``model.ckpt`` payload (weights-only load), with clear errors."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no model checkpoint at {path}; train it first (vrash train)")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - re-raised with the file name
        raise ValueError(f"{path} is not a readable model checkpoint: {err}") from err
    if not isinstance(payload, dict) or payload.get("format") != CKPT_FORMAT:
        raise ValueError(f"{path} is not a {CKPT_FORMAT} checkpoint (written by train_model)")
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
    return module.eval()


def load_model(path: str | Path) -> MelodyModule:
    """A trained model in eval mode; knows ``kind``, ``styles`` and ``unit_seconds``."""
    return module_from_payload(read_checkpoint(path))
