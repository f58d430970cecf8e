"""Regenerate the small input files used by the data tests (run once; outputs are committed).

    .venv/bin/python tests/data/make_files.py

MIDI files are written with mido (deterministic bytes); the broken ones are made
broken on purpose: truncated in the middle of a track chunk, zero bytes, plain
text renamed ``.mid``, a drum-only file and a single repeated note.
"""

from __future__ import annotations

from pathlib import Path

import mido

HERE = Path(__file__).resolve().parent
TPQ = 480


def _track(notes, channel=0, program=0):
    """notes: (start_quarters, length_quarters, pitch) -> a mido track."""
    msgs = []
    for start, length, pitch in notes:
        msgs.append(
            (
                round(start * TPQ),
                1,
                mido.Message("note_on", note=pitch, velocity=80, channel=channel),
            )
        )
        msgs.append(
            (
                round((start + length) * TPQ),
                0,
                mido.Message("note_off", note=pitch, velocity=0, channel=channel),
            )
        )
    msgs.sort(key=lambda m: (m[0], m[1]))
    track = mido.MidiTrack(
        [mido.Message("program_change", program=program, channel=channel, time=0)]
    )
    now = 0
    for tick, _, msg in msgs:
        track.append(msg.copy(time=tick - now))
        now = tick
    return track


def _write(path: Path, tracks, tempo_qpm: float = 100.0):
    mid = mido.MidiFile(ticks_per_beat=TPQ)
    meta = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo_qpm), time=0)])
    mid.tracks.append(meta)
    mid.tracks.extend(tracks)
    mid.save(path)


def melody_notes():
    """A known melody: C major scale up and down in eighths, twice (32 notes, 2 per quarter)."""
    scale = [72, 74, 76, 77, 79, 81, 83, 84, 84, 83, 81, 79, 77, 76, 74, 72]
    return [(i * 0.5, 0.5, p) for i, p in enumerate(scale * 2)]


def main() -> None:
    midi = HERE / "midi"
    midi.mkdir(exist_ok=True)
    # a melody with a lower chord under every note (skyline must return the melody)
    # plus a drum track (dropped)
    melody = melody_notes()
    chords = [(s, n, p - 12) for s, n, p in melody] + [(s, n, p - 19) for s, n, p in melody]
    drums = [(i * 0.5, 0.25, 36 + (i % 2) * 2) for i in range(32)]
    _write(midi / "melody_drums.mid", [_track(melody + chords), _track(drums, channel=9)])
    _write(midi / "drums_only.mid", [_track(drums, channel=9)])
    _write(midi / "one_note.mid", [_track([(i, 1.0, 60) for i in range(32)])])
    full = (midi / "melody_drums.mid").read_bytes()
    (midi / "truncated.mid").write_bytes(full[: len(full) // 2])
    (midi / "zero_bytes.mid").write_bytes(b"")
    (midi / "text_renamed.mid").write_text("This is a shopping list, not a MIDI file.\n")

    music = HERE / "music"
    music.mkdir(exist_ok=True)
    tune = "M:4/4\nL:1/8\nK:G\n{body}\n"
    good1 = "GABc dedB | dedB dedB | c2ec B2dB | c2A2 A2BA |\nGABc dedB | dedB dedB | c2ec B2dB | A2F2 G4 |]"
    good2 = "d2BG d2BG | e2ce dcBA | d2BG d2BG | cedc B2G2 |\ndefg afge | d2BG A4 |]"
    (music / "mixed.abc").write_text(
        "%abc file header line: applies to every tune\nR:reel\n\n"
        f"X:1\nT:Good one\n{tune.format(body=good1)}\n"
        "X:2\nT:Broken: zero default note length\nM:4/4\nL:0/0\nK:C\nabc|\n\n"
        f"X:3\nT:Good two\n{tune.format(body=good2)}\n"
    )
    (music / "empty.abc").write_bytes(b"")
    (music / "not_xml.xml").write_text("just words, no markup\n")


if __name__ == "__main__":
    main()
