"""Where tracks come from: enumerate inputs as work units and parse them into notes.

Inputs:

- the music21 corpus (:func:`corpus_units`): the collections of
  :data:`vrashlib.config.CORPUS_STYLES`; ABC files are split into one unit per
  tune (on their ``X:`` lines, the file header kept in front of each tune), every
  other file is one unit; each part (voice) of a piece is a track;
- any folder of MIDI files (:func:`midi_units`), parsed with symusic (about 1000x
  faster than music21): every MIDI track with notes is a track, drum tracks
  (``is_drum``, channel 10) are kept only to be counted and dropped;
- any folder of ABC / MusicXML / kern files (:func:`music_units`), through music21.

A unit parses (:func:`parse_unit`) into :class:`RawTrack` objects: possibly
polyphonic notes with onsets and lengths in quarter notes, and the tempo.
Tempo rule: the first metronome mark (music21) or tempo event (MIDI); without
one, :data:`DEFAULT_QPM` (120 quarter notes per minute, the MIDI default).
Repeats are not expanded, grace notes (zero length) and unpitched notes are
ignored, and a chord contributes all its pitches (the skyline rule in
:mod:`vrashlib.data.normalise` then keeps the highest one).

Style labels of the corpus come from the collection; the Essen folksong files
are refined by their file-name prefix (:data:`ESSEN_STYLES`): ``han*`` are
Chinese (Han) songs, ``irl`` Irish songs, the rest German-language collections
(Germany, Lorraine, Luxembourg, central-European ballads). Essen's ``test*``
files are music21's parser fixtures (tunes duplicated from the other files)
and are skipped.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DEFAULT_QPM = 120.0
MIDI_SUFFIXES = (".mid", ".midi")
# Preference when one piece exists in several formats (same file stem).
MUSIC_SUFFIXES = (".mxl", ".musicxml", ".xml", ".krn", ".abc")

ESSEN_STYLES: tuple[tuple[str, str], ...] = (
    ("han", "chinese_folk"),
    ("irl", "irish_folk"),
    ("", "german_folk"),  # everything else
)
ESSEN_SKIP_PREFIX = "test"

_X_LINE = re.compile(r"^X:\s*(\S*)", re.MULTILINE)


@dataclass(frozen=True)
class WorkUnit:
    """One parsing job: a whole file, or one tune (``tune="X:12"``) of an ABC file.

    ``path`` is absolute; ``name`` is the portable file name used in track ids
    (``<source>/<path relative to the source folder>``).
    """

    path: str
    name: str
    source: str
    style: str
    kind: str  # "midi" | "music21" | "abc"
    tune: str | None = None
    text: str | None = None  # the tune's ABC text (header + tune) for kind "abc"

    @property
    def label(self) -> str:
        """Where a failure happened: ``file`` or ``file#X:12``."""
        return f"{self.path}#{self.tune}" if self.tune else self.path


@dataclass(frozen=True)
class RawTrack:
    """Notes of one part before normalisation (times in quarter notes)."""

    name: str
    onsets: np.ndarray  # float64 quarter notes
    lengths: np.ndarray  # float64 quarter notes
    pitches: np.ndarray  # int MIDI pitch
    qpm: float  # quarter notes per minute
    is_drum: bool = False


# ------------------------------------------------------------------ enumeration
def essen_style(file_name: str) -> str:
    """Style of an Essen folksong file from its name prefix (see module docs)."""
    for prefix, style in ESSEN_STYLES:
        if file_name.startswith(prefix):
            return style
    raise AssertionError("unreachable: the empty prefix matches everything")


def split_abc(text: str) -> list[tuple[str, str]]:
    """Split an ABC file into ``[(reference, tune_text)]``.

    Every tune keeps the file header (lines before the first ``X:``) in front of
    it, so that file-wide fields (``L:``, ``M:``) still apply. A file without
    ``X:`` lines is one tune with reference ``"X:"``.
    """
    starts = [m.start() for m in _X_LINE.finditer(text)]
    if not starts:
        return [("X:", text)] if text.strip() else []
    header = text[: starts[0]]
    bounds = starts + [len(text)]
    tunes = []
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        ref = _X_LINE.match(text, a).group(1)
        tunes.append((f"X:{ref}", header + text[a:b]))
    return tunes


def _dedupe_by_stem(files: list[Path]) -> list[Path]:
    """One file per piece: where a stem exists in several formats keep the preferred one."""
    best: dict[Path, Path] = {}
    for f in files:
        key = f.with_suffix("")
        rank = MUSIC_SUFFIXES.index(f.suffix.lower())
        if key not in best or rank < MUSIC_SUFFIXES.index(best[key].suffix.lower()):
            best[key] = f
    return sorted(best.values())


def _files(folder: Path, suffixes: tuple[str, ...]) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in suffixes)


def _file_units(folder: Path, files: list[Path], source: str, style: str, kind: str):
    units = []
    for f in files:
        name = f"{source}/{f.relative_to(folder).as_posix()}"
        if kind != "midi" and f.suffix.lower() == ".abc":
            units.extend(_abc_units(f, name, source, style))
        else:
            units.append(WorkUnit(str(f), name, source, style, kind))
    return units


def _abc_units(path: Path, name: str, source: str, style: str) -> list[WorkUnit]:
    """One unit per tune; an unreadable file becomes one unit that fails when parsed."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return [WorkUnit(str(path), name, source, style, "music21")]
    tunes = split_abc(text)
    if not tunes:  # empty file: one unit, which the parser reports
        return [WorkUnit(str(path), name, source, style, "abc", None, text)]
    return [WorkUnit(str(path), name, source, style, "abc", ref, t) for ref, t in tunes]


def corpus_files(corpus_dir: Path, collection: str) -> list[Path]:
    """The music files of one corpus collection (deduplicated, Essen tests skipped)."""
    folder = corpus_dir / collection
    if not folder.is_dir():
        raise FileNotFoundError(f"music21 corpus collection {collection!r} not found at {folder}")
    files = _dedupe_by_stem(_files(folder, MUSIC_SUFFIXES))
    if collection == "essenFolksong":
        files = [f for f in files if not f.name.startswith(ESSEN_SKIP_PREFIX)]
    return files


def corpus_units(corpus_dir: Path, collection: str, style: str) -> list[WorkUnit]:
    """Work units of one corpus collection, in a fixed order (sorted path, tune order)."""
    units = []
    for f in corpus_files(corpus_dir, collection):
        s = essen_style(f.name) if collection == "essenFolksong" else style
        units.extend(_file_units(corpus_dir / collection, [f], collection, s, "music21"))
    return units


def midi_files(folder: Path) -> list[Path]:
    return _files(folder, MIDI_SUFFIXES)


def music_files(folder: Path) -> list[Path]:
    return _dedupe_by_stem(_files(folder, MUSIC_SUFFIXES))


def midi_units(folder: Path, source: str, style: str) -> list[WorkUnit]:
    """One unit per MIDI file under ``folder`` (recursively)."""
    return _file_units(folder, midi_files(folder), source, style, "midi")


def music_units(folder: Path, source: str, style: str) -> list[WorkUnit]:
    """Units for every ABC (per tune) / MusicXML / kern file under ``folder``."""
    return _file_units(folder, music_files(folder), source, style, "music21")


# ---------------------------------------------------------------------- parsing
def parse_unit(unit: WorkUnit) -> list[RawTrack]:
    """Parse one unit into raw tracks; raises on any unreadable input."""
    if unit.kind == "midi":
        return parse_midi(Path(unit.path))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # music21 warns on every odd ABC field
        from music21 import converter

        if unit.kind == "abc":
            if not unit.text or "K:" not in unit.text:
                raise ValueError("no ABC tune body (no K: field)")
            score = converter.parseData(unit.text, format="abc")
        else:
            path = Path(unit.path)
            if path.stat().st_size == 0:
                raise ValueError("empty file (0 bytes)")
            score = converter.parse(path, forceSource=True)
        return score_tracks(score)


def score_tracks(score) -> list[RawTrack]:
    """Raw tracks of a music21 score: one per part (the score itself if it has none)."""
    from music21 import tempo

    marks = score.recurse().getElementsByClass(tempo.MetronomeMark)
    mark = marks.first() if marks else None
    qpm = float(mark.getQuarterBPM()) if mark is not None and mark.getQuarterBPM() else DEFAULT_QPM
    parts = list(getattr(score, "parts", [])) or [score]
    tracks = []
    for i, part in enumerate(parts):
        onsets, lengths, pitches = part_notes(part)
        if len(pitches):
            tracks.append(RawTrack(f"p{i}", onsets, lengths, pitches, qpm))
    return tracks


def part_notes(part) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Onsets, lengths (quarter notes) and MIDI pitches of a part, ties merged.

    Same result as music21's ``stripTies`` (tested) at a third of the cost: a
    tied continuation extends the open note of the same pitch.
    """
    from music21 import chord, note

    onsets: list[float] = []
    lengths: list[float] = []
    pitches: list[int] = []
    open_ties: dict[int, int] = {}
    for n in part.flatten().notes:
        ql = float(n.quarterLength)
        if ql <= 0:
            continue  # grace note
        if isinstance(n, chord.Chord):
            members = [(int(c.pitch.midi), c.tie or n.tie) for c in n.notes]
        elif isinstance(n, note.Note):
            members = [(int(n.pitch.midi), n.tie)]
        else:  # unpitched
            continue
        for p, tie in members:
            kind = tie.type if tie is not None else None
            if kind in ("continue", "stop") and p in open_ties:
                lengths[open_ties[p]] += ql
                if kind == "stop":
                    del open_ties[p]
                continue
            if kind in ("start", "continue"):
                open_ties[p] = len(pitches)
            onsets.append(float(n.offset))
            lengths.append(ql)
            pitches.append(p)
    return (
        np.asarray(onsets, np.float64),
        np.asarray(lengths, np.float64),
        np.asarray(pitches, np.int64),
    )


def parse_midi(path: Path) -> list[RawTrack]:
    """Raw tracks of a MIDI file with symusic (exact tick times over ticks per quarter)."""
    import symusic

    if path.stat().st_size == 0:
        raise ValueError("empty file (0 bytes)")
    score = symusic.Score(str(path), ttype="tick")
    tpq = float(score.ticks_per_quarter)
    if tpq <= 0:
        raise ValueError(f"invalid ticks per quarter note {tpq}")
    qpm = float(score.tempos[0].qpm) if len(score.tempos) else DEFAULT_QPM
    tracks = []
    for i, track in enumerate(score.tracks):
        if len(track.notes) == 0:
            continue  # conductor / lyrics / controller-only tracks hold no melody
        a = track.notes.numpy()
        tracks.append(
            RawTrack(
                name=f"t{i}",
                onsets=a["time"].astype(np.float64) / tpq,
                lengths=a["duration"].astype(np.float64) / tpq,
                pitches=a["pitch"].astype(np.int64),
                qpm=qpm,
                is_drum=bool(track.is_drum),
            )
        )
    return tracks
