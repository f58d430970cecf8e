"""Read every input in parallel and account for it: work units in, outcomes and report out.

:func:`enumerate_inputs` lists the work units (corpus collections, MIDI and
music folders; a seeded sample per source when asked; every entry that looks
like input but is not read becomes a ``skip``/``error`` unit, see
:func:`vrashlib.data.sources.scan_folder`), :func:`run_units` parses and
normalises them in worker processes (:mod:`vrashlib.data.pool`), each input
under a time limit (a bad or hanging file becomes an error text, never an
exception), and :func:`report_row` /
:func:`funnel` turn the outcomes into the ingest report, whose identities
:func:`check_accounting` enforces. :mod:`vrashlib.data.prepare` assembles the
dataset from them.
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from vrashlib import paths
from vrashlib.config import CORPUS_STYLES, DataConfig
from vrashlib.data.normalise import FILTERS, normalise_track, skyline
from vrashlib.data.pool import map_units
from vrashlib.data.sources import (
    MIDI_SUFFIXES,
    MUSIC_SUFFIXES,
    WorkUnit,
    corpus_units,
    midi_units,
    music_units,
    parse_unit,
)
from vrashlib.data.tracks import TrackSet

log = logging.getLogger(__name__)

DROP_COLUMNS = tuple(f"dropped_{f}" for f in FILTERS)
REPORT_COLUMNS = (
    "path", "source", "style", "status", "reason", "tunes_read", "failed",
    "tracks_read", "tracks_kept", *DROP_COLUMNS,
)  # fmt: skip
COUNT_COLUMNS = ("tunes_read", "failed", "tracks_read", "tracks_kept", *DROP_COLUMNS)
STATUSES = ("ok", "dropped", "failed", "skipped")
# General MIDI programs 120..127 (0-based): guitar fret noise, breath noise, seashore,
# bird tweet, telephone ring, helicopter, applause, gunshot. Sound effects, not melodies.
SOUND_EFFECT_PROGRAMS = range(120, 128)
NOT_PARSED = ("skip", "error")  # unit kinds that stand for an entry not read


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
    accompaniment: float = 0.0  # share of notes in repeated broken-chord figures


# ------------------------------------------------------------------ workers
def error_text(err: BaseException, path: str = "") -> str:
    """One line (at most 300 characters) a user can act on, for an input that failed."""
    if isinstance(err, PermissionError):
        return f"permission denied: cannot read {path or err.filename}"
    if isinstance(err, FileNotFoundError):
        return f"file not found: {path or err.filename}"
    text = " ".join(f"{type(err).__name__}: {err}".split())
    return text[:300]


def process_unit(unit: WorkUnit, params: dict) -> tuple[str | None, list[TrackOutcome]]:
    """Parse and normalise one unit; ``(error text or None, outcomes)``. Never raises."""
    if unit.kind in NOT_PARSED:
        return unit.text or unit.kind, []
    try:
        raws = parse_unit(unit)
    except Exception as err:  # noqa: BLE001 - any bad input is reported, never fatal
        return error_text(err, unit.path), []
    lo, hi = params["min_qpm"], params["max_qpm"]
    bad_tempo = [r.qpm for r in raws if not (math.isfinite(r.qpm) and lo <= r.qpm <= hi)]
    if bad_tempo:
        return (
            f"implausible tempo {bad_tempo[0]:g} quarter notes per minute (allowed "
            f"{lo:g} to {hi:g}: data.min_qpm, data.max_qpm)",
            [],
        )
    prefix = f"{unit.name}#{unit.tune}" if unit.tune else unit.name
    outcomes = []
    for raw in raws:
        tid = f"{prefix}#{raw.name}"
        if raw.is_drum or raw.program in SOUND_EFFECT_PROGRAMS:
            reason = "drums" if raw.is_drum else "sound_effect"
            outcomes.append(TrackOutcome(tid, None, 0.0, reason, len(raw.pitches), 0.0, 0))
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
            max_accompaniment_share=params["max_accompaniment_share"],
        )
        outcomes.append(
            TrackOutcome(
                tid, r.events, r.unit_seconds, r.dropped_by, r.n_events,
                r.pitch_entropy, r.distinct_durations, r.accompaniment,
            )
        )  # fmt: skip
    return None, outcomes


def run_units(
    units: list[WorkUnit], params: dict, workers: int, progress: bool, timeout: float
) -> list:
    """:func:`process_unit` of every unit, in unit order, in ``workers`` processes,
    each unit under ``timeout`` seconds (see :func:`vrashlib.data.pool.map_units`);
    ``skip`` and ``error`` units are answered here, without a worker."""
    results: list = [None] * len(units)
    todo = []
    for i, u in enumerate(units):
        if u.kind in NOT_PARSED:
            results[i] = process_unit(u, params)
        else:
            todo.append(i)
    done = map_units(
        process_unit, [units[i] for i in todo], params,
        workers=workers, timeout=timeout, progress=progress,
    )  # fmt: skip
    for i, r in zip(todo, done, strict=True):
        results[i] = r
    return results


# --------------------------------------------------------------- enumeration
def _sample(units: list[WorkUnit], k: int | None, seed: int, source: str) -> list[WorkUnit]:
    """A seeded subset of ``k`` parseable units kept in their original order; the
    entries not read (``skip``/``error`` units) are always kept, after them."""
    parse = [u for u in units if u.kind not in NOT_PARSED]
    rest = [u for u in units if u.kind in NOT_PARSED]
    if k is None or len(parse) <= k:
        return parse + rest
    rng = np.random.default_rng([seed, int(hashlib.sha256(source.encode()).hexdigest()[:8], 16)])
    keep = np.sort(rng.choice(len(parse), size=k, replace=False))
    return [parse[i] for i in keep] + rest


def _check_dir(folder: Path, what: str) -> Path:
    folder = Path(folder)
    if not folder.exists():
        raise FileNotFoundError(f"{what} folder {folder} does not exist")
    if not folder.is_dir():
        raise NotADirectoryError(f"{what} path {folder} is not a folder")
    return folder.resolve()


def _nothing_found(folder: Path, suffixes: tuple[str, ...]) -> str:
    """Why a folder gave no input: empty, or which other files it holds."""
    try:
        others = sorted(p.name for p in folder.rglob("*") if p.is_file())
    except OSError:
        others = []
    kinds = "/".join(suffixes)
    if not others:
        return f"{folder} is empty (no {kinds} file)"
    shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
    return f"{folder} holds no {kinds} file ({len(others)} other files: {shown})"


def enumerate_inputs(
    cfg: DataConfig,
    *,
    midi_dirs=(),
    music_dirs=(),
    use_corpus: bool = True,
) -> tuple[list[WorkUnit], list[dict]]:
    """All work units (sampled per source when ``cfg.max_tunes_per_collection``) and the
    source list, each source with ``units_found`` and ``units_sampled`` (parseable units).

    Raises ``ValueError`` when a folder of yours holds no input at all (saying what it
    holds instead).
    """
    units: list[WorkUnit] = []
    sources: list[dict] = []
    k = cfg.max_tunes_per_collection
    if use_corpus:
        corpus = paths.music21_corpus_dir()
        for coll in cfg.collections:
            if coll not in CORPUS_STYLES:
                raise KeyError(
                    f"unknown corpus collection {coll!r}; known: {sorted(CORPUS_STYLES)}"
                )
            found = corpus_units(corpus, coll, CORPUS_STYLES[coll])
            picked = _sample(found, k, cfg.seed, coll)
            units += picked
            sources.append(
                {"kind": "corpus", "collection": coll, "style": CORPUS_STYLES[coll],
                 **_counts(found, picked)}
            )  # fmt: skip
    names: set[str] = {s.get("collection", "") for s in sources}
    for kind, dirs, make, suffixes in (
        ("midi", midi_dirs, midi_units, MIDI_SUFFIXES),
        ("music", music_dirs, music_units, MUSIC_SUFFIXES),
    ):
        for folder, style in dirs:
            folder = _check_dir(folder, kind.upper() if kind == "midi" else "music")
            if not style:
                raise ValueError(f"{kind} folder {folder} needs a style label")
            source = folder.name or kind
            while source in names:
                source += "_"
            names.add(source)
            found = make(folder, source, style)
            if not found:
                raise ValueError(
                    f"nothing to read: {kind} folder {_nothing_found(folder, suffixes)}"
                )
            picked = _sample(found, k, cfg.seed, source)
            counts = _counts(found, picked)
            if counts["units_sampled"] < counts["units_found"]:
                log.warning(
                    "%s folder %s: read a seeded sample of %d of its %d files/tunes, "
                    "skipped %d (data.max_tunes_per_collection=%d)",
                    kind, folder, counts["units_sampled"], counts["units_found"],
                    counts["units_found"] - counts["units_sampled"], k,
                )  # fmt: skip
            units += picked
            sources.append(
                {"kind": kind, "path": str(folder), "source": source, "style": style, **counts}
            )
    return units, sources


def _counts(found: list[WorkUnit], picked: list[WorkUnit]) -> dict[str, int]:
    n = sum(u.kind not in NOT_PARSED for u in found)
    return {"units_found": n, "units_sampled": sum(u.kind not in NOT_PARSED for u in picked)}


def fingerprint(units: list[WorkUnit]) -> str:
    """Hash of the unit list and each input file's size and modification time."""
    h = hashlib.sha256()
    seen: set[str] = set()
    for u in units:
        h.update(f"{u.name}|{u.tune}|{u.style}|{u.kind}\n".encode())
        if u.kind in NOT_PARSED:
            h.update(f"{u.text}\n".encode())
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
    """The ingest report's row of one file (its units: the file, or its tunes)."""
    u0 = units[0]
    drops = {c: 0 for c in DROP_COLUMNS}
    if u0.kind in NOT_PARSED:  # an entry not read: a row that says why
        failed = int(u0.kind == "error")
        return {
            "path": u0.path, "source": u0.source, "style": u0.style,
            "status": "failed" if failed else "skipped", "reason": results[0][0],
            "tunes_read": failed, "failed": failed, "tracks_read": 0, "tracks_kept": 0, **drops,
        }  # fmt: skip
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
    if not report["status"].isin(STATUSES).all():
        raise ValueError("unknown status in the ingest report")
    if (report["failed"] > report["tunes_read"]).any():
        raise ValueError("more failed tunes than tunes read")
    if (report["reason"].eq("") & report["status"].isin(["failed", "skipped"])).any():
        raise ValueError("a failed or skipped input without a reason")


def funnel(report: pd.DataFrame, tracks: TrackSet | None = None) -> pd.DataFrame:
    """The report summed per style: files read (not skipped), tunes, tracks read/kept,
    drops, events kept."""
    read = report[report["status"] != "skipped"]
    g = read.groupby("style", sort=True)
    out = g[list(COUNT_COLUMNS)].sum()
    out.insert(0, "files", g.size())
    if tracks is not None:
        events = pd.Series(tracks.lengths, index=tracks.style_names()).groupby(level=0).sum()
        out["events"] = events.reindex(out.index).fillna(0).astype(int)
    return out.reset_index()
