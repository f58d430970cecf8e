"""Batches of tracks for training: length-bucketed, padded, masked, DDP-aware.

Every track gets its end marker appended (the models learn when a melody is
over). Training tracks longer than ``max_len`` events are cut to a random window
of ``max_len`` (a fresh window every epoch); validation uses whole tracks.
Batches hold tracks of similar length (sorted within large random chunks), so
that little compute goes to padding. The batch sampler itself splits batches
across DDP ranks, deterministically from ``(seed, epoch)``.
"""

from __future__ import annotations

import math

import numpy as np
import pytorch_lightning as pl
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Sampler

from vrashlib.data.encoding import END_EVENT, with_end
from vrashlib.data.tracks import TrackSet

CHUNK_BATCHES = 50  # batches per sorting chunk: large enough to bucket, small enough to shuffle


class CroppedTracks(Dataset):
    """Item ``(i, start)`` -> (events with end marker, window from ``start``, style)."""

    def __init__(self, tracks: TrackSet, max_len: int | None) -> None:
        self.tracks, self.max_len = tracks, max_len

    def __len__(self) -> int:
        return len(self.tracks)

    def __getitem__(self, item: tuple[int, int]) -> tuple[np.ndarray, int]:
        i, start = item
        ev = with_end(self.tracks[i])
        if self.max_len is not None:
            ev = ev[start : start + self.max_len]
        return ev, int(self.tracks.style[i])


def collate(items: list[tuple[np.ndarray, int]]) -> dict[str, Tensor]:
    """Pad to the longest item: ``events`` (T, B, 3) long, ``lengths`` (B,), ``style`` (B,).

    Padding uses the end event (valid for every embedding); losses mask it out.
    """
    lengths = np.array([len(ev) for ev, _ in items], dtype=np.int64)
    T, B = int(lengths.max()), len(items)
    events = np.broadcast_to(END_EVENT.astype(np.int64), (T, B, 3)).copy()
    for b, (ev, _) in enumerate(items):
        events[: len(ev), b] = ev
    return {
        "events": torch.from_numpy(events),
        "lengths": torch.from_numpy(lengths),
        "style": torch.tensor([s for _, s in items], dtype=torch.long),
    }


class BucketBatchSampler(Sampler):
    """Yields lists of ``(track index, crop start)`` of similar cropped length.

    ``shuffle``: new chunks, batch order and crop windows every epoch (call
    :meth:`set_epoch`; Lightning does). ``rank``/``world``: this process's share
    of the batches; every rank gets the same number when shuffling (DDP needs it).
    """

    def __init__(
        self,
        lengths: np.ndarray,
        batch_size: int,
        *,
        max_len: int | None,
        shuffle: bool,
        seed: int = 0,
        rank: int = 0,
        world: int = 1,
    ) -> None:
        self.full = np.asarray(lengths, dtype=np.int64) + 1  # + end marker
        self.batch_size, self.max_len, self.shuffle = batch_size, max_len, shuffle
        self.seed, self.rank, self.world, self.epoch = seed, rank, world, 0
        self._resume: tuple[int, int] | None = None

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    @property
    def sampler(self) -> BucketBatchSampler:
        """Itself: Lightning calls ``set_epoch`` on ``loader.batch_sampler.sampler``, never
        on a batch sampler, so without this every epoch would repeat epoch 0's batches."""
        return self

    def resume(self, epoch: int, done: int) -> None:
        """Skip the ``done`` batches already trained on when the next pass is of
        ``epoch`` (a run resumed mid-epoch); any other next pass is whole."""
        self._resume = (epoch, done)

    def _batches(self) -> list[list[tuple[int, int]]]:
        n, bs = len(self.full), self.batch_size
        cropped = self.full if self.max_len is None else np.minimum(self.full, self.max_len)
        if self.shuffle:
            rng = np.random.default_rng([self.seed, self.epoch])
            order = rng.permutation(n)
            room = self.full - cropped
            starts = (rng.random(n) * (room + 1)).astype(np.int64)
        else:
            rng, order, starts = None, np.arange(n), np.zeros(n, np.int64)
        batches = []
        chunk = bs * CHUNK_BATCHES
        for c in range(0, n, chunk):
            idx = order[c : c + chunk]
            idx = idx[np.argsort(cropped[idx], kind="stable")]
            batches += [idx[b : b + bs] for b in range(0, len(idx), bs)]
        if rng is not None:
            batches = [batches[i] for i in rng.permutation(len(batches))]
            batches = batches[: len(batches) - len(batches) % self.world] or batches[:1]
        return [[(int(i), int(starts[i])) for i in b] for b in batches[self.rank :: self.world]]

    def __iter__(self):
        # A generator: the batches are drawn at the first fetch, not when the loader's
        # iterator is made (Lightning makes it before it calls set_epoch on a resumed run).
        batches = self._batches()
        if self._resume is not None:
            epoch, done = self._resume
            self._resume = None
            if epoch == self.epoch:
                batches = batches[done:]
        yield from batches

    def __len__(self) -> int:
        n, bs, chunk = len(self.full), self.batch_size, self.batch_size * CHUNK_BATCHES
        total = sum(math.ceil(min(chunk, n - c) / bs) for c in range(0, n, chunk))
        if self.shuffle:
            total = max(total - total % self.world, 1) // self.world
        else:
            total = len(range(self.rank, total, self.world))
        return total


def make_loader(
    tracks: TrackSet,
    batch_size: int,
    *,
    max_len: int | None,
    shuffle: bool,
    seed: int = 0,
    rank: int = 0,
    world: int = 1,
    num_workers: int = 0,
) -> DataLoader:
    """A DataLoader of padded batches over ``tracks`` (see :func:`collate`)."""
    if len(tracks) == 0:
        raise ValueError("cannot build batches from an empty track set")
    sampler = BucketBatchSampler(
        tracks.lengths,
        batch_size,
        max_len=max_len,
        shuffle=shuffle,
        seed=seed,
        rank=rank,
        world=world,
    )
    return DataLoader(
        CroppedTracks(tracks, max_len),
        batch_sampler=sampler,
        collate_fn=collate,
        num_workers=num_workers,
        persistent_workers=num_workers > 0,
    )


class MelodyDataModule(pl.LightningDataModule):
    """Train/val loaders over a prepared TrackSet whose ``split`` column is set.

    ``batch_size``, ``max_len``, ``num_workers`` and ``seed`` are ``cfg.train``'s
    (:class:`vrashlib.config.TrainConfig`; no second set of defaults here)."""

    def __init__(
        self,
        tracks: TrackSet,
        *,
        batch_size: int,
        max_len: int,
        num_workers: int,
        seed: int,
    ) -> None:
        super().__init__()
        self.tracks, self.batch_size, self.max_len = tracks, batch_size, max_len
        self.num_workers, self.seed = num_workers, seed
        self.train = self.tracks.select(split="train")
        self.val = self.tracks.select(split="val")
        for name, part in (("train", self.train), ("val", self.val)):
            if len(part) == 0:
                raise ValueError(
                    f"the track set has no {name!r} tracks; prepare the dataset with splits "
                    "(vrashlib.data.prepare.load_prepared(...).tracks has them)"
                )

    def _rank_world(self) -> tuple[int, int]:
        trainer = self.trainer
        return (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)

    def train_dataloader(self) -> DataLoader:
        rank, world = self._rank_world()
        return make_loader(
            self.train,
            self.batch_size,
            max_len=self.max_len,
            shuffle=True,
            seed=self.seed,
            rank=rank,
            world=world,
            num_workers=self.num_workers,
        )

    def val_dataloader(self) -> DataLoader:
        # Every rank validates on the whole (small) validation split: exact sums
        # without collectives, and no rank can end up with zero batches.
        return make_loader(self.val, self.batch_size, max_len=None, shuffle=False)
