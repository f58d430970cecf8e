"""Turn a track back into music: MIDI files, audio (WAV), and notebook previews.

Timing: an event of duration ratio ``r`` lasts ``r * unit_seconds`` seconds.
MIDI files use 480 ticks per beat and a tempo at which one beat equals one
duration unit, so every ratio of the vocabulary (denominators up to 16, and
triplets) is an exact number of ticks and the file reads back to the same
events.

Sound comes from a General MIDI SoundFont played in-process (engine
``"soundfont"``) by rustysynth, which the ``midirenderer`` wheel carries: the
SoundFont is ``$VRASH_SOUNDFONT`` if set, else TimGM6mb (6 MB), which ships
inside the pretty_midi wheel, so a pip install brings everything. FluidSynth
(``"fluidsynth"``) is optional: used when asked for, or where midirenderer has no
wheel (Linux on ARM). A small numpy additive synthesiser (``"numpy"``) is the last
fallback. (symusic's own synthesiser is not used: 0.6.0 cannot hand its buffer to
Python, and 0.5.x plays TimGM6mb off key, symusic issue #55.)
"""

from __future__ import annotations

import functools
import logging
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
SAMPLE_RATE = 22050  # Hz: the default of every audio function (music, not hi-fi)
ENGINES = ("soundfont", "fluidsynth", "numpy")  # "auto" tries them in this order
SHIPPED_SOUNDFONT = "TimGM6mb.sf2"  # inside the pretty_midi package
SOUNDFONTS = (  # system SoundFonts, used when neither of the above is there
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/soundfonts/FluidR3_GM.sf2",
    "/usr/share/soundfonts/default.sf2",
)
PEAK = 0.9  # loudest sample of a rendered melody (headroom below full scale)

logger = logging.getLogger(__name__)


def _timed_notes(events: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(start, length) in units and MIDI pitch of every note (rests skipped)."""
    events = strip_end(np.asarray(events))
    validate_events(events)
    units = durations_in_units(events)
    starts = np.concatenate([[0.0], np.cumsum(units)[:-1]])
    notes = events[:, 0] < N_PITCH_CLASSES
    return starts[notes], units[notes], midi_pitch(events)[notes]


def _score(notes, *, qpm: float, program: int = 0, velocity: int = 90):
    """A one-track ``symusic.Score`` of notes ``(start tick, length tick, MIDI pitch)``."""
    import symusic

    score = symusic.Score(TPQ)
    score.tempos.append(symusic.Tempo(0, qpm=qpm))
    track = symusic.Track(name="melody", program=program)
    for start, length, pitch in notes:
        track.notes.append(symusic.Note(int(start), int(length), int(pitch), velocity))
    score.tracks.append(track)
    return score


def _melody_notes(events: np.ndarray, unit_seconds: float) -> tuple[list, float]:
    """Notes in ticks and the tempo (beats per minute) at which one beat is one unit."""
    if unit_seconds <= 0:
        raise ValueError(f"unit_seconds must be positive, got {unit_seconds}")
    starts, lengths, pitches = _timed_notes(events)
    notes = [
        (int(round(s * TPQ)), int(round(d * TPQ)), int(p))
        for s, d, p in zip(starts, lengths, pitches, strict=False)
    ]
    return notes, 60.0 / unit_seconds


def write_notes_midi(
    notes, path: str | Path, *, qpm: float, program: int = 0, velocity: int = 90
) -> Path:
    """Write notes ``(start tick, length tick, MIDI pitch)`` at :data:`TPQ` ticks per
    beat and ``qpm`` beats per minute as a single-track MIDI file (atomically).

    The one MIDI writer of the library (symusic): :func:`write_midi` and the
    continuous stream file (:func:`vrashlib.stream.playlist.write_segments_midi`).
    """
    score = _score(notes, qpm=qpm, program=program, velocity=velocity)
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
    notes, qpm = _melody_notes(events, unit_seconds)
    return write_notes_midi(notes, path, qpm=qpm, program=program)


def _file_stem(track_id: str) -> str:
    return str(track_id).replace("/", "_")  # vrash/bach/0007 -> vrash_bach_0007


def _per_style(tracks, per_style: int | None) -> list[int]:
    """Indices of the tracks to write: all, or the first ``per_style`` of each style."""
    keep, seen = [], {}
    for i in range(len(tracks)):
        style = int(tracks.style[i])
        seen[style] = seen.get(style, 0) + 1
        if per_style is None or seen[style] <= per_style:
            keep.append(i)
    return keep


def write_midi_files(tracks, out_dir: str | Path, *, per_style: int | None = None) -> list[Path]:
    """One MIDI file per track of a ``TrackSet``, named after its id (``vrash/bach/0007.mid``
    becomes ``vrash_bach_0007.mid``); ``per_style`` keeps only the first few of each style."""
    out_dir = Path(out_dir)
    return [
        write_midi(
            tracks[i], float(tracks.unit_seconds[i]), out_dir / f"{_file_stem(tracks.ids[i])}.mid"
        )
        for i in _per_style(tracks, per_style)
    ]


def write_wav_files(
    tracks,
    out_dir: str | Path,
    *,
    per_style: int | None = None,
    sample_rate: int = SAMPLE_RATE,
    engine: str = "auto",
) -> list[Path]:
    """One 16-bit WAV file per track, named as :func:`write_midi_files` names the MIDI."""
    out_dir = Path(out_dir)
    written = []
    for i in _per_style(tracks, per_style):
        audio = synthesize(tracks[i], float(tracks.unit_seconds[i]), sample_rate, engine=engine)
        written.append(write_wav(audio, out_dir / f"{_file_stem(tracks.ids[i])}.wav", sample_rate))
    return written


def write_wav(audio: np.ndarray, path: str | Path, sample_rate: int = SAMPLE_RATE) -> Path:
    """Write mono float audio in [-1, 1] as a 16-bit PCM WAV file (atomically)."""
    from scipy.io import wavfile

    pcm = (np.clip(np.asarray(audio, np.float64), -1.0, 1.0) * 32767).astype(np.int16)
    path = Path(path)
    with atomic_path(path) as tmp:
        wavfile.write(tmp, sample_rate, pcm)
    return path


def wav_bytes(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> bytes:
    """Mono float audio in [-1, 1] as the bytes of a 16-bit WAV file (for a web page)."""
    import io

    from scipy.io import wavfile

    buf = io.BytesIO()
    pcm = (np.clip(np.asarray(audio, np.float64), -1.0, 1.0) * 32767).astype(np.int16)
    wavfile.write(buf, sample_rate, pcm)
    return buf.getvalue()


def read_midi_notes(path: str | Path) -> list[tuple[int, int, int]]:
    """(start tick, length tick, pitch) of every note of a file (for round-trip checks)."""
    import symusic

    score = symusic.Score(str(path))
    return [(n.time, n.duration, n.pitch) for t in score.tracks for n in t.notes]


def shipped_soundfont() -> Path | None:
    """The General MIDI SoundFont that ships inside the pretty_midi package (TimGM6mb)."""
    import importlib.util

    spec = importlib.util.find_spec("pretty_midi")  # found, not imported
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / SHIPPED_SOUNDFONT
        if path.is_file():
            return path
    return None


def find_soundfont() -> Path | None:
    """A General MIDI SoundFont: ``$VRASH_SOUNDFONT``, else the one pretty_midi ships,
    else a usual system location."""
    env = os.environ.get("VRASH_SOUNDFONT")
    if env:
        if not Path(env).is_file():
            raise FileNotFoundError(f"VRASH_SOUNDFONT={env}: no such SoundFont file")
        return Path(env)
    shipped = shipped_soundfont()
    if shipped is not None:
        return shipped
    return next((Path(c) for c in SOUNDFONTS if Path(c).is_file()), None)


@functools.cache
def _soundfont_bytes(soundfont: str) -> bytes:
    return Path(soundfont).read_bytes()


@functools.cache
def soundfont_engine_works() -> bool:
    """Whether the in-process SoundFont synthesiser is installed and renders here
    (says once, in the log, what is used instead when it does not)."""
    sf = find_soundfont()
    problem = None
    if sf is None:
        problem = "no General MIDI SoundFont found (pip install pretty_midi brings one)"
    else:
        try:
            _render_soundfont([(0, TPQ, 60)], 120.0, SAMPLE_RATE, sf)
        except ImportError:
            problem = "midirenderer is not installed (pip install midirenderer)"
        except (ValueError, RuntimeError) as err:
            problem = f"midirenderer cannot play {sf}: {err}"
    if problem:
        fallback = "FluidSynth" if shutil.which("fluidsynth") and sf else "a numpy sine-tone"
        logger.warning("%s; using %s synthesiser instead", problem, fallback)
    return problem is None


def available_engine() -> str:
    """The engine ``"auto"`` uses: the first of :data:`ENGINES` that works here."""
    if soundfont_engine_works():
        return "soundfont"
    if shutil.which("fluidsynth") and find_soundfont() is not None:
        return "fluidsynth"
    return "numpy"


def synthesize(
    events: np.ndarray,
    unit_seconds: float,
    sample_rate: int = SAMPLE_RATE,
    *,
    engine: str = "auto",
    program: int = 0,
) -> np.ndarray:
    """Mono float32 audio in [-1, 1] of one melody (GM ``program``; 0 = piano).

    ``engine``: one of :data:`ENGINES`, or ``"auto"`` (:func:`available_engine`).
    The SoundFont engines let the last note ring out (its release); the numpy one
    stops with the music.
    """
    if engine == "auto":
        engine = available_engine()
    if engine not in ENGINES:
        raise ValueError(f"unknown audio engine {engine!r}; choose 'auto' or one of {ENGINES}")
    if engine == "numpy":
        return _numpy_synth(events, unit_seconds, sample_rate)
    sf = find_soundfont()
    if sf is None:
        raise RuntimeError(
            "no General MIDI SoundFont: pip install pretty_midi, or set VRASH_SOUNDFONT"
        )
    notes, qpm = _melody_notes(events, unit_seconds)
    if engine == "fluidsynth":
        if not shutil.which("fluidsynth"):
            raise RuntimeError("the fluidsynth program is not installed")
        audio = _fluidsynth(notes, qpm, sample_rate, sf, program)
    else:
        audio = _render_soundfont(notes, qpm, sample_rate, sf, program)
    return _normalised(audio, louder=True)  # SoundFonts play quietly (room for chords)


def _normalised(audio: np.ndarray, *, louder: bool = False) -> np.ndarray:
    """Scaled to peak at :data:`PEAK` when louder than that (or, ``louder``, when quieter)."""
    audio = np.asarray(audio, np.float32)
    peak = float(np.abs(audio).max(initial=0.0))
    return audio * np.float32(PEAK / peak) if peak > PEAK or (louder and peak > 0) else audio


def _render_soundfont(notes, qpm: float, sr: int, soundfont: Path, program: int = 0) -> np.ndarray:
    """rustysynth (midirenderer) renders the MIDI bytes at its own rate; resampled to ``sr``."""
    import io
    import math

    import midirenderer
    from scipy.io import wavfile
    from scipy.signal import resample_poly

    if not notes:
        return np.zeros(1, np.float32)
    midi = _score(notes, qpm=qpm, program=program).dumps_midi()
    rate, data = wavfile.read(
        io.BytesIO(midirenderer.render_wave_from(_soundfont_bytes(str(soundfont)), midi))
    )
    data = data / np.float32(32768.0) if data.dtype == np.int16 else data.astype(np.float32)
    data = data.mean(axis=1) if data.ndim == 2 else data
    if rate != sr:
        g = math.gcd(int(rate), int(sr))
        data = resample_poly(data, sr // g, rate // g).astype(np.float32)
    return data


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
    return _normalised(audio)


def _fluidsynth(notes, qpm: float, sr: int, soundfont: Path, program: int = 0) -> np.ndarray:
    from scipy.io import wavfile

    with tempfile.TemporaryDirectory() as tmp:
        mid, wav = Path(tmp) / "x.mid", Path(tmp) / "x.wav"
        write_notes_midi(notes, mid, qpm=qpm, program=program)
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
        _, data = wavfile.read(wav)
    data = data.astype(np.float32) / (32768.0 if data.dtype == np.int16 else 1.0)
    return data.mean(axis=1) if data.ndim == 2 else data


def audio_preview(
    events: np.ndarray, unit_seconds: float, seconds: float = 20.0, sample_rate: int = SAMPLE_RATE
):
    """An ``IPython.display.Audio`` player of the first ``seconds`` of a melody."""
    from IPython.display import Audio

    audio = synthesize(events, unit_seconds, sample_rate)[: int(seconds * sample_rate)]
    return Audio(audio, rate=sample_rate, normalize=False)
