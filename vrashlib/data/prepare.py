"""Prepare the dataset: parse every input in parallel, normalise, account, split, cache.

``prepare(cfg, out_dir, ...)`` writes one folder (atomically, as a whole):

- ``tracks.npz``: the kept tracks as a :class:`~vrashlib.data.tracks.TrackSet`
  (events, style, ``unit_seconds``, train/val/test split); byte-identical for
  the same parameters and inputs;
- ``ingest_report.csv``: one row per input file: path, source, style, status
  (``ok`` = some track kept, ``dropped`` = parsed but nothing kept, ``failed`` =
  every tune failed), reason (exception text or drop summary), tunes_read,
  failed (tunes), tracks_read, tracks_kept and ``dropped_<filter>`` per filter of
  :data:`vrashlib.data.normalise.FILTERS`; per row ``tracks_read = tracks_kept +
  sum(dropped_*)``, and over the run ``files = ok + dropped + failed``;
- ``track_stats.csv``: every track read (kept or not) with its length, pitch
  entropy (bits), distinct durations and the filter that dropped it;
- ``funnel.csv``: the report summed per style;
- ``manifest.json``: parameters, sources, input fingerprint, library versions,
  the cache key and the dataset's content hash.

A second call with the same parameters, sources and versions finds the key in
the manifest and loads the folder instead (seconds); anything else rebuilds.
The split is by track, stratified by style, seeded.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from vrashlib.config import DataConfig
from vrashlib.data.ingest import (  # noqa: F401 - re-exported: the data API in one place
    COUNT_COLUMNS,
    DROP_COLUMNS,
    REPORT_COLUMNS,
    check_accounting,
    enumerate_inputs,
    fingerprint,
    funnel,
    report_row,
    run_units,
)
from vrashlib.data.sources import WorkUnit
from vrashlib.data.tracks import SPLITS, TrackSet
from vrashlib.files import atomic_directory

# Bump when parsing/normalisation changes what a dataset holds (invalidates caches).
FORMAT_VERSION = 1


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
    """Parameters that change the dataset (the worker count does not)."""
    d = dataclasses.asdict(cfg)
    d.pop("workers")
    d["collections"] = list(d["collections"])
    return d


# ------------------------------------------------------------------ assembly
def split_tracks(
    style: np.ndarray, *, val_fraction: float, test_fraction: float, seed: int
) -> np.ndarray:
    """Split codes (0 train / 1 val / 2 test) per track, stratified by style, seeded.

    In every style ``round(n * fraction)`` tracks go to validation and to test.
    """
    if val_fraction < 0 or test_fraction < 0 or val_fraction + test_fraction >= 1:
        raise ValueError(f"bad split fractions val={val_fraction} test={test_fraction}")
    split = np.full(len(style), SPLITS["train"], np.uint8)
    for s in np.unique(style):
        idx = np.flatnonzero(style == s)
        rng = np.random.default_rng([seed, int(s)])
        idx = idx[rng.permutation(len(idx))]
        n_val, n_test = round(len(idx) * val_fraction), round(len(idx) * test_fraction)
        split[idx[:n_val]] = SPLITS["val"]
        split[idx[n_val : n_val + n_test]] = SPLITS["test"]
    return split


def dataset_table(data: PreparedData) -> pd.DataFrame:
    """Per style plus a ``total`` row: tracks read, kept, dropped by each filter, events."""
    f = data.funnel.copy()
    total = f.drop(columns="style").sum().to_frame().T
    total.insert(0, "style", "total")
    return pd.concat([f, total], ignore_index=True)


def _assemble(units: list[WorkUnit], results: list, cfg: DataConfig):
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
                    }
                )  # fmt: skip
                if o.events is not None:
                    kept.append((o, u.style))
        start = end
    report = pd.DataFrame(rows, columns=list(REPORT_COLUMNS))
    check_accounting(report)
    styles = sorted({u.style for u in units})
    style = np.array([styles.index(s) for _, s in kept], np.int16)
    split = split_tracks(
        style, val_fraction=cfg.val_fraction, test_fraction=cfg.test_fraction, seed=cfg.seed
    )
    tracks = TrackSet.from_tracks(
        [o.events for o, _ in kept], styles, style,
        unit_seconds=[o.unit_seconds for o, _ in kept], ids=[o.id for o, _ in kept],
        split=split, meta={"source": "vrashlib.data", "format": FORMAT_VERSION},
    )  # fmt: skip
    return tracks, report, pd.DataFrame(stats)


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
    if out_dir.exists() and (not out_dir.is_dir() or _foreign(out_dir)):
        raise ValueError(
            f"output {out_dir} exists and is not a prepared dataset; "
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
    cached = _try_cache(out_dir, key)
    if cached is not None:
        return cached
    results = run_units(units, _params(cfg), cfg.workers, progress)
    tracks, report, stats = _assemble(units, results, cfg)
    table = funnel(report, tracks)
    manifest = {
        **key_doc,
        "key": key,
        "content_hash": tracks.content_hash(),
        "n_files": len(report),
        "n_units": len(units),
        "n_tracks": len(tracks),
        "n_events": int(tracks.lengths.sum()),
        "styles": list(tracks.styles),
        "split_counts": {s: int((tracks.split == c).sum()) for s, c in SPLITS.items()},
        "status_counts": report["status"].value_counts().sort_index().to_dict(),
    }
    with atomic_directory(out_dir) as tmp:
        report.to_csv(tmp / "ingest_report.csv", index=False)
        if len(tracks):
            tracks.save(tmp / "tracks.npz")
            stats.to_csv(tmp / "track_stats.csv", index=False)
            table.to_csv(tmp / "funnel.csv", index=False)
            (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True))
    if not len(tracks):
        counts = report["status"].value_counts().to_dict()
        raise NoUsableTracksError(
            f"no usable track in {len(report)} input files ({counts}); "
            f"see {out_dir / 'ingest_report.csv'}",
            report,
        )
    return PreparedData(tracks, report, table, manifest, stats)


def _foreign(out_dir: Path) -> bool:
    """True when ``out_dir`` holds files but is not a folder ``prepare`` wrote."""
    return any(out_dir.iterdir()) and not (out_dir / "ingest_report.csv").exists()


def _try_cache(out_dir: Path, key: str) -> PreparedData | None:
    try:
        manifest = json.loads((out_dir / "manifest.json").read_text())
        if manifest.get("key") != key:
            return None
        data = load_prepared(out_dir)
    except (OSError, ValueError):
        return None
    if data.tracks.content_hash() != manifest["content_hash"]:
        return None
    return dataclasses.replace(data, from_cache=True)


def load_prepared(out_dir: Path) -> PreparedData:
    """Load a folder written by :func:`prepare` (raises with a hint if incomplete)."""
    out_dir = Path(out_dir)
    needed = ("manifest.json", "tracks.npz", "ingest_report.csv", "track_stats.csv", "funnel.csv")
    missing = [n for n in needed if not (out_dir / n).exists()]
    if missing:
        raise FileNotFoundError(
            f"{out_dir} is not a prepared dataset (missing {', '.join(missing)}); "
            "run notebook 01_data or `vrash prepare`"
        )
    try:
        manifest = json.loads((out_dir / "manifest.json").read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{out_dir / 'manifest.json'} is not valid JSON: {err}") from err
    tracks = TrackSet.load(out_dir / "tracks.npz")
    report = pd.read_csv(out_dir / "ingest_report.csv", keep_default_na=False)
    stats = pd.read_csv(out_dir / "track_stats.csv", keep_default_na=False)
    table = pd.read_csv(out_dir / "funnel.csv")
    return PreparedData(tracks, report, table, manifest, stats)


def summary(data: PreparedData, out_dir: Path | None = None) -> str:
    """A short text summary: file statuses, the per-style table, the dataset hash."""
    counts = data.report["status"].value_counts().to_dict()
    lines = [
        f"files: {len(data.report)} (ok {counts.get('ok', 0)}, dropped "
        f"{counts.get('dropped', 0)}, failed {counts.get('failed', 0)})"
        + ("  [loaded from cache]" if data.from_cache else ""),
        dataset_table(data).to_string(index=False),
        f"tracks kept: {len(data.tracks)}  events: {int(data.tracks.lengths.sum())}  "
        f"hash: {data.manifest['content_hash'][:16]}",
    ]
    if out_dir is not None:
        lines.append(f"written to {out_dir} (ingest report: {out_dir / 'ingest_report.csv'})")
    return "\n".join(lines)
