"""Read every input in parallel and account for it: work units in, outcomes and report out.

:func:`enumerate_inputs` lists the work units (corpus collections, MIDI and
music folders; a seeded sample per source when asked), :func:`run_units`
parses and normalises them in worker processes (a bad file becomes an error
text, never an exception), and :func:`report_row` / :func:`funnel` turn the
outcomes into the ingest report, whose identities :func:`check_accounting`
enforces. :mod:`vrashlib.data.prepare` assembles the dataset from them.
"""

from __future__ import annotations

import functools
import hashlib
import multiprocessing
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from vrashlib import paths
from vrashlib.config import CORPUS_STYLES, DataConfig
from vrashlib.data.normalise import FILTERS, normalise_track, skyline
from vrashlib.data.sources import WorkUnit, corpus_units, midi_units, music_units, parse_unit
from vrashlib.data.tracks import TrackSet

DROP_COLUMNS = tuple(f"dropped_{f}" for f in FILTERS)
REPORT_COLUMNS = (
    "path", "source", "style", "status", "reason", "tunes_read", "failed",
    "tracks_read", "tracks_kept", *DROP_COLUMNS,
)  # fmt: skip
COUNT_COLUMNS = ("tunes_read", "failed", "tracks_read", "tracks_kept", *DROP_COLUMNS)


@dataclass(frozen=True)
class TrackOutcome:
    """What became of one track read: its events when kept, else the filter that dropped it."""

    id: str
    events: np.ndarray | None
    unit_seconds: float
    dropped_by: str | None
    n_events: int
    pitch_entropy: float
    distinct_durations: int


# ------------------------------------------------------------------ workers
def process_unit(unit: WorkUnit, params: dict) -> tuple[str | None, list[TrackOutcome]]:
    """Parse and normalise one unit; ``(error text or None, outcomes)``. Never raises."""
    try:
        raws = parse_unit(unit)
    except Exception as err:  # noqa: BLE001 - any bad input is reported, never fatal
        text = " ".join(f"{type(err).__name__}: {err}".split())
        return text[:300], []
    prefix = f"{unit.name}#{unit.tune}" if unit.tune else unit.name
    outcomes = []
    for raw in raws:
        tid = f"{prefix}#{raw.name}"
        if raw.is_drum:
            outcomes.append(TrackOutcome(tid, None, 0.0, "drums", len(raw.pitches), 0.0, 0))
            continue
        pitch, length = skyline(
            raw.onsets, raw.lengths, raw.pitches, min_rest=params["min_rest_quarters"]
        )
        r = normalise_track(
            pitch,
            length,
            raw.qpm,
            min_events=params["min_events"],
            max_off_grid_share=params["max_off_grid_share"],
            max_distinct_durations=params["max_distinct_durations"],
            min_pitch_entropy=params["min_pitch_entropy"],
            max_rest_ratio=params["max_rest_ratio"],
        )
        outcomes.append(
            TrackOutcome(
                tid, r.events, r.unit_seconds, r.dropped_by, r.n_events,
                r.pitch_entropy, r.distinct_durations,
            )
        )  # fmt: skip
    return None, outcomes


def run_units(units: list[WorkUnit], params: dict, workers: int, progress: bool) -> list:
    """Results in unit order; worker processes when ``workers > 1``."""
    from tqdm.auto import tqdm

    fn = functools.partial(process_unit, params=params)
    bar = dict(total=len(units), desc="parsing", unit="tune", disable=not progress)
    if workers <= 1 or len(units) < 2:
        return [fn(u) for u in tqdm(units, **bar)]
    chunksize = max(1, min(16, len(units) // (workers * 8)))
    ctx = multiprocessing.get_context("spawn")  # safe beside threads (torch, Jupyter)
    with ctx.Pool(workers) as pool:
        return list(tqdm(pool.imap(fn, units, chunksize=chunksize), **bar))


# --------------------------------------------------------------- enumeration
def _sample(units: list[WorkUnit], k: int | None, seed: int, source: str) -> list[WorkUnit]:
    """A seeded subset of ``k`` units kept in their original order."""
    if k is None or len(units) <= k:
        return units
    rng = np.random.default_rng([seed, int(hashlib.sha256(source.encode()).hexdigest()[:8], 16)])
    keep = np.sort(rng.choice(len(units), size=k, replace=False))
    return [units[i] for i in keep]


def _check_dir(folder: Path, what: str) -> Path:
    folder = Path(folder)
    if not folder.exists():
        raise FileNotFoundError(f"{what} folder {folder} does not exist")
    if not folder.is_dir():
        raise NotADirectoryError(f"{what} path {folder} is not a folder")
    return folder.resolve()


def enumerate_inputs(
    cfg: DataConfig,
    *,
    midi_dirs=(),
    music_dirs=(),
    use_corpus: bool = True,
) -> tuple[list[WorkUnit], list[dict]]:
    """All work units (sampled per source when ``cfg.max_tunes_per_collection``) and the source list."""
    units: list[WorkUnit] = []
    sources: list[dict] = []
    if use_corpus:
        corpus = paths.music21_corpus_dir()
        for coll in cfg.collections:
            if coll not in CORPUS_STYLES:
                raise KeyError(
                    f"unknown corpus collection {coll!r}; known: {sorted(CORPUS_STYLES)}"
                )
            found = corpus_units(corpus, coll, CORPUS_STYLES[coll])
            units += _sample(found, cfg.max_tunes_per_collection, cfg.seed, coll)
            sources.append({"kind": "corpus", "collection": coll, "style": CORPUS_STYLES[coll]})
    names: set[str] = {s.get("collection", "") for s in sources}
    for kind, dirs, make in (("midi", midi_dirs, midi_units), ("music", music_dirs, music_units)):
        for folder, style in dirs:
            folder = _check_dir(folder, kind.upper() if kind == "midi" else "music")
            if not style:
                raise ValueError(f"{kind} folder {folder} needs a style label")
            source = folder.name or kind
            while source in names:
                source += "_"
            names.add(source)
            found = make(folder, source, style)
            units += _sample(found, cfg.max_tunes_per_collection, cfg.seed, source)
            sources.append({"kind": kind, "path": str(folder), "source": source, "style": style})
    return units, sources


def fingerprint(units: list[WorkUnit]) -> str:
    """Hash of the unit list and each input file's size and modification time."""
    h = hashlib.sha256()
    seen: set[str] = set()
    for u in units:
        h.update(f"{u.name}|{u.tune}|{u.style}\n".encode())
        if u.path not in seen:
            seen.add(u.path)
            try:
                st = Path(u.path).stat()
                h.update(f"{u.path}|{st.st_size}|{st.st_mtime_ns}\n".encode())
            except OSError:
                h.update(f"{u.path}|missing\n".encode())
    return h.hexdigest()


# ---------------------------------------------------------------------- report
def report_row(units: list[WorkUnit], results: list) -> dict:
    u0 = units[0]
    drops = {c: 0 for c in DROP_COLUMNS}
    kept = read = 0
    errors = []
    for u, (err, outcomes) in zip(units, results, strict=True):
        if err is not None:
            errors.append(f"{u.tune}: {err}" if u.tune else err)
        for o in outcomes:
            read += 1
            if o.dropped_by is None:
                kept += 1
            else:
                drops[f"dropped_{o.dropped_by}"] += 1
    failed = len(errors)
    if failed == len(units):
        status = "failed"
    elif kept:
        status = "ok"
    else:
        status = "dropped"
    reasons = errors[:3] + ([f"... and {failed - 3} more failed tunes"] if failed > 3 else [])
    if status == "dropped":
        by = ", ".join(f"{c[8:]}: {n}" for c, n in drops.items() if n)
        reasons.append(f"all tracks dropped ({by})" if by else "no notes found")
    return {
        "path": u0.path, "source": u0.source, "style": u0.style, "status": status,
        "reason": "; ".join(reasons), "tunes_read": len(units), "failed": failed,
        "tracks_read": read, "tracks_kept": kept, **drops,
    }  # fmt: skip


def check_accounting(report: pd.DataFrame) -> None:
    """Raise ``ValueError`` unless every track and every file is accounted for exactly."""
    dropped = report[list(DROP_COLUMNS)].sum(axis=1)
    bad = report[report["tracks_read"] != report["tracks_kept"] + dropped]
    if len(bad):
        raise ValueError(f"tracks not accounted for in {bad['path'].tolist()[:5]}")
    if not report["status"].isin(["ok", "dropped", "failed"]).all():
        raise ValueError("unknown status in the ingest report")
    if (report["failed"] > report["tunes_read"]).any():
        raise ValueError("more failed tunes than tunes read")


def funnel(report: pd.DataFrame, tracks: TrackSet | None = None) -> pd.DataFrame:
    """The report summed per style: files, tunes, tracks read/kept, drops, events kept."""
    g = report.groupby("style", sort=True)
    out = g[list(COUNT_COLUMNS)].sum()
    out.insert(0, "files", g.size())
    if tracks is not None:
        events = pd.Series(tracks.lengths, index=tracks.style_names()).groupby(level=0).sum()
        out["events"] = events.reindex(out.index).fillna(0).astype(int)
    return out.reset_index()
