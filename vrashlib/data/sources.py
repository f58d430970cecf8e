"""Where tracks come from: enumerate inputs as work units and parse them into notes.

Inputs:

- the music21 corpus (:func:`corpus_units`): the collections of
  :data:`vrashlib.config.CORPUS_STYLES`; ABC files are split into one unit per
  tune (on their ``X:`` lines, the file header kept in front of each tune), every
  other file is one unit; each part (voice) of a piece is a track;
- any folder of MIDI files (:func:`midi_units`), parsed with symusic (about 1000x
  faster than music21): every MIDI track with notes is a track, drum tracks
  (``is_drum``, channel 10) and sound-effect programs are kept only to be counted
  and dropped;
- any folder of ABC / MusicXML / kern files (:func:`music_units`), through music21;
  a plain ``**kern`` file (no spine splits, tuplets, chords or ornaments: the
  Palestrina masses) is read without it, 29x faster, into the same tracks
  (:mod:`vrashlib.data.kern`).

Every entry under a folder that looks like input gets a unit, so that it has a row
in the ingest report (:func:`scan_folder`): symlinked folders are followed once
(a loop, or a second way into a folder already read, is a ``skip`` unit naming
it), and a dangling symlink, an unreadable folder, or something named like a
music file that is not a file is an ``error`` unit with the reason. The other
formats of a piece read in its preferred one (:data:`MUSIC_SUFFIXES`), and the
Essen ``test*`` fixtures, are ``skip`` units too.

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

import contextlib
import errno
import os
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
    kind: str  # "midi" | "music21" | "abc"; "skip" / "error": not parsed, see text
    tune: str | None = None
    # The tune's ABC text (header + tune) for kind "abc"; the reason for "skip"/"error".
    text: str | None = None

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
    program: int | None = None  # General MIDI program 0..127 of a MIDI track


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


@dataclass(frozen=True)
class Entry:
    """An entry under an input folder that is not read as input, and why.

    ``status`` is ``"skip"`` when nothing is lost (its content is read another way)
    and ``"error"`` when the user would expect it to be read.
    """

    path: Path
    status: str  # "skip" | "error"
    reason: str


def _pick_formats(files: list[Path]) -> tuple[list[Path], list[Entry]]:
    """One file per piece: where a stem exists in several formats keep the preferred one."""
    best: dict[Path, Path] = {}
    for f in files:
        key = f.with_suffix("")
        rank = MUSIC_SUFFIXES.index(f.suffix.lower())
        if key not in best or rank < MUSIC_SUFFIXES.index(best[key].suffix.lower()):
            best[key] = f
    kept = set(best.values())
    others = [
        Entry(f, "skip", f"another format of {best[f.with_suffix('')].name}, which is read")
        for f in files
        if f not in kept
    ]
    return sorted(kept), others


_FOLDER_NAMED_LIKE_INPUT = "a folder named like an input file; its files are read"
_NOT_A_FILE = "not a regular file (a device, pipe or socket)"


def scan_folder(folder: Path, suffixes: tuple[str, ...]) -> tuple[list[Path], list[Entry]]:
    """Files under ``folder`` (recursively) whose suffix is one of ``suffixes``, sorted,
    and the entries that look like input but are not read, with the reason.

    Symlinked folders are followed, each real folder once: a symlink back into the
    folder being read is a loop, a second way into a folder already read says which
    path was read. A dangling or looping symlink, a folder that cannot be listed,
    and a non-file named like an input (a folder ``x.mid``, whose content is still
    read) become entries, so that the ingest report can give each a row.
    """
    files: list[Path] = []
    entries: list[Entry] = []
    read_dirs: dict[tuple[int, int], Path] = {}
    read_files: dict[tuple[int, int], Path] = {}

    def looks_like_input(path: Path) -> bool:
        return path.suffix.lower() in suffixes

    def walk(path: Path, ancestors: frozenset[tuple[int, int]]) -> None:
        st = path.stat()
        key = (st.st_dev, st.st_ino)
        if key in ancestors:
            entries.append(Entry(path, "skip", f"symlink loop: {path} leads back into a parent"))
            return
        if key in read_dirs:
            entries.append(Entry(path, "skip", f"same folder as {read_dirs[key]}, read there"))
            return
        read_dirs[key] = path
        try:
            with os.scandir(path) as it:
                children = sorted(it, key=lambda e: e.name)
        except PermissionError:
            entries.append(Entry(path, "error", "permission denied: cannot list this folder"))
            return
        except OSError as err:
            entries.append(Entry(path, "error", f"cannot list this folder: {err.strerror}"))
            return
        inside = ancestors | {key}
        for child in children:
            p = Path(child.path)
            try:
                cst = p.stat()  # follows symlinks
            except OSError as err:
                if not child.is_symlink():
                    entries.append(Entry(p, "error", f"cannot read: {err.strerror}"))
                    continue
                target = os.readlink(p)
                if err.errno == errno.ELOOP:
                    entries.append(Entry(p, "error", f"symlink loop: {p} -> {target}"))
                else:
                    entries.append(Entry(p, "error", f"dangling symlink: {p} -> {target}"))
                continue
            if child.is_dir():  # a folder, or a symlink to one: follow it
                if looks_like_input(p):
                    entries.append(Entry(p, "skip", _FOLDER_NAMED_LIKE_INPUT))
                walk(p, inside)
            elif looks_like_input(p):
                fkey = (cst.st_dev, cst.st_ino)
                if not child.is_file():
                    entries.append(Entry(p, "error", _NOT_A_FILE))
                elif fkey in read_files:
                    entries.append(Entry(p, "skip", f"same file as {read_files[fkey]}, read there"))
                else:
                    read_files[fkey] = p
                    files.append(p)

    walk(Path(folder), frozenset())
    return sorted(files), sorted(entries, key=lambda e: str(e.path))


def _entry_units(folder: Path, entries: list[Entry], source: str, style: str) -> list[WorkUnit]:
    return [
        WorkUnit(
            str(e.path), _name(folder, e.path, source), source, style, e.status, None, e.reason
        )
        for e in entries
    ]


def _name(folder: Path, path: Path, source: str) -> str:
    return f"{source}/{path.relative_to(folder).as_posix()}"


def _file_units(folder: Path, files: list[Path], source: str, style: str, kind: str):
    units = []
    for f in files:
        name = _name(folder, f, source)
        if kind != "midi" and f.suffix.lower() == ".abc":
            units.extend(_abc_units(f, name, source, style))
        else:
            units.append(WorkUnit(str(f), name, source, style, kind))
    return units


def _abc_units(path: Path, name: str, source: str, style: str) -> list[WorkUnit]:
    """One unit per tune; an unreadable file becomes one unit that fails when parsed."""
    try:
        text = read_bytes(path).decode("utf-8", errors="replace")
    except OSError:  # reported when parsed, by the same call
        return [WorkUnit(str(path), name, source, style, "music21")]
    tunes = split_abc(text)
    if not tunes:  # empty file: one unit, which the parser reports
        return [WorkUnit(str(path), name, source, style, "abc", None, text)]
    return [WorkUnit(str(path), name, source, style, "abc", ref, t) for ref, t in tunes]


def _corpus_scan(corpus_dir: Path, collection: str) -> tuple[list[Path], list[Entry]]:
    folder = corpus_dir / collection
    if not folder.is_dir():
        raise FileNotFoundError(f"music21 corpus collection {collection!r} not found at {folder}")
    found, entries = scan_folder(folder, MUSIC_SUFFIXES)
    files, others = _pick_formats(found)
    entries += others
    if collection == "essenFolksong":
        fixture = "music21's parser test file (tunes duplicated from the other files)"
        entries += [
            Entry(f, "skip", fixture) for f in files if f.name.startswith(ESSEN_SKIP_PREFIX)
        ]
        files = [f for f in files if not f.name.startswith(ESSEN_SKIP_PREFIX)]
    return files, sorted(entries, key=lambda e: str(e.path))


def corpus_files(corpus_dir: Path, collection: str) -> list[Path]:
    """The music files of one corpus collection (deduplicated, Essen tests skipped)."""
    return _corpus_scan(corpus_dir, collection)[0]


def corpus_units(corpus_dir: Path, collection: str, style: str) -> list[WorkUnit]:
    """Work units of one corpus collection, in a fixed order (sorted path, tune order),
    then a ``skip``/``error`` unit per entry not read (see :func:`scan_folder`)."""
    folder = corpus_dir / collection
    files, entries = _corpus_scan(corpus_dir, collection)
    units = []
    for f in files:
        s = essen_style(f.name) if collection == "essenFolksong" else style
        units.extend(_file_units(folder, [f], collection, s, "music21"))
    for e in entries:
        s = essen_style(e.path.name) if collection == "essenFolksong" else style
        units.extend(_entry_units(folder, [e], collection, s))
    return units


def midi_files(folder: Path) -> list[Path]:
    return scan_folder(folder, MIDI_SUFFIXES)[0]


def music_files(folder: Path) -> list[Path]:
    return _pick_formats(scan_folder(folder, MUSIC_SUFFIXES)[0])[0]


def midi_units(folder: Path, source: str, style: str) -> list[WorkUnit]:
    """One unit per MIDI file under ``folder`` (recursively), then one per entry not read."""
    files, entries = scan_folder(folder, MIDI_SUFFIXES)
    units = _file_units(folder, files, source, style, "midi")
    return units + _entry_units(folder, entries, source, style)


def music_units(folder: Path, source: str, style: str) -> list[WorkUnit]:
    """Units for every ABC (per tune) / MusicXML / kern file under ``folder``, then one
    per entry not read (other formats of a piece included)."""
    found, entries = scan_folder(folder, MUSIC_SUFFIXES)
    files, others = _pick_formats(found)
    units = _file_units(folder, files, source, style, "music21")
    entries = sorted(entries + others, key=lambda e: str(e.path))
    return units + _entry_units(folder, entries, source, style)


# ---------------------------------------------------------------------- parsing
def read_bytes(path: Path) -> bytes:
    """The bytes of an input file: the one place inputs are opened, so that an
    unreadable file fails with ``PermissionError`` (reported as "permission denied")
    whatever the parser would have said."""
    return Path(path).read_bytes()


def parse_unit(unit: WorkUnit) -> list[RawTrack]:
    """Parse one unit into raw tracks; raises on any unreadable input."""
    if unit.kind in ("skip", "error"):
        raise ValueError(f"not parsed ({unit.kind}): {unit.text}")
    if unit.kind == "midi":
        return parse_midi(Path(unit.path))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # music21 warns on every odd ABC field
        from music21 import converter

        if unit.kind == "abc":
            if not unit.text or "K:" not in unit.text:
                raise ValueError("no ABC tune body (no K: field)")
            score = abc_score(unit.text)
        else:
            path = Path(unit.path)
            data = read_bytes(path)
            if not data:
                raise ValueError("empty file (0 bytes)")
            fast = _plain_kern(path, data)
            if fast is not None:
                return fast
            score = converter.parse(path, forceSource=True)
        return score_tracks(score)


def _plain_kern(path: Path, data: bytes) -> list[RawTrack] | None:
    """The tracks of a plain ``**kern`` file read without music21 (the same tracks, 40x
    faster: :mod:`vrashlib.data.kern`), or None for anything else."""
    if path.suffix.lower() != ".krn":
        return None
    from vrashlib.data.kern import kern_tracks

    # Latin-1 reads any bytes; the notes are ASCII (anything else is not in the subset),
    # only comments hold accents (the corpus's are Latin-1, not UTF-8).
    return kern_tracks(data.decode("latin-1"), DEFAULT_QPM)


def abc_score(text: str, *, beaming: bool = False):
    """music21's score of one ABC tune, without music21's beaming unless ``beaming``
    (as music21 itself reads it: slower, the same notes; see :func:`without_beaming`)."""
    from music21 import converter

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # music21 warns on every odd ABC field
        if beaming:
            return converter.parseData(text, format="abc")
        with without_beaming():
            return converter.parseData(text, format="abc")


def _no_beams(self, *, inPlace=False, **_):  # noqa: N803 - music21's signature
    return None if inPlace else self


@contextlib.contextmanager
def without_beaming():
    """Parse with music21's ``Stream.makeBeams`` turned off, then put it back.

    music21's ABC reader beams every measure once it is read (beams and stem
    directions: drawing only, no note's pitch, onset, length or tie changes); on the
    corpus's tunes that is 58 % of the parse. What a parse gives is the same without it
    (``tests/test_sources.py`` compares the tracks of corpus tunes both ways).
    """
    from music21.stream.base import Stream

    original = Stream.makeBeams
    Stream.makeBeams = _no_beams
    try:
        yield
    finally:
        Stream.makeBeams = original


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


class TiedNotes:
    """Notes in time order with ties merged: a tied continuation (``"continue"`` or
    ``"stop"``) of an open note of the same pitch adds its length to that note; ``tie``
    is ``"start"``, ``"continue"``, ``"stop"`` or None. Used by :func:`part_notes` and
    the kern reader (:mod:`vrashlib.data.kern`)."""

    def __init__(self) -> None:
        self.onsets: list[float] = []
        self.lengths: list[float] = []
        self.pitches: list[int] = []
        self.open_ties: dict[int, int] = {}

    def add(self, onset: float, length: float, pitch: int, tie: str | None) -> None:
        if tie in ("continue", "stop") and pitch in self.open_ties:
            self.lengths[self.open_ties[pitch]] += length
            if tie == "stop":
                del self.open_ties[pitch]
            return
        if tie in ("start", "continue"):
            self.open_ties[pitch] = len(self.pitches)
        self.onsets.append(onset)
        self.lengths.append(length)
        self.pitches.append(pitch)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Onsets and lengths (float64 quarter notes) and MIDI pitches (int64)."""
        return (
            np.asarray(self.onsets, np.float64),
            np.asarray(self.lengths, np.float64),
            np.asarray(self.pitches, np.int64),
        )


def part_notes(part) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Onsets, lengths (quarter notes) and MIDI pitches of a part, ties merged.

    Same result as music21's ``stripTies`` (tested) at a third of the cost: a
    tied continuation extends the open note of the same pitch.
    """
    from music21 import chord, note

    notes = TiedNotes()
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
            notes.add(float(n.offset), ql, p, tie.type if tie is not None else None)
    return notes.arrays()


def parse_midi(path: Path) -> list[RawTrack]:
    """Raw tracks of a MIDI file with symusic (exact tick times over ticks per quarter)."""
    import symusic

    data = read_bytes(path)
    if not data:
        raise ValueError("empty file (0 bytes)")
    score = symusic.Score.from_midi(data, ttype="tick")
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
                program=int(track.program),
            )
        )
    return tracks
