import numpy as np
import pytest

from vrashlib.data.encoding import (
    DUR_ONE,
    DURATION_RATIOS,
    END_EVENT,
    OCT_NONE,
    REST,
    durations_in_units,
    midi_pitch,
)
from vrashlib.sampling.audio import (
    TPQ,
    audio_preview,
    read_midi_notes,
    synthesize,
    write_midi,
)


def _melody(tiny_trackset):
    ev = tiny_trackset[5].copy()
    ev[3] = (REST, OCT_NONE, DUR_ONE)  # make sure there is a rest
    return ev


def test_midi_round_trip_symusic_and_music21(tiny_trackset, tmp_path):
    ev = _melody(tiny_trackset)
    path = write_midi(np.concatenate([ev, END_EVENT[None]]), 0.3, tmp_path / "m.mid")
    units = durations_in_units(ev)
    starts = np.concatenate([[0], np.cumsum(units)[:-1]])
    notes = ev[:, 0] < 12
    expected = [
        (round(s * TPQ), round(d * TPQ), int(p))
        for s, d, p in zip(starts[notes], units[notes], midi_pitch(ev)[notes], strict=False)
    ]
    assert read_midi_notes(path) == expected
    music21 = pytest.importorskip("music21")
    parsed = music21.converter.parse(str(path), quantizePost=False)
    # music21 splits notes at bar lines into tied pieces: keep each note's first piece
    m21 = [
        (float(n.getOffsetInHierarchy(parsed)), n.pitch.midi)
        for n in parsed.flatten().notes
        if n.tie is None or n.tie.type == "start"
    ]
    assert [p for _, p in m21] == [p for *_, p in expected]
    assert [o for o, _ in m21] == pytest.approx([s / TPQ for s, *_ in expected])


def test_every_duration_ratio_is_exact_in_ticks():
    assert all((r * TPQ).denominator == 1 for r in DURATION_RATIOS)


def test_numpy_synth_length_and_silence(tiny_trackset):
    ev = np.array([(0, 4, DUR_ONE), (REST, OCT_NONE, DUR_ONE), (7, 4, DUR_ONE)], np.int16)
    sr, unit = 8000, 0.5
    audio = synthesize(ev, unit, sr, engine="numpy")
    assert audio.dtype == np.float32 and abs(len(audio) - 3 * unit * sr) <= 2
    assert np.abs(audio).max() <= 1.0
    note1, rest, note2 = (
        np.abs(audio[int(i * unit * sr) : int((i + 1) * unit * sr)]) for i in range(3)
    )
    assert note1.max() > 0.05 and note2.max() > 0.05 and rest.max() == 0.0
    # pitch: the strongest frequency of the first note is C4 (261.6 Hz)
    spec = np.abs(np.fft.rfft(audio[: int(unit * sr)]))
    peak = np.fft.rfftfreq(int(unit * sr), 1 / sr)[spec.argmax()]
    assert abs(peak - 261.6) < 4


def test_preview_and_errors(tiny_trackset, tmp_path):
    ev = _melody(tiny_trackset)
    player = audio_preview(ev, 0.25, seconds=2, sample_rate=8000)
    assert player.data[:4] == b"RIFF"
    with pytest.raises(ValueError, match="unit_seconds"):
        write_midi(ev, 0.0, tmp_path / "x.mid")
    with pytest.raises(ValueError, match="invalid events"):
        write_midi(np.array([[20, 4, 1]], np.int16), 0.25, tmp_path / "y.mid")


def test_write_midi_files_names_by_id_and_limits_per_style(tmp_path):
    from tests.conftest import random_walk_tracks
    from vrashlib.data.tracks import TrackSet
    from vrashlib.sampling.audio import write_midi_files

    ts = TrackSet.from_tracks(
        random_walk_tracks(6, seed=2),
        ("bach", "fiddle"),
        [0, 0, 0, 1, 1, 1],
        ids=[f"vrash/{s}/{i:04d}" for s, i in zip("bbbfff", range(6), strict=True)],
    )
    written = write_midi_files(ts, tmp_path, per_style=2)
    assert [p.name for p in written] == [
        "vrash_b_0000.mid",
        "vrash_b_0001.mid",
        "vrash_f_0003.mid",
        "vrash_f_0004.mid",
    ]
    assert all(p.stat().st_size > 0 for p in written)


# ------------------------------------------------------------ SoundFont sound
def _dominant_hz(audio, sr):
    spec = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    return np.fft.rfftfreq(len(audio), 1 / sr)[spec.argmax()]


def test_the_pip_install_brings_a_general_midi_soundfont(monkeypatch):
    from vrashlib.sampling import audio

    monkeypatch.delenv("VRASH_SOUNDFONT", raising=False)
    sf = audio.find_soundfont()
    assert sf == audio.shipped_soundfont() and sf.name == "TimGM6mb.sf2"
    assert sf.read_bytes()[:4] == b"RIFF" and sf.read_bytes()[8:12] == b"sfbk"
    assert audio.available_engine() == "soundfont"


def test_soundfont_engine_plays_the_melody_pitches_in_time(monkeypatch):
    from vrashlib.sampling.audio import synthesize

    monkeypatch.delenv("VRASH_SOUNDFONT", raising=False)
    # A4 (440 Hz) for one unit, a rest, then E5 (659 Hz): 0.5 s per unit
    ev = np.array([(9, 4, DUR_ONE), (REST, OCT_NONE, DUR_ONE), (4, 5, DUR_ONE)], np.int16)
    sr, unit = 22050, 0.5
    audio = synthesize(ev, unit, sr, engine="soundfont")
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert len(audio) >= 3 * unit * sr  # the music, plus the last note's release
    assert 0.05 < np.abs(audio).max() <= 0.9 + 1e-6
    first = audio[int(0.05 * sr) : int(0.45 * sr)]
    third = audio[int(1.05 * sr) : int(1.45 * sr)]
    assert abs(_dominant_hz(first, sr) - 440.0) < 8
    assert abs(_dominant_hz(third, sr) - 659.3) < 10
    # not the numpy synthesiser's waveform
    assert not np.allclose(
        audio[: 3 * int(unit * sr)],
        synthesize(ev, unit, sr, engine="numpy")[: 3 * int(unit * sr)],
        atol=0.05,
    )


def test_auto_falls_back_to_numpy_without_the_soundfont_synthesiser(monkeypatch, caplog):
    from vrashlib.sampling import audio

    def broken(*args, **kwargs):
        raise ImportError("No module named 'midirenderer'")  # e.g. Linux on ARM: no wheel

    monkeypatch.setattr(audio, "_render_soundfont", broken)
    monkeypatch.setattr(audio.shutil, "which", lambda name: None)  # no FluidSynth either
    audio.soundfont_engine_works.cache_clear()
    try:
        with caplog.at_level("WARNING", logger="vrashlib.sampling.audio"):
            assert audio.available_engine() == "numpy"
        assert "midirenderer is not installed" in caplog.text and "numpy" in caplog.text
        ev = np.array([(0, 4, DUR_ONE), (7, 4, DUR_ONE)], np.int16)
        np.testing.assert_array_equal(
            audio.synthesize(ev, 0.25, 8000), audio.synthesize(ev, 0.25, 8000, engine="numpy")
        )
    finally:
        audio.soundfont_engine_works.cache_clear()


def test_soundfont_errors_are_actionable(monkeypatch, tmp_path):
    from vrashlib.sampling.audio import find_soundfont, synthesize

    monkeypatch.setenv("VRASH_SOUNDFONT", str(tmp_path / "missing.sf2"))
    with pytest.raises(FileNotFoundError, match="missing.sf2"):
        find_soundfont()
    with pytest.raises(ValueError, match="unknown audio engine"):
        synthesize(np.array([(0, 4, DUR_ONE)], np.int16), 0.25, engine="timidity")


def test_write_wav_files_beside_the_midi(tmp_path):
    from scipy.io import wavfile

    from tests.conftest import random_walk_tracks
    from vrashlib.data.tracks import TrackSet
    from vrashlib.sampling.audio import wav_bytes, write_midi_files, write_wav_files

    ts = TrackSet.from_tracks(
        random_walk_tracks(3, seed=4, max_len=24), ("bach",), [0, 0, 0],
        unit_seconds=[0.2, 0.2, 0.3], ids=["lm/bach/0000", "lm/bach/0001", "lm/bach/0002"],
    )  # fmt: skip
    mids = write_midi_files(ts, tmp_path)
    wavs = write_wav_files(ts, tmp_path, sample_rate=16000)
    assert [p.with_suffix("") for p in wavs] == [p.with_suffix("") for p in mids]
    for i, path in enumerate(wavs):
        rate, pcm = wavfile.read(path)
        music = durations_in_units(ts[i]).sum() * ts.unit_seconds[i]
        assert rate == 16000 and pcm.dtype == np.int16 and np.abs(pcm).max() > 1000
        assert music <= len(pcm) / rate <= music + 3.0  # plus at most the release tail
    assert wav_bytes(np.zeros(10), 8000)[:4] == b"RIFF"
