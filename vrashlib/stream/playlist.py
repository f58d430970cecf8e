"""Melodies played back to back: one continuous MIDI or WAV file.

Each melody is ``(events, unit_seconds)`` and keeps its own tempo, so melodies
of different speeds can follow each other (as in the stream of Fig. 5).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vrashlib.data.encoding import durations_in_units, midi_pitch
from vrashlib.files import atomic_path


def write_segments_midi(
    segments: list[tuple[np.ndarray, float]],
    path: str | Path,
    *,
    gap_seconds: float = 1.0,
    program: int = 0,
    velocity: int = 80,
) -> Path:
    """Write melodies ``(events, unit_seconds)`` one after another into one MIDI file.

    Each melody keeps its own tempo (``unit_seconds``); ``gap_seconds`` of silence
    separate them. Written atomically at 120 bpm, 480 ticks per beat.
    """
    import mido

    tpb, tempo = 480, 500_000  # 120 bpm: 960 ticks per second
    ticks_per_second = tpb * 1e6 / tempo
    notes: list[tuple[int, int, int]] = []  # (tick, 0 = off / 1 = on, pitch)
    t = 0.0
    for events, unit in segments:
        lengths = durations_in_units(events) * float(unit)
        starts = t + np.concatenate([[0.0], np.cumsum(lengths)[:-1]])
        for p, s, n in zip(midi_pitch(events), starts, lengths, strict=True):
            if p >= 0:
                notes.append((round(s * ticks_per_second), 1, int(p)))
                notes.append((round((s + n) * ticks_per_second), 0, int(p)))
        t += float(lengths.sum()) + gap_seconds
    track = mido.MidiTrack(
        [
            mido.MetaMessage("set_tempo", tempo=tempo),
            mido.Message("program_change", program=program),
        ]
    )
    now = 0
    for tick, on, pitch in sorted(notes):
        kind = "note_on" if on else "note_off"
        track.append(
            mido.Message(kind, note=pitch, velocity=velocity if on else 0, time=tick - now)
        )
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    midi = mido.MidiFile(ticks_per_beat=tpb, tracks=[track])
    path = Path(path)
    with atomic_path(path) as tmp:
        midi.save(tmp)
    return path


def write_segments_wav(
    segments: list[tuple[np.ndarray, float]],
    path: str | Path,
    *,
    gap_seconds: float = 1.0,
    sample_rate: int = 22050,
) -> Path:
    """Synthesize melodies back to back (:func:`vrashlib.sampling.audio.synthesize`) into a 16-bit WAV.

    Each melody lasts exactly its music time (trailing rests included), so the WAV
    lines up with the continuous MIDI file.
    """
    from scipy.io import wavfile

    from vrashlib.sampling.audio import synthesize

    gap = np.zeros(int(gap_seconds * sample_rate))
    parts = []
    for events, unit in segments:
        sound = np.asarray(synthesize(events, unit, sample_rate=sample_rate), float)
        n = int(round(durations_in_units(events).sum() * unit * sample_rate))
        parts += [np.pad(sound[:n], (0, max(n - len(sound), 0))), gap]  # trailing rests too
    audio = np.concatenate(parts) if parts else gap
    peak = float(np.abs(audio).max(initial=0.0))
    pcm = (audio / peak * 0.9 * 32767 if peak > 0 else audio).astype(np.int16)
    path = Path(path)
    with atomic_path(path) as tmp:
        wavfile.write(tmp, sample_rate, pcm)
    return path
