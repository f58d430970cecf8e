"""Turn a track back into music: MIDI files, audio, and notebook previews.

Timing: an event of duration ratio ``r`` lasts ``r * unit_seconds`` seconds.
MIDI files use 480 ticks per beat and a tempo at which one beat equals one
duration unit, so every ratio of the vocabulary (denominators up to 16, and
triplets) is an exact number of ticks and the file reads back to the same
events. Audio comes from FluidSynth with a General MIDI soundfont when both are
installed (``VRASH_SOUNDFONT`` points to one), else from a small numpy additive
synthesiser.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from vrashlib.data.encoding import (
    N_PITCH_CLASSES,
    durations_in_units,
    midi_pitch,
    strip_end,
    validate_events,
)
from vrashlib.files import atomic_path

TPQ = 480  # ticks per beat; one beat = one duration unit
SOUNDFONTS = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/soundfonts/FluidR3_GM.sf2",
    "/usr/share/soundfonts/default.sf2",
)


def _timed_notes(events: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(start, length) in units and MIDI pitch of every note (rests skipped)."""
    events = strip_end(np.asarray(events))
    validate_events(events)
    units = durations_in_units(events)
    starts = np.concatenate([[0.0], np.cumsum(units)[:-1]])
    notes = events[:, 0] < N_PITCH_CLASSES
    return starts[notes], units[notes], midi_pitch(events)[notes]


def write_notes_midi(
    notes, path: str | Path, *, qpm: float, program: int = 0, velocity: int = 90
) -> Path:
    """Write notes ``(start tick, length tick, MIDI pitch)`` at :data:`TPQ` ticks per
    beat and ``qpm`` beats per minute as a single-track MIDI file (atomically).

    The one MIDI writer of the library (symusic): :func:`write_midi` and the
    continuous stream file (:func:`vrashlib.stream.playlist.write_segments_midi`).
    """
    import symusic

    score = symusic.Score(TPQ)
    score.tempos.append(symusic.Tempo(0, qpm=qpm))
    track = symusic.Track(name="melody", program=program)
    for start, length, pitch in notes:
        track.notes.append(symusic.Note(int(start), int(length), int(pitch), velocity))
    score.tracks.append(track)
    path = Path(path)
    with atomic_path(path) as tmp:
        score.dump_midi(str(tmp))
    return path


def write_midi(
    events: np.ndarray, unit_seconds: float, path: str | Path, *, program: int = 0
) -> Path:
    """Write one melody as a single-track MIDI file (atomically). ``program``: GM instrument."""
    if unit_seconds <= 0:
        raise ValueError(f"unit_seconds must be positive, got {unit_seconds} for {path}")
    starts, lengths, pitches = _timed_notes(events)
    notes = [
        (int(round(s * TPQ)), int(round(d * TPQ)), int(p))
        for s, d, p in zip(starts, lengths, pitches, strict=False)
    ]
    return write_notes_midi(notes, path, qpm=60.0 / unit_seconds, program=program)


def write_midi_files(tracks, out_dir: str | Path, *, per_style: int | None = None) -> list[Path]:
    """One MIDI file per track of a ``TrackSet``, named after its id (``vrash/bach/0007.mid``
    becomes ``vrash_bach_0007.mid``); ``per_style`` keeps only the first few of each style."""
    out_dir = Path(out_dir)
    written, seen = [], {}
    for i in range(len(tracks)):
        style = int(tracks.style[i])
        seen[style] = seen.get(style, 0) + 1
        if per_style is not None and seen[style] > per_style:
            continue
        path = out_dir / (str(tracks.ids[i]).replace("/", "_") + ".mid")
        write_midi(tracks[i], float(tracks.unit_seconds[i]), path)
        written.append(path)
    return written


def read_midi_notes(path: str | Path) -> list[tuple[int, int, int]]:
    """(start tick, length tick, pitch) of every note of a file (for round-trip checks)."""
    import symusic

    score = symusic.Score(str(path))
    return [(n.time, n.duration, n.pitch) for t in score.tracks for n in t.notes]


def find_soundfont() -> Path | None:
    """A General MIDI soundfont: ``$VRASH_SOUNDFONT`` or a usual system location."""
    for cand in (os.environ.get("VRASH_SOUNDFONT"), *SOUNDFONTS):
        if cand and Path(cand).is_file():
            return Path(cand)
    return None


def synthesize(
    events: np.ndarray, unit_seconds: float, sample_rate: int = 22050, *, engine: str = "auto"
) -> np.ndarray:
    """Mono float32 audio in [-1, 1] of one melody.

    ``engine``: ``"fluidsynth"``, ``"numpy"`` or ``"auto"`` (FluidSynth when the
    program and a soundfont are found, else numpy).
    """
    sf = find_soundfont()
    use_fluid = engine == "fluidsynth" or (engine == "auto" and sf and shutil.which("fluidsynth"))
    if use_fluid:
        if sf is None or not shutil.which("fluidsynth"):
            raise RuntimeError("FluidSynth or a GM soundfont is missing (set VRASH_SOUNDFONT)")
        return _fluidsynth(events, unit_seconds, sample_rate, sf)
    return _numpy_synth(events, unit_seconds, sample_rate)


def _numpy_synth(events: np.ndarray, unit_seconds: float, sr: int) -> np.ndarray:
    """Additive synthesis: 4 decaying harmonics per note, 10 ms attack, 30 ms release."""
    starts, lengths, pitches = _timed_notes(events)
    total = float((starts + lengths).max()) if len(starts) else 0.0
    audio = np.zeros(int(np.ceil(total * unit_seconds * sr)) + 1, np.float32)
    for s, d, p in zip(starts, lengths, pitches, strict=False):
        a, n = int(s * unit_seconds * sr), max(int(d * unit_seconds * sr), 1)
        t = np.arange(n, dtype=np.float32) / sr
        freq = 440.0 * 2.0 ** ((p - 69) / 12.0)
        tone = sum(np.sin(2 * np.pi * k * freq * t) / k**1.5 for k in range(1, 5))
        env = np.minimum(1.0, t / 0.01) * np.exp(-2.5 * t)
        env *= np.clip((n / sr - t) / 0.03, 0.0, 1.0)
        audio[a : a + n] += (0.25 * tone * env).astype(np.float32)
    peak = np.abs(audio).max()
    return audio / peak * 0.9 if peak > 0.9 else audio


def _fluidsynth(events: np.ndarray, unit_seconds: float, sr: int, soundfont: Path) -> np.ndarray:
    from scipy.io import wavfile

    with tempfile.TemporaryDirectory() as tmp:
        mid, wav = Path(tmp) / "x.mid", Path(tmp) / "x.wav"
        write_midi(events, unit_seconds, mid)
        subprocess.run(
            [
                "fluidsynth",
                "-ni",
                "-g",
                "0.8",
                "-r",
                str(sr),
                "-F",
                str(wav),
                str(soundfont),
                str(mid),
            ],
            check=True,
            capture_output=True,
        )
        rate, data = wavfile.read(wav)
    data = data.astype(np.float32) / (32768.0 if data.dtype == np.int16 else 1.0)
    return data.mean(axis=1) if data.ndim == 2 else data


def audio_preview(
    events: np.ndarray, unit_seconds: float, seconds: float = 20.0, sample_rate: int = 22050
):
    """An ``IPython.display.Audio`` player of the first ``seconds`` of a melody."""
    from IPython.display import Audio

    audio = synthesize(events, unit_seconds, sample_rate)[: int(seconds * sample_rate)]
    return Audio(audio, rate=sample_rate, normalize=False)
