"""Work units, the never-raising worker, seeded sampling and the accounting identities."""

from __future__ import annotations

from pathlib import Path

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
    assert "FileNotFoundError" in err


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
        [{"path": "a", "status": "ok", "tunes_read": 1, "failed": 0, "tracks_read": 3,
          "tracks_kept": 1, **{c: 0 for c in DROP_COLUMNS}}]
    )  # fmt: skip
    with pytest.raises(ValueError, match="not accounted"):
        check_accounting(rep)
    rep.loc[0, "dropped_too_short"] = 2
    check_accounting(rep)
