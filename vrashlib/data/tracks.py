"""``TrackSet``: a compact, immutable container for many encoded tracks.

Used for the prepared corpus, for splits of it and for generated melodies, so
that every analysis (features, mutual information, filtering) takes the same
object whether the tracks are real or generated.

Storage is one ``.npz`` file: all events concatenated into one ``(n_events, 3)``
int16 array plus an ``offsets`` array (track ``i`` is
``events[offsets[i]:offsets[i + 1]]``), and per-track columns. See
:mod:`vrashlib.data.encoding` for what an event is.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vrashlib.data.encoding import validate_events
from vrashlib.files import atomic_write_bytes

SPLITS = {"train": 0, "val": 1, "test": 2}
NO_SPLIT = 255


@dataclass(frozen=True, eq=False)
class TrackSet:
    """Many tracks of events with their meta-information.

    Attributes:
        events: ``(n_events, 3)`` int16, all tracks concatenated (no end markers).
        offsets: ``(n_tracks + 1,)`` int64 start of each track in ``events``.
        style: ``(n_tracks,)`` int16 index into ``styles``.
        styles: the style names (the meta-information vocabulary).
        unit_seconds: ``(n_tracks,)`` float32 seconds per duration ratio 1.
        split: ``(n_tracks,)`` uint8, 0 train / 1 val / 2 test / 255 none.
        ids: ``(n_tracks,)`` str, where each track came from (file#tune#part)
            or, for generated tracks, ``model/style/index``.
        latent: ``(n_tracks, z_dim)`` float32 sampling vectors, or ``None``.
    """

    events: np.ndarray
    offsets: np.ndarray
    style: np.ndarray
    styles: tuple[str, ...]
    unit_seconds: np.ndarray
    split: np.ndarray
    ids: np.ndarray
    latent: np.ndarray | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.offsets) - 1
        if n < 0 or self.offsets[0] != 0 or self.offsets[-1] != len(self.events):
            raise ValueError("offsets must start at 0 and end at len(events)")
        if np.any(np.diff(self.offsets) < 0):
            raise ValueError("offsets must be non-decreasing")
        for name in ("style", "unit_seconds", "split", "ids"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"{name} has {len(getattr(self, name))} rows for {n} tracks")
        if self.latent is not None and len(self.latent) != n:
            raise ValueError(f"latent has {len(self.latent)} rows for {n} tracks")
        if n and (self.style.min() < 0 or self.style.max() >= len(self.styles)):
            raise ValueError("style index outside the style list")

    # ----------------------------------------------------------------- build
    @classmethod
    def from_tracks(
        cls,
        tracks: list[np.ndarray],
        styles: list[str] | tuple[str, ...],
        style: list[int] | np.ndarray,
        *,
        unit_seconds: list[float] | np.ndarray | None = None,
        ids: list[str] | None = None,
        split: np.ndarray | None = None,
        latent: np.ndarray | None = None,
        meta: dict | None = None,
    ) -> TrackSet:
        """Build from a list of ``(length, 3)`` event arrays (validated)."""
        n = len(tracks)
        for i, t in enumerate(tracks):
            try:
                validate_events(t)
            except ValueError as err:
                name = ids[i] if ids is not None else f"#{i}"
                raise ValueError(f"track {name}: {err}") from None
        lengths = np.array([len(t) for t in tracks], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        events = (
            np.concatenate([np.asarray(t, dtype=np.int16) for t in tracks])
            if n
            else np.zeros((0, 3), np.int16)
        )
        return cls(
            events=events.astype(np.int16),
            offsets=offsets,
            style=np.asarray(style, dtype=np.int16).reshape(n),
            styles=tuple(styles),
            unit_seconds=np.asarray(
                unit_seconds if unit_seconds is not None else np.full(n, 0.25), np.float32
            ).reshape(n),
            split=np.asarray(split if split is not None else np.full(n, NO_SPLIT), np.uint8),
            ids=np.asarray(ids if ids is not None else [f"track{i}" for i in range(n)], dtype=str),
            latent=None if latent is None else np.asarray(latent, np.float32),
            meta=dict(meta or {}),
        )

    # ---------------------------------------------------------------- access
    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> np.ndarray:
        """Events of track ``i`` as a ``(length, 3)`` view."""
        return self.events[self.offsets[i] : self.offsets[i + 1]]

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def style_names(self) -> np.ndarray:
        """The style name of every track."""
        return np.asarray(self.styles, dtype=object)[self.style]

    def style_index(self, name: str) -> int:
        if name not in self.styles:
            raise KeyError(f"unknown style {name!r}; this set has {list(self.styles)}")
        return self.styles.index(name)

    def subset(self, indices: np.ndarray | list[int]) -> TrackSet:
        """A new set holding the given tracks, in the given order."""
        idx = np.asarray(indices, dtype=np.int64)
        tracks = [self[i] for i in idx]
        lengths = np.array([len(t) for t in tracks], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        events = np.concatenate(tracks) if len(tracks) else np.zeros((0, 3), np.int16)
        return TrackSet(
            events=events.astype(np.int16),
            offsets=offsets,
            style=self.style[idx],
            styles=self.styles,
            unit_seconds=self.unit_seconds[idx],
            split=self.split[idx],
            ids=self.ids[idx],
            latent=None if self.latent is None else self.latent[idx],
            meta=dict(self.meta),
        )

    def select(self, *, split: str | None = None, style: str | None = None) -> TrackSet:
        """Tracks of one split (``train``/``val``/``test``) and/or one style."""
        mask = np.ones(len(self), dtype=bool)
        if split is not None:
            if split not in SPLITS:
                raise KeyError(f"unknown split {split!r}; use one of {list(SPLITS)}")
            mask &= self.split == SPLITS[split]
        if style is not None:
            mask &= self.style == self.style_index(style)
        return self.subset(np.flatnonzero(mask))

    # --------------------------------------------------------------- storage
    def content_hash(self) -> str:
        """SHA-256 over every array and the style list: equal sets, equal hash."""
        h = hashlib.sha256()
        for arr in (self.events, self.offsets, self.style, self.unit_seconds, self.split):
            h.update(np.ascontiguousarray(arr).tobytes())
        h.update("\n".join(self.styles).encode())
        h.update("\n".join(self.ids.tolist()).encode())
        if self.latent is not None:
            h.update(np.ascontiguousarray(self.latent).tobytes())
        return h.hexdigest()

    def save(self, path: str | Path) -> Path:
        """Write one ``.npz`` file atomically (byte-identical for equal sets)."""
        path = Path(path)
        arrays = {
            "events": self.events,
            "offsets": self.offsets,
            "style": self.style,
            "styles": np.asarray(self.styles, dtype=str),
            "unit_seconds": self.unit_seconds,
            "split": self.split,
            "ids": self.ids,
            "meta": np.asarray(json.dumps(self.meta, sort_keys=True, default=str)),
        }
        if self.latent is not None:
            arrays["latent"] = self.latent
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        atomic_write_bytes(path, _strip_zip_dates(buf.getvalue()))
        return path

    @classmethod
    def load(cls, path: str | Path) -> TrackSet:
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"no track set at {path}")
        try:
            with np.load(path, allow_pickle=False) as z:
                return cls(
                    events=z["events"],
                    offsets=z["offsets"],
                    style=z["style"],
                    styles=tuple(z["styles"].tolist()),
                    unit_seconds=z["unit_seconds"],
                    split=z["split"],
                    ids=z["ids"],
                    latent=z["latent"] if "latent" in z.files else None,
                    meta=json.loads(str(z["meta"])) if "meta" in z.files else {},
                )
        except (KeyError, ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as err:
            raise ValueError(f"{path} is not a valid track set: {err}") from err


def _strip_zip_dates(data: bytes) -> bytes:
    """Rewrite a zip archive with fixed timestamps so equal content gives equal bytes."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(fixed, src.read(info.filename))
    return out.getvalue()
