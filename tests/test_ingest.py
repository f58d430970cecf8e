"""Work units, the never-raising worker, the time limit per input, seeded sampling
and the accounting identities."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import mido
import pandas as pd
import pytest

from vrashlib.config import DataConfig
from vrashlib.data.ingest import (
    DROP_COLUMNS,
    check_accounting,
    enumerate_inputs,
    process_unit,
    report_row,
)
from vrashlib.data.pool import map_units
from vrashlib.data.prepare import _params
from vrashlib.data.sources import WorkUnit

DATA = Path(__file__).parent / "data"
PARAMS = _params(DataConfig())


def test_worker_turns_any_bad_input_into_an_error_text():
    unit = WorkUnit(str(DATA / "midi" / "truncated.mid"), "x/truncated.mid", "x", "pop", "midi")
    err, outcomes = process_unit(unit, PARAMS)
    assert outcomes == [] and "chunk length" in err and "\n" not in err
    missing = WorkUnit("/no/such/file.mid", "x/file.mid", "x", "pop", "midi")
    err, _ = process_unit(missing, PARAMS)
    assert err == "file not found: /no/such/file.mid"


def test_worker_ids_and_outcomes_for_a_known_file():
    unit = WorkUnit(
        str(DATA / "midi" / "melody_drums.mid"), "x/melody_drums.mid", "x", "pop", "midi"
    )
    err, outcomes = process_unit(unit, PARAMS)
    assert err is None
    assert [o.id for o in outcomes] == ["x/melody_drums.mid#t0", "x/melody_drums.mid#t1"]
    assert [o.dropped_by for o in outcomes] == [None, "drums"]
    assert outcomes[0].events.shape == (32, 3)


def test_sampling_is_seeded_and_keeps_order():
    cfg = DataConfig(collections=("ryansMammoth",), max_tunes_per_collection=5)
    a, _ = enumerate_inputs(cfg)
    b, _ = enumerate_inputs(cfg)
    c, _ = enumerate_inputs(
        DataConfig(collections=("ryansMammoth",), max_tunes_per_collection=5, seed=1)
    )
    assert [u.path for u in a] == [u.path for u in b] == sorted(u.path for u in a)
    assert len(a) == 5 and [u.path for u in a] != [u.path for u in c]


def test_missing_folder_and_missing_style_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope"):
        enumerate_inputs(DataConfig(), midi_dirs=[(tmp_path / "nope", "x")], use_corpus=False)
    with pytest.raises(ValueError, match="style"):
        enumerate_inputs(DataConfig(), midi_dirs=[(tmp_path, "")], use_corpus=False)
    with pytest.raises(KeyError, match="unknown corpus collection"):
        enumerate_inputs(DataConfig(collections=("beatles",)))


def test_report_row_aggregates_tunes_of_a_file():
    units = [WorkUnit("f.abc", "s/f.abc", "s", "folk", "abc", f"X:{i}", "") for i in (1, 2, 3)]
    unit = WorkUnit(str(DATA / "midi" / "one_note.mid"), "x/one_note.mid", "x", "pop", "midi")
    dropped = process_unit(unit, PARAMS)
    results = [("ValueError: bad", []), dropped, ("KeyError: 'K'", [])]
    row = report_row(units, results)
    assert (row["status"], row["tunes_read"], row["failed"]) == ("dropped", 3, 2)
    assert (row["tracks_read"], row["dropped_low_entropy"], row["tracks_kept"]) == (1, 1, 0)
    assert row["reason"].startswith("X:1: ValueError: bad; X:3: KeyError")
    assert "all tracks dropped (low_entropy: 1)" in row["reason"]
    assert report_row(units[:1], results[:1])["status"] == "failed"


def test_accounting_check_catches_a_lost_track():
    rep = pd.DataFrame(
        [{"path": "a", "status": "ok", "reason": "", "tunes_read": 1, "failed": 0,
          "tracks_read": 3, "tracks_kept": 1, **{c: 0 for c in DROP_COLUMNS}}]
    )  # fmt: skip
    with pytest.raises(ValueError, match="not accounted"):
        check_accounting(rep)
    rep.loc[0, "dropped_too_short"] = 2
    check_accounting(rep)
    rep.loc[0, "status"] = "failed"  # a failure must say why
    with pytest.raises(ValueError, match="without a reason"):
        check_accounting(rep)


# -------------------------------------------------------- unreadable inputs
@pytest.mark.parametrize("name", ["melody_drums.mid", "mixed.abc", "not_xml.xml"])
def test_unreadable_file_says_permission_denied(name, monkeypatch):
    """Tests run as root, where chmod 000 denies nothing: the one call that opens
    inputs raises as it would for another user, and the worker must say so."""
    folder = DATA / ("midi" if name.endswith(".mid") else "music")
    path = folder / name
    real = Path.read_bytes

    def denied(self):
        if self == path:
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", denied)
    from vrashlib.data.sources import midi_units, music_units

    make = midi_units if name.endswith(".mid") else music_units
    units = [u for u in make(folder, "x", "pop") if u.path == str(path)]
    assert len(units) == 1  # an unreadable ABC file is one unit, not silently none
    err, outcomes = process_unit(units[0], PARAMS)
    assert err == f"permission denied: cannot read {path}" and outcomes == []
    row = report_row(units, [(err, outcomes)])
    assert (row["status"], row["reason"]) == ("failed", err)


# ---------------------------------------------------------- tempo, programs
def _midi(path: Path, tempo_us: int | None, program: int = 0, tracks: int = 1) -> Path:
    """A MIDI file of ``tracks`` identical melodic tracks (a stepwise tune, 32 eighths)."""
    mid = mido.MidiFile(ticks_per_beat=480)
    if tempo_us is not None:
        mid.tracks.append(mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=tempo_us)]))
    pitches = [60, 62, 64, 65, 67, 65, 64, 62, 60, 64, 67, 72, 71, 69, 67, 65] * 2
    for _ in range(tracks):
        track = mido.MidiTrack([mido.Message("program_change", program=program)])
        for p in pitches:
            track.append(mido.Message("note_on", note=p, velocity=80, time=0))
            track.append(mido.Message("note_off", note=p, velocity=0, time=240))
        mid.tracks.append(track)
    mid.save(path)
    return path


@pytest.mark.parametrize(("tempo_us", "qpm"), [(0, "inf"), (1, "6e+07")])
def test_implausible_tempo_is_rejected_with_a_reason(tmp_path, tempo_us, qpm):
    """A tempo event of 0 or 1 us per quarter note would give unit_seconds 0 or 1e-6."""
    path = _midi(tmp_path / "t.mid", tempo_us)
    err, outcomes = process_unit(WorkUnit(str(path), "x/t.mid", "x", "pop", "midi"), PARAMS)
    assert outcomes == [] and err.startswith(f"implausible tempo {qpm} quarter notes per minute")
    assert "data.min_qpm" in err
    ok = _midi(tmp_path / "ok.mid", 500_000)  # 120 qpm: kept
    err, outcomes = process_unit(WorkUnit(str(ok), "x/ok.mid", "x", "pop", "midi"), PARAMS)
    assert err is None and [o.dropped_by for o in outcomes] == [None]
    assert outcomes[0].unit_seconds == pytest.approx(0.25)  # an eighth at 120 qpm


def test_sound_effect_programs_are_dropped(tmp_path):
    for program, reason in [(119, None), (120, "sound_effect"), (127, "sound_effect")]:
        path = _midi(tmp_path / f"p{program}.mid", 500_000, program=program)
        unit = WorkUnit(str(path), f"x/p{program}.mid", "x", "pop", "midi")
        err, outcomes = process_unit(unit, PARAMS)
        assert err is None and [o.dropped_by for o in outcomes] == [reason], program


# ----------------------------------------------------------- time limit
def stub_parser(unit: str, params: dict):
    """A parser stand-in for :func:`map_units`: ``hang`` sleeps far past any limit,
    ``crash`` kills its worker, anything else answers at once."""
    if unit == "hang":
        time.sleep(params["sleep"])
    if unit == "crash":
        os._exit(3)
    return None, [f"{unit}@{os.getpid()}"]


def test_a_hanging_input_times_out_and_its_worker_is_replaced():
    units = ["a", "hang", "b", "crash", "c", "d", "e"]
    results = map_units(stub_parser, units, {"sleep": 120}, workers=2, timeout=3.0)
    by_unit = dict(zip(units, results, strict=True))
    err, out = by_unit["hang"]
    assert out == [] and err.startswith("timeout: parsing took longer than 3 s")
    assert "data.parse_timeout_seconds" in err
    assert by_unit["crash"] == ("parser crashed (worker exit code 3)", [])
    for u in ("a", "b", "c", "d", "e"):  # the rest went on, and their answers are theirs
        assert by_unit[u][0] is None and by_unit[u][1][0].startswith(f"{u}@")
    pids = {by_unit[u][1][0].split("@")[1] for u in ("a", "b", "c", "d", "e")}
    assert str(os.getpid()) not in pids  # parsed in worker processes


def test_time_limit_reaches_the_report():
    units = [WorkUnit("slow.mid", "x/slow.mid", "x", "pop", "midi")]
    text = "timeout: parsing took longer than 3 s (data.parse_timeout_seconds)"
    row = report_row(units, [(text, [])])
    assert (row["status"], row["reason"], row["failed"]) == ("failed", text, 1)


# ---------------------------------------------------- what the user is told
def test_empty_folder_or_no_midi_says_so(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match=r"nothing to read: midi folder .*empty is empty"):
        enumerate_inputs(DataConfig(), midi_dirs=[(empty, "x")], use_corpus=False)
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("no music here")
    with pytest.raises(ValueError, match=r"holds no \.mid/\.midi file \(1 other files: notes.txt"):
        enumerate_inputs(DataConfig(), midi_dirs=[(other, "x")], use_corpus=False)


def test_sampling_a_users_folder_says_how_many_it_skipped(tmp_path, caplog):
    for i in range(5):
        _midi(tmp_path / f"tune{i}.mid", 500_000)
    cfg = DataConfig(max_tunes_per_collection=2)
    with caplog.at_level(logging.WARNING, logger="vrashlib.data.ingest"):
        units, sources = enumerate_inputs(cfg, midi_dirs=[(tmp_path, "x")], use_corpus=False)
    assert len(units) == 2
    assert (sources[0]["units_found"], sources[0]["units_sampled"]) == (5, 2)
    assert "read a seeded sample of 2 of its 5 files/tunes, skipped 3" in caplog.text
