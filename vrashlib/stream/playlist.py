"""Melodies played back to back: one continuous MIDI or WAV file.

Each melody is ``(events, unit_seconds)`` and keeps its own tempo, so melodies
of different speeds can follow each other (as in the stream of Fig. 5).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vrashlib.data.encoding import durations_in_units, midi_pitch
from vrashlib.files import atomic_path

QPM = 120.0  # the continuous file's tempo; each melody's own speed is in its note times


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
    separate them. Written atomically by :func:`vrashlib.sampling.audio.write_notes_midi`
    at 120 bpm (:data:`QPM`), 480 ticks per beat: 960 ticks per second.
    """
    from vrashlib.sampling.audio import TPQ, write_notes_midi

    ticks_per_second = TPQ * QPM / 60.0
    notes: list[tuple[int, int, int]] = []  # (start tick, length tick, pitch)
    t = 0.0
    for events, unit in segments:
        lengths = durations_in_units(events) * float(unit)
        starts = t + np.concatenate([[0.0], np.cumsum(lengths)[:-1]])
        for p, s, n in zip(midi_pitch(events), starts, lengths, strict=True):
            if p >= 0:
                on, off = round(s * ticks_per_second), round((s + n) * ticks_per_second)
                notes.append((on, off - on, int(p)))
        t += float(lengths.sum()) + gap_seconds
    return write_notes_midi(notes, path, qpm=QPM, program=program, velocity=velocity)


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
