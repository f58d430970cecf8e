"""A fast reader for plain Humdrum ``**kern`` files, with music21's reading as the rule.

music21's Humdrum reader builds a whole score (measures, clefs, beams, stems,
expressions) and takes about 0.15 s per Palestrina mass movement on one core; the
1,318 of them were nearly half of the corpus parse's CPU time. What the project keeps
of a score is the notes of each part: onset, length and MIDI pitch, ties merged
(:func:`vrashlib.data.sources.score_tracks`). :func:`kern_tracks` reads exactly that,
straight from the text, for files in a strict subset of the format, and gives the
same tracks as music21 does, float for float (``benchmarks/bench_data.py --kern-all``
checks every kern file of the corpus; ``tests/test_sources.py`` a seeded sample).

The subset: every spine ``**kern`` and as many cells on every line as spines; no
spine splits, joins or exchanges (``*^ *v *x *+``), metronome marks (``*MM``),
section expansions (``*>``) or other interpretations that change what music21
reads; every data token a single note or rest of a power-of-two duration (breve
``0`` to a 64th, dots allowed; no tuplets, no grace notes, no chords), with at most
one tie sign and, besides, only stem, beam and fermata signs (``/ \\ L J ;``), which
music21 reads as drawing. Anything else returns None, and the file is read by
music21 as before.
"""

from __future__ import annotations

import re
from fractions import Fraction

# A note or rest: optional tie start, duration (power of two, or 0 = breve), dots,
# pitch letters (one letter repeated) or r, accidental, optional tie end/continue,
# drawing-only signs. music21 reads tie signs anywhere in the token; here only
# where the corpus writes them.
_TOKEN = re.compile(
    r"(?P<open>\[?)(?P<num>0|1|2|4|8|16|32|64)(?P<dots>\.*)"
    r"(?P<name>r|([a-gA-G])\5*)(?P<acc>#{1,2}|-{1,2}|n)?(?P<close>[\]_]?)[/\\LJ;]*"
)
# Interpretations that only set what music21 draws (clef, key signature, meter,
# instrument, key and mode): ignored here as music21 ignores them for the notes.
_IGNORED = re.compile(r"\*(|-|clef\S*|k\[[a-g#\-]*\]|M\d+/\d+|I\S*|[a-gA-G?][#\-]?:\S*)")
_STEP = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}
_DURATIONS = {"0": Fraction(8), **{str(n): Fraction(4, n) for n in (1, 2, 4, 8, 16, 32, 64)}}


def kern_tracks(text: str, default_qpm: float):
    """The raw tracks music21 reads from a ``**kern`` file's ``text``, or None when the
    file is outside the subset this reader knows (see the module docstring). Parts come
    in music21's order, the rightmost spine first, and are named ``p<part index>`` as
    music21's parts are (a part without notes counted)."""
    from vrashlib.data.sources import RawTrack

    spines = None
    for line in text.splitlines():
        if not line or line.startswith("!"):
            continue  # global and local comments
        cells = line.split("\t")
        if spines is None:
            if not all(c == "**kern" for c in cells):
                return None
            spines = [_Spine() for _ in cells]
            continue
        if len(cells) != len(spines):
            return None
        first = cells[0][:1]
        if first == "*":
            if not all(_IGNORED.fullmatch(c) for c in cells):
                return None
        elif first == "=":
            if not all(c.startswith("=") for c in cells):
                return None
        else:
            for spine, cell in zip(spines, cells, strict=True):
                if cell != "." and not spine.read(cell):
                    return None
    if spines is None:
        return None
    tracks = []
    for i, spine in enumerate(reversed(spines)):  # one part per spine, empty ones too
        if spine.notes.pitches:
            onsets, lengths, pitches = spine.notes.arrays()
            tracks.append(RawTrack(f"p{i}", onsets, lengths, pitches, default_qpm))
    return tracks


class _Spine:
    """The notes of one spine so far (ties merged as :func:`~vrashlib.data.sources.part_notes`
    merges them) and the time its next token starts at."""

    def __init__(self) -> None:
        from vrashlib.data.sources import TiedNotes

        self.time = Fraction(0)
        self.notes = TiedNotes()

    def read(self, token: str) -> bool:
        m = _TOKEN.fullmatch(token)
        if m is None or (m["open"] and m["close"]):
            return False
        ql = _DURATIONS[m["num"]]
        ql = ql * (2 - Fraction(1, 2 ** len(m["dots"])))  # each dot adds half the last
        onset, self.time = self.time, self.time + ql
        name = m["name"]
        if name == "r":
            return not (m["open"] or m["close"] or m["acc"])
        octave = 3 + len(name) if name[0].islower() else 4 - len(name)
        acc = m["acc"] or ""
        alter = len(acc) if acc.startswith("#") else -len(acc) if acc.startswith("-") else 0
        pitch = 12 * (octave + 1) + _STEP[name[0].lower()] + alter
        tie = {"[": "start", "]": "stop", "_": "continue"}.get(m["open"] or m["close"])
        self.notes.add(float(onset), float(ql), pitch, tie)
        return True
