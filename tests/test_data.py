"""prepare(): accounting, determinism, cache, split, CLI exit codes, on real and broken inputs."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vrashlib import paths
from vrashlib.config import DataConfig, load_config
from vrashlib.data.encoding import DUR_ONE, midi_pitch, validate_events
from vrashlib.data.prepare import (
    DROP_COLUMNS,
    NoUsableTracksError,
    dataset_table,
    load_prepared,
    mark_duplicates,
    piece_groups,
    prepare,
    report_row,
    split_tracks,
    summary,
)
from vrashlib.data.tracks import SPLITS, TrackSet

DATA = Path(__file__).parent / "data"
CFG = DataConfig(workers=1)


@pytest.fixture
def midi_dir(tmp_path: Path) -> Path:
    """Our broken/known MIDI files plus the real MIDI files that ship with music21."""
    folder = tmp_path / "midi_in"
    shutil.copytree(DATA / "midi", folder)
    sub = folder / "music21"
    sub.mkdir()
    for f in paths.music21_midi_examples():
        shutil.copy(f, sub / f.name)
    return folder


def _prep(out: Path, midi_dir: Path, cfg: DataConfig = CFG, **kw):
    return prepare(
        cfg, out, midi_dirs=[(midi_dir, "pop")], music_dirs=[(DATA / "music", "abc")],
        use_corpus=False, progress=False, **kw,
    )  # fmt: skip


def _row(report: pd.DataFrame, name: str) -> pd.Series:
    rows = report[report["path"].str.endswith(name)]
    assert len(rows) == 1, name
    return rows.iloc[0]


def test_every_input_is_accounted_for(tmp_path, midi_dir):
    data = _prep(tmp_path / "out", midi_dir)
    rep = data.report
    n_inputs = len(list(midi_dir.rglob("*.mid"))) + len(list((DATA / "music").iterdir()))
    assert len(rep) == n_inputs  # one row per input file
    counts = rep["status"].value_counts()
    assert counts.sum() == counts.get("ok", 0) + counts.get("dropped", 0) + counts.get("failed", 0)
    assert (rep["tracks_read"] == rep["tracks_kept"] + rep[list(DROP_COLUMNS)].sum(axis=1)).all()
    assert rep["tracks_kept"].sum() == len(data.tracks)
    assert len(data.track_stats) == rep["tracks_read"].sum()
    # broken files: reported with their error, never fatal
    for name, text in [
        ("zero_bytes.mid", "0 bytes"),
        ("text_renamed.mid", "MThd"),
        ("truncated.mid", "chunk length"),
        ("not_xml.xml", "ParseError"),
        ("empty.abc", "no ABC tune body"),
    ]:
        row = _row(rep, name)
        assert row["status"] == "failed" and text in row["reason"], name
    drums = _row(rep, "drums_only.mid")
    assert (drums["status"], drums["dropped_drums"], drums["tracks_kept"]) == ("dropped", 1, 0)
    one = _row(rep, "one_note.mid")
    assert (one["status"], one["dropped_low_entropy"]) == ("dropped", 1)
    both = _row(rep, "melody_drums.mid")
    assert (both["tracks_read"], both["tracks_kept"], both["dropped_drums"]) == (2, 1, 1)
    # music21's test19.mid holds test18.mid's track again: a duplicate, counted
    copy = _row(rep, "test19.mid")
    assert (copy["status"], copy["dropped_duplicate"]) == ("dropped", 1)
    assert "duplicate: 1" in copy["reason"]
    stats = data.track_stats.set_index("id")
    assert stats.loc["midi_in/music21/test19.mid#t0", "duplicate_of"] == (
        "midi_in/music21/test18.mid#t0"
    )
    mixed = _row(rep, "mixed.abc")  # one bad tune among three: reported by its X: number
    assert (mixed["status"], mixed["tunes_read"], mixed["failed"], mixed["tracks_kept"]) == (
        "ok", 3, 1, 2,
    )  # fmt: skip
    assert mixed["reason"].startswith("X:2: ZeroDivisionError")
    # the written report is the same table
    on_disk = pd.read_csv(tmp_path / "out" / "ingest_report.csv", keep_default_na=False)
    pd.testing.assert_frame_equal(on_disk, rep, check_dtype=False)


def test_known_midi_melody_is_recovered_by_skyline(tmp_path, midi_dir):
    """melody_drums.mid: a C-major scale in eighths (C5..C6) over two lower chord notes."""
    data = _prep(tmp_path / "out", midi_dir)
    t = data.tracks
    (i,) = [k for k, name in enumerate(t.ids) if name.endswith("melody_drums.mid#t0")]
    scale = [72, 74, 76, 77, 79, 81, 83, 84, 84, 83, 81, 79, 77, 76, 74, 72] * 2
    assert midi_pitch(t[i]).tolist() == [p - 12 for p in scale]  # skyline, then C5 -> C4
    assert set(t[i][:, 2].tolist()) == {DUR_ONE}  # every eighth is the median
    assert t.unit_seconds[i] == pytest.approx(0.5 * 60 / 100)  # eighth at 100 qpm
    assert t.style_names()[i] == "pop"


def test_same_parameters_give_identical_bytes_and_cache_hit(tmp_path, midi_dir):
    a = _prep(tmp_path / "a", midi_dir)
    b = _prep(tmp_path / "b", midi_dir, cfg=dataclasses.replace(CFG, workers=2))
    assert a.manifest["content_hash"] == b.manifest["content_hash"]
    assert (tmp_path / "a" / "tracks.npz").read_bytes() == (
        tmp_path / "b" / "tracks.npz"
    ).read_bytes()
    assert not a.from_cache
    again = _prep(tmp_path / "a", midi_dir)
    assert again.from_cache and again.manifest["content_hash"] == a.manifest["content_hash"]
    assert np.array_equal(again.tracks.events, a.tracks.events)


def test_changed_parameters_or_inputs_rebuild(tmp_path, midi_dir):
    base = _prep(tmp_path / "o", midi_dir)
    stricter = _prep(tmp_path / "o", midi_dir, cfg=dataclasses.replace(CFG, min_events=40))
    assert not stricter.from_cache
    assert len(stricter.tracks) < len(base.tracks)
    assert stricter.manifest["params"]["min_events"] == 40
    assert load_prepared(tmp_path / "o").manifest["key"] == stricter.manifest["key"]
    (midi_dir / "one_note.mid").unlink()  # an input changed: rebuild, one row fewer
    fewer = _prep(tmp_path / "o", midi_dir, cfg=dataclasses.replace(CFG, min_events=40))
    assert not fewer.from_cache and len(fewer.report) == len(stricter.report) - 1


def test_interrupted_write_keeps_the_previous_dataset(tmp_path, midi_dir, monkeypatch):
    good = _prep(tmp_path / "o", midi_dir)

    def boom(self, path):
        raise KeyboardInterrupt

    monkeypatch.setattr(TrackSet, "save", boom)
    with pytest.raises(KeyboardInterrupt):
        _prep(tmp_path / "o", midi_dir, cfg=dataclasses.replace(CFG, min_events=20))
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp left
    kept = load_prepared(tmp_path / "o")
    assert kept.manifest["content_hash"] == good.manifest["content_hash"]


def test_real_corpus_subset(tmp_path):
    cfg = DataConfig(
        collections=("bach", "airdsAirs", "essenFolksong"), max_tunes_per_collection=3, workers=1
    )
    data = prepare(cfg, tmp_path / "c", progress=False)
    t = data.tracks
    assert set(t.styles) <= {"bach", "fiddle", "german_folk", "chinese_folk", "irish_folk"}
    assert {"bach", "fiddle"} <= set(t.style_names())
    assert (data.report.groupby("source")["tunes_read"].sum() == 3).all()  # seeded sample
    bach = [i for i in t.ids if i.startswith("bach/")]
    assert len(bach) >= 9 and all(i.split("#")[-1].startswith("p") for i in bach)  # voices
    for ev in t:
        validate_events(ev)
        assert ev.shape[0] >= cfg.min_events
    assert set(np.unique(t.split)) <= set(SPLITS.values())
    assert (t.unit_seconds > 0).all()
    table = dataset_table(data)
    assert table.iloc[-1]["style"] == "total"
    assert table.iloc[-1]["tracks_kept"] == len(t) and table.iloc[-1]["events"] == t.lengths.sum()
    other = prepare(dataclasses.replace(cfg, seed=1), tmp_path / "d", progress=False)
    assert set(other.tracks.ids) != set(t.ids)  # a different seed samples other tunes


def test_split_is_stratified_and_seeded():
    style = np.repeat(np.arange(3), [100, 40, 10])
    s = split_tracks(style, val_fraction=0.1, test_fraction=0.2, seed=0)
    for k, n in enumerate([100, 40, 10]):
        part = s[style == k]
        assert (part == SPLITS["val"]).sum() == round(n * 0.1)
        assert (part == SPLITS["test"]).sum() == round(n * 0.2)
    assert np.array_equal(s, split_tracks(style, val_fraction=0.1, test_fraction=0.2, seed=0))
    assert not np.array_equal(s, split_tracks(style, val_fraction=0.1, test_fraction=0.2, seed=1))
    with pytest.raises(ValueError):
        split_tracks(style, val_fraction=0.6, test_fraction=0.5, seed=0)


def test_refuses_to_replace_a_foreign_folder(tmp_path, midi_dir):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("precious")
    with pytest.raises(ValueError, match="not a prepared dataset"):
        _prep(tmp_path / "mine", midi_dir)
    assert (tmp_path / "mine" / "thesis.tex").exists()


def test_load_prepared_names_what_is_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="manifest.json.*01_data"):
        load_prepared(tmp_path)


# ------------------------------------------------------------------------ CLI
def _prepare(*args: str, profile: str = "smoke") -> int:
    """``vrash prepare ARGS --profile smoke --workers 1``, through the command's entry point."""
    from vrashlib.cli import main

    return main(["prepare", *map(str, args), "--profile", profile, "--workers", "1"])


def test_cli_bad_arguments_exit_2(tmp_path, midi_dir, capsys):
    out = str(tmp_path / "o")
    assert _prepare("--midi", midi_dir, "--out", out) == 2  # no --style
    assert "--style" in capsys.readouterr().err
    assert _prepare("--midi", tmp_path / "nope", "--style", "x", "--out", out) == 2
    assert "nope" in capsys.readouterr().err
    assert _prepare("--midi", midi_dir, "--style", "x", "--out", out, profile="bogus") == 2
    (tmp_path / "f").write_text("a file, not a folder")
    assert _prepare("--midi", midi_dir, "--style", "x", "--out", tmp_path / "f") == 2
    assert "not a prepared dataset" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_cli_nothing_usable_exits_1_with_report(tmp_path, capsys):
    bad = tmp_path / "bad"
    bad.mkdir()
    for name in ("zero_bytes.mid", "text_renamed.mid", "truncated.mid", "drums_only.mid"):
        shutil.copy(DATA / "midi" / name, bad / name)
    out = tmp_path / "o"
    assert _prepare("--midi", bad, "--style", "x", "--out", out) == 1
    assert "no usable track" in capsys.readouterr().err
    rep = pd.read_csv(out / "ingest_report.csv")
    assert len(rep) == 4 and set(rep["status"]) == {"failed", "dropped"}
    with pytest.raises(FileNotFoundError):
        load_prepared(out)
    with pytest.raises(NoUsableTracksError):
        prepare(CFG, out, midi_dirs=[(bad, "x")], use_corpus=False, progress=False)


def test_cli_success_with_some_failures_exits_0(tmp_path, midi_dir, capsys):
    out = tmp_path / "o"
    code = _prepare("--midi", midi_dir, "--style", "pop", "--out", out)
    assert code == 0
    printed = capsys.readouterr().out
    assert "failed 3" in printed and "pop" in printed and "hash:" in printed
    rep = pd.read_csv(out / "ingest_report.csv")
    assert {"path", "status", "reason", "tracks_kept"} <= set(rep.columns)
    manifest = json.loads((out / "manifest.json").read_text())
    assert {"music21", "symusic", "vrashlib"} <= set(manifest["versions"])
    assert manifest["sources"][0]["style"] == "pop"
    assert manifest["params"]["use_corpus"] is False  # what was read, not the config's default
    assert manifest["params"]["midi_dirs"] == [f"{midi_dir}=pop"]


def test_smoke_profile_samples_twelve_per_collection():
    assert load_config("smoke").data.max_tunes_per_collection == 12
    assert load_config("paper").data.max_tunes_per_collection is None


def test_vrash_prepare_through_the_cli_entry_point(tmp_path, capsys):
    from vrashlib.cli import main

    out = tmp_path / "o"
    code = main(["prepare", "--corpus", "--out", str(out), "--profile", "smoke",
                 "--max-tunes", "2", "--workers", "1"])  # fmt: skip
    assert code == 0
    rep = pd.read_csv(out / "ingest_report.csv")
    assert (rep.groupby("source")["tunes_read"].sum() == 2).all()
    assert set(rep["source"]) == set(load_config("smoke").data.collections)
    assert "tracks kept" in capsys.readouterr().out


def test_folder_specs_carry_their_style(tmp_path):
    from vrashlib.data.prepare import folders

    got = folders([str(tmp_path), f"{tmp_path}=jazz", "~/x=pop"], "user")
    assert got[0] == (tmp_path, "user") and got[1] == (tmp_path, "jazz")
    assert got[2][1] == "pop" and "~" not in str(got[2][0])


# --------------------------------------------------- every entry, duplicates, pieces
def test_every_odd_entry_has_a_row_and_copies_are_dropped(tmp_path, monkeypatch):
    """Symlink loops, dangling links, a folder ``x.mid``, an unreadable subfolder and a
    symlinked folder of 12 MIDI files: each has a row; the 14 copies of one file read
    are duplicates of the first."""
    from tests.test_sources import deny_listing, make_awkward_folder

    root = make_awkward_folder(tmp_path)
    deny_listing(monkeypatch, root / "locked")
    data = prepare(CFG, tmp_path / "o", midi_dirs=[(root, "pop")], use_corpus=False,
                   progress=False)  # fmt: skip
    rep = data.report.assign(rel=[Path(p).relative_to(root).as_posix() for p in data.report.path])
    status = dict(zip(rep.rel, rep.status, strict=True))
    assert status == {
        "a.mid": "ok", "folder.mid/b.mid": "dropped",
        **{f"linked/t{i:02d}.mid": "dropped" for i in range(12)},
        "copy.mid": "skipped", "folder.mid": "skipped", "linked_again": "skipped",
        "loop": "skipped", "dangling.mid": "failed", "fifo.mid": "failed",
        "locked": "failed", "self.mid": "failed",
    }  # fmt: skip
    assert (rep.reason != "").sum() == len(rep) - 1  # only the kept file has no reason
    locked = rep.set_index("rel").loc["locked"]
    assert locked.reason == "permission denied: cannot list this folder"
    assert rep["dropped_duplicate"].sum() == 13 and len(data.tracks) == 1
    stats = data.track_stats.set_index("id")
    assert (stats.loc[stats.dropped_by == "duplicate", "duplicate_of"] == "in/a.mid#t0").all()
    assert (
        rep["tracks_read"].sum() == rep["tracks_kept"].sum() + rep[list(DROP_COLUMNS)].sum().sum()
    )
    assert data.manifest["n_duplicates"] == 13
    assert "skipped 4" in summary(data)


def _tune_events(pitches, dur=DUR_ONE) -> np.ndarray:
    ev = np.zeros((len(pitches), 3), np.int16)
    ev[:, 0] = np.asarray(pitches) % 12
    ev[:, 1] = np.asarray(pitches) // 12 - 1
    ev[:, 2] = dur
    return ev


def test_duplicates_within_and_across_files_and_copies_share_a_group():
    """A part doubled in one file, the same part in a later file, and a transposed copy
    of another tune: one copy kept, and every piece involved in one group."""
    from vrashlib.data.ingest import TrackOutcome
    from vrashlib.data.sources import WorkUnit

    rng = np.random.default_rng(0)
    tunes = [60 + np.cumsum(rng.choice([-2, -1, 1, 2], 20)) for _ in range(3)]

    def out(tid, pitches):
        return TrackOutcome(tid, _tune_events(pitches), 0.25, None, 20, 3.0, 5)

    units = [WorkUnit(f"f{i}.mid", f"s/f{i}.mid", "s", "pop", "midi") for i in range(4)]
    results = [
        (None, [out("f0#t0", tunes[0]), out("f0#t1", tunes[0]), out("f0#t2", tunes[1])]),
        (None, [out("f1#t0", tunes[2])]),
        (None, [out("f2#t0", tunes[0] + 0)]),  # the doubled part again, in another file
        (None, [out("f3#t0", tunes[2] + 5)]),  # tune 2 a fourth higher: not a duplicate
    ]
    groups = piece_groups(units, results)
    new, copies = mark_duplicates(results)
    assert copies == {"f0#t1": "f0#t0", "f2#t0": "f0#t0"}
    dropped = [o.id for _, outs in new for o in outs if o.dropped_by == "duplicate"]
    assert dropped == ["f0#t1", "f2#t0"] and all(
        o.events is None for _, outs in new for o in outs if o.dropped_by
    )
    assert groups["f0#t0"] == groups["f0#t2"] == groups["f2#t0"]  # one file, and its copy
    assert groups["f1#t0"] == groups["f3#t0"] != groups["f0#t0"]  # a tune and its transposition
    row = report_row(units[:1], new[:1])
    assert (row["tracks_read"], row["tracks_kept"], row["dropped_duplicate"]) == (3, 2, 1)


def test_split_keeps_pieces_whole_stratified_and_seeded():
    rng = np.random.default_rng(1)
    sizes = rng.integers(1, 6, size=300)  # pieces of 1..5 tracks (voices)
    groups = np.repeat(np.arange(300), sizes)
    style = np.repeat(np.arange(300) % 3, sizes)  # style per piece
    order = rng.permutation(len(groups))  # tracks of a piece need not be adjacent
    groups, style = groups[order], style[order]
    s = split_tracks(style, val_fraction=0.1, test_fraction=0.2, seed=0, groups=groups)
    per_piece = pd.Series(s).groupby(groups).nunique()
    assert (per_piece == 1).all()  # never split across train/val/test
    for k in range(3):
        n = (style == k).sum()
        n_val, n_test = ((s[style == k] == SPLITS[x]).sum() for x in ("val", "test"))
        assert round(n * 0.1) <= n_val < round(n * 0.1) + 5  # over by less than a piece
        assert round(n * 0.2) <= n_test < round(n * 0.2) + 5
    again = split_tracks(style, val_fraction=0.1, test_fraction=0.2, seed=0, groups=groups)
    other = split_tracks(style, val_fraction=0.1, test_fraction=0.2, seed=1, groups=groups)
    assert np.array_equal(s, again) and not np.array_equal(s, other)
    singles = split_tracks(style, val_fraction=0.1, test_fraction=0.2, seed=0)
    assert np.array_equal(singles, split_tracks(style, val_fraction=0.1, test_fraction=0.2,
                                                seed=0, groups=np.arange(len(style))))  # fmt: skip


def test_real_chorales_keep_their_voices_on_one_side(tmp_path):
    cfg = DataConfig(collections=("bach",), max_tunes_per_collection=20, workers=2)
    data = prepare(cfg, tmp_path / "b", progress=False)
    t = data.tracks
    piece = pd.Series([i.split("#")[0] for i in t.ids])
    assert (piece.groupby(piece).size() >= 3).mean() > 0.9  # chorales: several voices
    assert (pd.Series(t.split).groupby(piece).nunique() == 1).all()
    assert {SPLITS["val"], SPLITS["test"]} <= set(t.split.tolist())
    counts = data.manifest["piece_counts"]
    assert sum(counts.values()) == piece.nunique() and counts["val"] >= 1


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [("--max-tunes", "-1", "--max-tunes"), ("--max-tunes", "0", "--max-tunes"),
     ("--workers", "-3", "--workers")],
)  # fmt: skip
def test_cli_rejects_impossible_counts(tmp_path, capsys, flag, value, message):
    from vrashlib.cli import main

    out = tmp_path / "o"
    code = main(["prepare", "--corpus", "--out", str(out), "--profile", "smoke", flag, value])
    assert code == 2 and not out.exists()
    err = capsys.readouterr().err
    assert message in err and value in err and "at least 1" in err


@pytest.mark.parametrize(
    ("key", "value"),
    [("data.max_tunes_per_collection", 0), ("data.max_tunes_per_collection", -1),
     ("data.workers", -3), ("data.workers", 0), ("data.parse_timeout_seconds", 0.0)],
)  # fmt: skip
def test_config_rejects_impossible_counts(key, value):
    from vrashlib.config import ConfigError

    with pytest.raises(ConfigError, match=f"{key} must be"):
        load_config("smoke", {key: value})


def test_cli_on_an_empty_folder_says_it_is_empty(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _prepare("--midi", empty, "--style", "x", "--out", tmp_path / "o") == 2
    err = capsys.readouterr().err
    assert f"nothing to read: midi folder {empty} is empty" in err
    assert "no usable track in 0" not in err and not (tmp_path / "o").exists()
