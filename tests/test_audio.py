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
