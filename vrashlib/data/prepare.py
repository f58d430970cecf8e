"""Prepare the dataset: parse every input in parallel, normalise, account, split, cache.

``prepare(cfg, out_dir, ...)`` writes one folder (atomically, as a whole):

- ``tracks.npz``: the kept tracks as a :class:`~vrashlib.data.tracks.TrackSet`
  (events, style, ``unit_seconds``, train/val/test split); byte-identical for
  the same parameters and inputs;
- ``ingest_report.csv``: one row per input file or entry that looks like input:
  path, source, style, status (``ok`` = some track kept, ``dropped`` = parsed but
  nothing kept, ``failed`` = every tune failed or the entry cannot be read: a
  parser error, ``timeout``, "permission denied", a dangling symlink, an
  implausible tempo; ``skipped`` = not read, and nothing lost: another format of
  a piece, a symlink loop, a second way into a folder already read), reason,
  tunes_read, failed (tunes), tracks_read, tracks_kept and ``dropped_<filter>``
  per filter of :data:`vrashlib.data.normalise.FILTERS` (``duplicate`` included);
  per row ``tracks_read = tracks_kept + sum(dropped_*)``, and over the run
  ``rows = ok + dropped + failed + skipped``;
- ``track_stats.csv``: every track read (kept or not) with its length, pitch
  entropy (bits), distinct durations, accompaniment share, the filter that
  dropped it and, for a duplicate, the id of the copy kept;
- ``funnel.csv``: the report summed per style;
- ``manifest.json``: parameters, sources (with how many units a seeded sample
  skipped), input fingerprint, library versions, the cache key, the dataset's
  content hash, split and piece counts, and the SHA-256 of every other file,
  which :func:`load_prepared` checks (a truncated or edited file is named).

A second call with the same parameters, sources and versions finds the key in
the manifest and loads the folder instead (seconds); anything else, or a damaged
folder, rebuilds. The split is by piece (a file, or one tune of an ABC file;
pieces that share a track up to transposition count as one), stratified by
style, seeded: the voices of a chorale and the copies of a tune stay on one side.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from vrashlib.config import DataConfig
from vrashlib.data.ingest import (  # noqa: F401 - re-exported: the data API in one place
    COUNT_COLUMNS,
    DROP_COLUMNS,
    NOT_PARSED,
    REPORT_COLUMNS,
    check_accounting,
    enumerate_inputs,
    fingerprint,
    funnel,
    report_row,
    run_units,
)
from vrashlib.data.sources import WorkUnit
from vrashlib.data.split import (  # noqa: F401 - re-exported
    mark_duplicates,
    piece_groups,
    split_tracks,
)
from vrashlib.data.tracks import SPLITS, TrackSet
from vrashlib.files import atomic_directory

log = logging.getLogger(__name__)

# Bump when parsing/normalisation changes what a dataset holds (invalidates caches).
# 2: duplicates and sound effects dropped, split by piece, file checksums.
FORMAT_VERSION = 2
# The files of a prepared dataset; manifest.json holds the others' checksums.
DATA_FILES = ("tracks.npz", "ingest_report.csv", "track_stats.csv", "funnel.csv")
MANIFEST = "manifest.json"


class DatasetError(ValueError):
    """A prepared dataset's file is missing, truncated or edited: names the file."""


class NoUsableTracksError(RuntimeError):
    """Every input failed or was filtered out; ``report`` says why per file."""

    def __init__(self, message: str, report: pd.DataFrame) -> None:
        super().__init__(message)
        self.report = report


@dataclass(frozen=True)
class PreparedData:
    """A prepared dataset: tracks with split, ingest report, per-style funnel, manifest."""

    tracks: TrackSet
    report: pd.DataFrame
    funnel: pd.DataFrame
    manifest: dict
    track_stats: pd.DataFrame
    from_cache: bool = False


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    import music21
    import symusic

    try:
        ours = version("vrashlib")
    except PackageNotFoundError:  # running from a checkout that is not installed
        ours = "unknown"
    return {
        "format": FORMAT_VERSION,
        "vrashlib": ours,
        "music21": music21.__version__,
        "symusic": getattr(symusic, "__version__", "unknown"),
        "numpy": np.__version__,
    }


def _params(cfg: DataConfig) -> dict:
    """Parameters that change the dataset (the worker count and time limit do not)."""
    d = dataclasses.asdict(cfg)
    d.pop("workers")
    d.pop("parse_timeout_seconds")
    d["collections"] = list(d["collections"])
    return d


# ------------------------------------------------------------------ assembly
def dataset_table(data: PreparedData) -> pd.DataFrame:
    """Per style plus a ``total`` row: tracks read, kept, dropped by each filter, events."""
    f = data.funnel.copy()
    total = f.drop(columns="style").sum().to_frame().T
    total.insert(0, "style", "total")
    return pd.concat([f, total], ignore_index=True)


def _assemble(units: list[WorkUnit], results: list, cfg: DataConfig):
    group_of = piece_groups(units, results)
    results, copies = mark_duplicates(results)
    rows, stats, kept = [], [], []
    start = 0
    while start < len(units):  # units of one file are contiguous
        end = start
        while end < len(units) and units[end].path == units[start].path:
            end += 1
        rows.append(report_row(units[start:end], results[start:end]))
        for u, (_, outcomes) in zip(units[start:end], results[start:end], strict=True):
            for o in outcomes:
                stats.append(
                    {
                        "id": o.id, "style": u.style, "dropped_by": o.dropped_by or "",
                        "n_events": o.n_events, "pitch_entropy": round(o.pitch_entropy, 6),
                        "distinct_durations": o.distinct_durations,
                        "unit_seconds": round(o.unit_seconds, 6),
                        "accompaniment": round(o.accompaniment, 6),
                        "duplicate_of": copies.get(o.id, ""),
                    }
                )  # fmt: skip
                if o.events is not None:
                    kept.append((o, u.style))
        start = end
    report = pd.DataFrame(rows, columns=list(REPORT_COLUMNS))
    check_accounting(report)
    styles = sorted({u.style for u in units if u.kind not in NOT_PARSED})
    style = np.array([styles.index(s) for _, s in kept], np.int16)
    groups = np.array([group_of[o.id] for o, _ in kept], np.int64)
    split = split_tracks(
        style, val_fraction=cfg.val_fraction, test_fraction=cfg.test_fraction, seed=cfg.seed,
        groups=groups,
    )  # fmt: skip
    tracks = TrackSet.from_tracks(
        [o.events for o, _ in kept], styles, style,
        unit_seconds=[o.unit_seconds for o, _ in kept], ids=[o.id for o, _ in kept],
        split=split, meta={"source": "vrashlib.data", "format": FORMAT_VERSION},
    )  # fmt: skip
    # Pieces per split, copies of a piece (a shared track up to transposition) counted once.
    pieces = {name: int(len(np.unique(groups[split == code]))) for name, code in SPLITS.items()}
    return tracks, report, pd.DataFrame(stats), pieces


# --------------------------------------------------------------------- API
def folders(specs: tuple[str, ...] | list[str], default_style: str) -> list[tuple[Path, str]]:
    """``"PATH"`` or ``"PATH=STYLE"`` strings -> ``(folder, style)`` pairs (``~`` expanded)."""
    out = []
    for spec in specs:
        path, _, style = str(spec).partition("=")
        out.append((Path(path).expanduser(), style or default_style))
    return out


def prepare_from_config(cfg: DataConfig, out_dir: Path, *, progress: bool = True) -> PreparedData:
    """:func:`prepare` with the sources the config names (``use_corpus``,
    ``midi_dirs``, ``music_dirs``): how the notebooks take a user's own folders."""
    return prepare(
        cfg,
        out_dir,
        midi_dirs=folders(cfg.midi_dirs, cfg.folder_style),
        music_dirs=folders(cfg.music_dirs, cfg.folder_style),
        use_corpus=cfg.use_corpus,
        progress=progress,
    )


def prepare(
    cfg: DataConfig,
    out_dir: Path,
    *,
    midi_dirs: list[tuple[Path, str]] = (),
    music_dirs: list[tuple[Path, str]] = (),
    use_corpus: bool = True,
    progress: bool = True,
) -> PreparedData:
    """Prepare (or load from ``out_dir`` when nothing changed) the normalised dataset.

    Raises ``FileNotFoundError``/``NotADirectoryError``/``ValueError`` on bad
    arguments and :class:`NoUsableTracksError` when no track survives.
    """
    out_dir = Path(out_dir)
    if not use_corpus and not midi_dirs and not music_dirs:
        raise ValueError("nothing to prepare: no corpus, no MIDI and no music folder given")
    foreign = _foreign(out_dir) if out_dir.is_dir() else ["a file, not a folder"]
    if out_dir.exists() and foreign:
        shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise ValueError(
            f"output {out_dir} exists and is not a prepared dataset ({shown}); "
            "choose a new or empty folder (it is replaced as a whole)"
        )
    # The manifest's parameters name what is read (the arguments), not the config's defaults.
    cfg = dataclasses.replace(
        cfg,
        use_corpus=use_corpus,
        collections=tuple(cfg.collections) if use_corpus else (),
        midi_dirs=tuple(f"{path}={style}" for path, style in midi_dirs),
        music_dirs=tuple(f"{path}={style}" for path, style in music_dirs),
    )
    units, sources = enumerate_inputs(
        cfg, midi_dirs=midi_dirs, music_dirs=music_dirs, use_corpus=use_corpus
    )
    key_doc = {
        "params": _params(cfg), "sources": sources,
        "inputs": fingerprint(units), "versions": _versions(),
    }  # fmt: skip
    key = hashlib.sha256(json.dumps(key_doc, sort_keys=True).encode()).hexdigest()
    _recover_interrupted_write(out_dir)
    cached = _try_cache(out_dir, key)
    if cached is not None:
        return cached
    results = run_units(units, _params(cfg), cfg.workers, progress, cfg.parse_timeout_seconds)
    tracks, report, stats, pieces = _assemble(units, results, cfg)
    table = funnel(report, tracks)
    manifest = {
        **key_doc,
        "key": key,
        "content_hash": tracks.content_hash(),
        "n_files": len(report),
        "n_units": len(units),
        "n_tracks": len(tracks),
        "n_events": int(tracks.lengths.sum()),
        "n_duplicates": int(report["dropped_duplicate"].sum()),
        "styles": list(tracks.styles),
        "split_counts": {s: int((tracks.split == c).sum()) for s, c in SPLITS.items()},
        "piece_counts": pieces,
        "status_counts": report["status"].value_counts().sort_index().to_dict(),
    }
    with atomic_directory(out_dir) as tmp:
        report.to_csv(tmp / "ingest_report.csv", index=False)
        if len(tracks):
            tracks.save(tmp / "tracks.npz")
            stats.to_csv(tmp / "track_stats.csv", index=False)
            table.to_csv(tmp / "funnel.csv", index=False)
            manifest["files"] = {name: _sha256(tmp / name) for name in DATA_FILES}
            manifest["manifest_sha256"] = _manifest_sha256(manifest)
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
    if not len(tracks):
        counts = report["status"].value_counts().to_dict()
        raise NoUsableTracksError(
            f"no usable track in {len(report)} input files ({counts}); "
            f"see {out_dir / 'ingest_report.csv'}",
            report,
        )
    return PreparedData(tracks, report, table, manifest, stats)


# A temporary folder of an atomic write untouched this long belongs to a dead run.
STALE_SECONDS = 600


def _recover_interrupted_write(out_dir: Path) -> None:
    """Tidy what a write killed between its renames left beside ``out_dir`` (see
    :func:`vrashlib.files.atomic_directory`): the previous dataset moved aside to
    ``.NAME.old.PID`` by a process that is gone is moved back when ``out_dir`` is
    missing (else removed), and stale ``.NAME.*.tmp`` folders are removed."""
    import shutil
    import time

    now = time.time()
    for old in sorted(out_dir.parent.glob(f".{out_dir.name}.old.*")):
        pid = old.name.rsplit(".", 1)[-1]
        if pid.isdigit() and _alive(int(pid)) and now - old.stat().st_mtime < STALE_SECONDS:
            continue  # a live write between its two renames
        if not out_dir.exists() and old.is_dir():
            log.warning("restoring %s, moved aside by a write that was interrupted", out_dir)
            old.replace(out_dir)
        else:
            shutil.rmtree(old, ignore_errors=True)
    for tmp in out_dir.parent.glob(f".{out_dir.name}.*.tmp"):
        if tmp.is_dir() and now - tmp.stat().st_mtime > STALE_SECONDS:
            log.warning("removing %s, left by a write that was interrupted", tmp)
            shutil.rmtree(tmp, ignore_errors=True)


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs (this one does not count: it is here, not writing)."""
    import os

    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _manifest_sha256(manifest: dict) -> str:
    """Checksum of the manifest's content, itself left out (an edit that keeps the
    JSON valid, such as one changed digit, is caught too)."""
    rest = {k: v for k, v in manifest.items() if k != "manifest_sha256"}
    return hashlib.sha256(json.dumps(rest, sort_keys=True).encode()).hexdigest()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _foreign(out_dir: Path) -> list[str]:
    """What ``out_dir`` holds besides a prepared dataset's files and hidden ones such
    as ``.DS_Store`` (it would be lost when the folder is replaced as a whole)."""
    ours = {*DATA_FILES, MANIFEST}
    return sorted(p.name for p in out_dir.iterdir() if p.name not in ours and p.name[0] != ".")


def _try_cache(out_dir: Path, key: str) -> PreparedData | None:
    """The dataset in ``out_dir`` when its key is ``key`` and it is intact, else None
    (a damaged one is named in a warning, then rebuilt)."""
    try:
        manifest = json.loads((out_dir / MANIFEST).read_text())
        if not isinstance(manifest, dict) or manifest.get("key") != key:
            return None
    except (OSError, ValueError):
        return None
    try:
        data = load_prepared(out_dir)
    except (OSError, ValueError) as err:
        log.warning("rebuilding the dataset: %s", err)
        return None
    return dataclasses.replace(data, from_cache=True)


def load_prepared(out_dir: Path) -> PreparedData:
    """Load a folder written by :func:`prepare`.

    Raises ``FileNotFoundError`` (with a hint) when files are missing and
    :class:`DatasetError` naming the file when one is truncated, edited or unreadable.
    """
    out_dir = Path(out_dir)
    needed = (MANIFEST, *DATA_FILES)
    missing = [n for n in needed if not (out_dir / n).exists()]
    if missing:
        raise FileNotFoundError(
            f"{out_dir} is not a prepared dataset (missing {', '.join(missing)}); "
            "run notebook 01_data or `vrash prepare`"
        )
    rebuild = f"delete {out_dir} or run `vrash prepare` again to rebuild it"
    path = out_dir / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DatasetError(f"{path} is not valid JSON ({err}); {rebuild}") from err
    if not isinstance(manifest, dict) or "content_hash" not in manifest:
        raise DatasetError(f"{path} is not a dataset manifest (no content_hash); {rebuild}")
    sums = manifest.get("files")
    if sums is None:
        log.warning("%s has no file checksums (written before format 2)", path)
    elif manifest.get("manifest_sha256") != _manifest_sha256(manifest):
        raise DatasetError(f"{path} does not match its own checksum: edited; {rebuild}")
    for name in DATA_FILES if sums is not None else ():
        if sums.get(name) != _sha256(out_dir / name):
            size = (out_dir / name).stat().st_size
            raise DatasetError(
                f"{out_dir / name} ({size} bytes) does not match its checksum in "
                f"{MANIFEST}: truncated or edited; {rebuild}"
            )
    try:
        tracks = TrackSet.load(out_dir / "tracks.npz")
        report = pd.read_csv(out_dir / "ingest_report.csv", keep_default_na=False)
        stats = pd.read_csv(out_dir / "track_stats.csv", keep_default_na=False)
        table = pd.read_csv(out_dir / "funnel.csv")
    except (OSError, ValueError, pd.errors.ParserError) as err:
        raise DatasetError(f"{out_dir}: {err}; {rebuild}") from err
    if tracks.content_hash() != manifest["content_hash"]:
        raise DatasetError(
            f"{out_dir / 'tracks.npz'} does not hold the tracks {MANIFEST} describes "
            f"(content hash differs); {rebuild}"
        )
    return PreparedData(tracks, report, table, manifest, stats)


def summary(data: PreparedData, out_dir: Path | None = None) -> str:
    """A short text summary: file statuses, the per-style table, the dataset hash."""
    counts = data.report["status"].value_counts().to_dict()
    lines = [
        f"files: {len(data.report)} (ok {counts.get('ok', 0)}, dropped "
        f"{counts.get('dropped', 0)}, failed {counts.get('failed', 0)}, skipped "
        f"{counts.get('skipped', 0)})" + ("  [loaded from cache]" if data.from_cache else ""),
    ]
    for src in data.manifest.get("sources", []):
        found, sampled = src.get("units_found", 0), src.get("units_sampled", 0)
        if sampled < found:
            name = src.get("collection") or src.get("path")
            lines.append(
                f"sampled {sampled} of {found} files/tunes of {name} "
                f"(data.max_tunes_per_collection), skipped {found - sampled}"
            )
    splits = data.manifest.get("split_counts", {})
    pieces = data.manifest.get("piece_counts", {})
    lines += [
        dataset_table(data).to_string(index=False),
        f"tracks kept: {len(data.tracks)}  events: {int(data.tracks.lengths.sum())}  "
        f"duplicates dropped: {data.manifest.get('n_duplicates', 0)}  "
        f"hash: {data.manifest['content_hash'][:16]}",
        "split (tracks / pieces): "
        + ", ".join(f"{k} {splits.get(k, 0)} / {pieces.get(k, 0)}" for k in SPLITS),
    ]
    if out_dir is not None:
        lines.append(f"written to {out_dir} (ingest report: {out_dir / 'ingest_report.csv'})")
    return "\n".join(lines)
