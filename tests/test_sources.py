"""Enumerating and parsing inputs: real corpus tunes, music21's MIDI files, broken files."""

from __future__ import annotations

import os
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from vrashlib import paths
from vrashlib.data.sources import (
    WorkUnit,
    corpus_files,
    corpus_units,
    essen_style,
    midi_units,
    music_units,
    parse_midi,
    parse_unit,
    scan_folder,
    split_abc,
)

DATA = Path(__file__).parent / "data"
CORPUS = paths.music21_corpus_dir()


def test_split_abc_keeps_header_and_references():
    text = "%header\nL:1/8\n\nX:1\nT:a\nK:C\nCDE|\nX: 7\nT:b\nK:G\nGAB|\n"
    tunes = split_abc(text)
    assert [ref for ref, _ in tunes] == ["X:1", "X:7"]
    assert all(t.startswith("%header\nL:1/8\n") for _, t in tunes)
    assert "GAB" in tunes[1][1] and "GAB" not in tunes[0][1]
    assert split_abc("") == []


def test_essen_styles_from_file_names():
    assert essen_style("han1.abc") == "chinese_folk"
    assert essen_style("irl.abc") == "irish_folk"
    assert essen_style("altdeu10.abc") == "german_folk"
    names = [f.name for f in corpus_files(CORPUS, "essenFolksong")]
    assert "han2.abc" in names and not any(n.startswith("test") for n in names)


def test_corpus_formats_are_deduplicated():
    bach = corpus_files(CORPUS, "bach")
    stems = [f.with_suffix("").name for f in bach]
    assert len(stems) == len(set(stems))
    assert CORPUS / "bach" / "bwv277.mxl" in bach and CORPUS / "bach" / "bwv277.krn" not in bach
    assert not any(f.suffix == ".rntxt" for f in bach)
    # ... and the other format is accounted for: a skip unit that names the one read
    skipped = {Path(u.path).name: u.text for u in corpus_units(CORPUS, "bach", "bach")
               if u.kind == "skip"}  # fmt: skip
    assert skipped["bwv277.krn"] == "another format of bwv277.mxl, which is read"
    essen = [u for u in corpus_units(CORPUS, "essenFolksong", "folk") if u.kind == "skip"]
    assert {Path(u.path).name for u in essen} >= {"test0.abc", "testd.abc"}


def test_corpus_abc_units_are_per_tune():
    units = corpus_units(CORPUS, "airdsAirs", "fiddle")
    assert len(units) > 1000  # six books, ~1180 tunes
    assert units[0].kind == "abc" and units[0].tune.startswith("X:")
    assert len({(u.path, u.tune) for u in units}) == len(units)


def test_parse_real_folk_tune_and_chorale():
    han = [u for u in corpus_units(CORPUS, "essenFolksong", "folk") if "han1" in u.path][0]
    assert han.style == "chinese_folk"
    tracks = parse_unit(han)
    assert len(tracks) == 1 and len(tracks[0].pitches) > 10
    chorale = WorkUnit(
        str(CORPUS / "bach" / "bwv66.6.mxl"), "bach/bwv66.6.mxl", "bach", "bach", "music21"
    )
    parts = parse_unit(chorale)
    assert len(parts) == 4  # soprano, alto, tenor, bass: each voice a track
    assert parts[0].qpm == 96.0  # the chorale's own metronome mark
    assert np.median(parts[0].pitches) > np.median(parts[3].pitches)


def test_symusic_and_music21_read_the_same_notes():
    from music21 import converter

    path = paths.music21_midi_examples()[0]
    ours = parse_midi(path)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = converter.parse(path, forceSource=True).flatten().notes
    assert sorted(ours.pitches.tolist()) == sorted(int(n.pitch.midi) for n in ref)
    assert ours.onsets[:5].tolist() == [float(n.offset) for n in list(ref)[:5]]


def test_midi_drum_tracks_are_flagged():
    tracks = parse_midi(DATA / "midi" / "melody_drums.mid")
    assert [t.is_drum for t in tracks] == [False, True]
    assert tracks[0].qpm == pytest.approx(100.0)
    assert tracks[0].onsets[3] == 0.5  # exact quarter-note times from ticks


@pytest.mark.parametrize(
    "name,message",
    [
        ("zero_bytes.mid", "0 bytes"),
        ("text_renamed.mid", "MThd"),
        ("truncated.mid", "chunk length"),
    ],
)
def test_broken_midi_raises_a_clear_error(name, message):
    with pytest.raises(Exception, match=message):
        parse_midi(DATA / "midi" / name)


def test_broken_music_files_raise_and_bad_tune_is_isolated():
    units = {(Path(u.path).name, u.tune): u for u in music_units(DATA / "music", "music", "test")}
    assert set(units) >= {("mixed.abc", "X:1"), ("mixed.abc", "X:2"), ("mixed.abc", "X:3")}
    assert len(parse_unit(units[("mixed.abc", "X:1")])) == 1
    assert len(parse_unit(units[("mixed.abc", "X:3")])) == 1
    with pytest.raises(ZeroDivisionError):
        parse_unit(units[("mixed.abc", "X:2")])
    with pytest.raises(ValueError, match="no ABC tune body"):
        parse_unit(units[("empty.abc", None)])
    with pytest.raises(Exception):  # noqa: B017 - any parser error is fine, it is reported
        parse_unit(units[("not_xml.xml", None)])


@pytest.mark.parametrize("collection,count", [("bach", 2), ("palestrina", 2), ("trecento", 1)])
def test_tie_merging_matches_music21_strip_ties(collection, count):
    from music21 import converter

    from vrashlib.data.sources import part_notes

    units = corpus_units(CORPUS, collection, "x")[:count]
    for u in units:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            score = (
                converter.parseData(u.text, format="abc")
                if u.kind == "abc"
                else converter.parse(u.path, forceSource=True)
            )
        for part in list(score.parts) or [score]:
            on, le, pi = part_notes(part)
            ref = sorted(
                (float(n.offset), float(n.quarterLength), int(p.midi))
                for n in part.stripTies().flatten().notes
                if n.quarterLength > 0
                for p in n.pitches
            )
            assert sorted(zip(on.tolist(), le.tolist(), pi.tolist(), strict=True)) == ref, u.label


def test_ties_merge_equal_pitches_only():
    """ABC ``-`` between different pitches (O'Neill's legato marks) is no tie.

    music21's stripTies would merge ``G3-A`` into one long G and lose the A.
    """
    from music21 import converter

    from vrashlib.data.sources import part_notes

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        score = converter.parseData("X:1\nM:4/4\nL:1/8\nK:C\nG3-G A2-B2 | c8 |]", format="abc")
    on, le, pi = part_notes(score.parts[0] if score.parts else score)
    assert pi.tolist() == [67, 69, 71, 72]
    assert le.tolist() == [2.0, 1.0, 1.0, 4.0]
    assert on.tolist() == [0.0, 2.0, 3.0, 4.0]


def _parse_with_beams(unit: WorkUnit):
    """``parse_unit`` as it was: music21's ABC reader with its beaming on."""
    from vrashlib.data.sources import abc_score, score_tracks

    return score_tracks(abc_score(unit.text, beaming=True))


def _outcome(parse, unit: WorkUnit):
    try:
        tracks = parse(unit)
    except Exception as err:  # noqa: BLE001 - a failure must stay the same failure
        return type(err).__name__
    return [
        (t.name, t.qpm, t.onsets.tolist(), t.lengths.tolist(), t.pitches.tolist()) for t in tracks
    ]


@pytest.mark.parametrize(
    "collection", ["essenFolksong", "oneills1850", "ryansMammoth", "airdsAirs"]
)
def test_abc_parse_without_beaming_reads_the_same_notes(collection):
    """Turning music21's beaming off (58 % of a profiled sample's parse time) changes
    no note: a seeded sample of each ABC collection's tunes reads the same tracks and
    fails the same way."""
    import random

    from music21.stream.base import Stream

    units = [u for u in corpus_units(CORPUS, collection, "x") if u.kind == "abc"]
    sample = random.Random(0).sample(units, 12)
    for u in sample:
        assert _outcome(parse_unit, u) == _outcome(_parse_with_beams, u), u.label
    assert Stream.makeBeams.__name__ == "makeBeams"  # put back after every parse


def test_beaming_is_put_back_when_a_parse_fails():
    from music21.stream.base import Stream

    from vrashlib.data.sources import without_beaming

    units = {(Path(u.path).name, u.tune): u for u in music_units(DATA / "music", "music", "t")}
    bad = units[("mixed.abc", "X:2")]  # a ZeroDivisionError inside music21
    assert _outcome(parse_unit, bad) == _outcome(_parse_with_beams, bad) == "ZeroDivisionError"
    with pytest.raises(RuntimeError), without_beaming():
        assert Stream.makeBeams.__name__ == "_no_beams"
        raise RuntimeError
    assert Stream.makeBeams.__name__ == "makeBeams"


# ------------------------------------------------------- every entry accounted for
def make_awkward_folder(tmp_path: Path) -> Path:
    """A MIDI folder with every kind of entry that once went missing from the report:
    symlink loops, dangling and duplicate symlinks, a folder named ``x.mid``, a
    symlink to a folder of 12 MIDI files, a named pipe, a text file (not input)."""
    melody = DATA / "midi" / "melody_drums.mid"
    twelve = tmp_path / "twelve"
    twelve.mkdir()
    for i in range(12):
        shutil.copy(melody, twelve / f"t{i:02d}.mid")
    root = tmp_path / "in"
    root.mkdir()
    shutil.copy(melody, root / "a.mid")
    (root / "folder.mid").mkdir()
    shutil.copy(melody, root / "folder.mid" / "b.mid")
    (root / "locked").mkdir()
    shutil.copy(melody, root / "locked" / "c.mid")
    (root / "loop").symlink_to(root)  # back into a parent
    (root / "self.mid").symlink_to(root / "self.mid")  # ELOOP
    (root / "dangling.mid").symlink_to(tmp_path / "gone.mid")
    (root / "linked").symlink_to(twelve)
    (root / "linked_again").symlink_to(twelve)
    (root / "copy.mid").symlink_to(root / "a.mid")
    os.mkfifo(root / "fifo.mid")
    (root / "notes.txt").write_text("not music")
    return root


def deny_listing(monkeypatch, folder: Path) -> None:
    """``os.scandir(folder)`` raises as for a folder another user owns (tests run as
    root, where chmod 000 denies nothing)."""
    real = os.scandir

    def scandir(path):
        if Path(path) == folder:
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)


def test_scan_follows_symlinked_folders_and_names_every_odd_entry(tmp_path, monkeypatch):
    root = make_awkward_folder(tmp_path)
    deny_listing(monkeypatch, root / "locked")
    files, entries = scan_folder(root, (".mid", ".midi"))
    rel = [f.relative_to(root).as_posix() for f in files]
    assert rel == ["a.mid", "folder.mid/b.mid"] + [f"linked/t{i:02d}.mid" for i in range(12)]
    got = {e.path.relative_to(root).as_posix(): (e.status, e.reason) for e in entries}
    assert got == {
        "copy.mid": ("skip", f"same file as {root / 'a.mid'}, read there"),
        "dangling.mid": ("error", f"dangling symlink: {root / 'dangling.mid'} -> "
                                  f"{tmp_path / 'gone.mid'}"),
        "fifo.mid": ("error", "not a regular file (a device, pipe or socket)"),
        "folder.mid": ("skip", "a folder named like an input file; its files are read"),
        "linked_again": ("skip", f"same folder as {root / 'linked'}, read there"),
        "locked": ("error", "permission denied: cannot list this folder"),
        "loop": ("skip", f"symlink loop: {root / 'loop'} leads back into a parent"),
        "self.mid": ("error", f"symlink loop: {root / 'self.mid'} -> {root / 'self.mid'}"),
    }  # fmt: skip
    units = midi_units(root, "in", "pop")  # one unit per file and per entry
    assert [u.kind for u in units].count("midi") == 14
    assert {u.name for u in units if u.kind in ("skip", "error")} == {f"in/{k}" for k in got}
    assert all(u.text for u in units if u.kind in ("skip", "error"))


def _music21_tracks(unit: WorkUnit):
    """``parse_unit`` as music21 alone reads a file."""
    from music21 import converter

    from vrashlib.data.sources import score_tracks

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return score_tracks(converter.parse(unit.path, forceSource=True))


def test_plain_kern_files_read_the_same_tracks_as_music21():
    """A seeded sample of the corpus's kern files (Palestrina, Bach), each read by the
    fast reader where it can and by music21: the same tracks, float for float, and the
    fast reader takes most of them (``benchmarks/bench_data.py --kern``: all of them)."""
    import random

    from vrashlib.data.sources import _plain_kern

    units = corpus_units(CORPUS, "palestrina", "x") + corpus_units(CORPUS, "bach", "x")
    kern = [u for u in units if u.path.endswith(".krn")]
    sample = random.Random(0).sample(kern, 16)
    fast = 0
    for u in sample:
        fast += _plain_kern(Path(u.path), Path(u.path).read_bytes()) is not None
        assert _outcome(parse_unit, u) == _outcome(_music21_tracks, u), u.label
    assert fast >= 12


KERN_HEAD = "!!!OTL: test\n**kern\t**kern\n*clefF4\t*clefG2\n*k[b-]\t*k[b-]\n*M4/4\t*M4/4\n"


@pytest.mark.parametrize(
    "body",
    [
        "=1\t=1\n4c\t[2e-\n4d#\t.\n2r\t2e-]\n4.C\t8gg\n.\t4.bn\n8B-\t.\n*-\t*-\n",
        "[1G\t0r\n2G_\t.\n2G]\t.\n4A/\t2.cL;\n16AA\t.\n8.BB\\\t.\n*-\t*-\n",
        "4e\t4cc##\n8f-\t8c--\n8ff\t8ccc\n*-\t*-\n",
    ],
)
def test_kern_reader_matches_music21_on_each_feature(tmp_path, body):
    """Ties (start, continue, stop), dots, rests, octaves up and down, accidentals
    (naturals, doubles), breves, and the drawing signs it skips: as music21 reads them."""
    from vrashlib.data.sources import _plain_kern

    path = tmp_path / "t.krn"
    path.write_text(KERN_HEAD + body)
    unit = WorkUnit(str(path), "music/t.krn", "music", "t", "music21")
    assert _plain_kern(path, path.read_bytes()) is not None
    assert _outcome(parse_unit, unit) == _outcome(_music21_tracks, unit)


@pytest.mark.parametrize(
    "body",
    [
        "*^\t*\n4c\t4d\t4e\n*v\t*v\t*\n*-\t*-\n",  # a spine split
        "*MM96\t*MM96\n4c\t4d\n*-\t*-\n",  # a metronome mark
        "3c\t4d\n*-\t*-\n",  # a triplet
        "4c 4e\t4d\n*-\t*-\n",  # a chord
        "4cq\t4d\n*-\t*-\n",  # a grace note
        "4ct\t4d\n*-\t*-\n",  # a trill
        "4c\n*-\t*-\n",  # a missing cell
    ],
)
def test_kern_reader_leaves_what_it_does_not_know_to_music21(tmp_path, body):
    from vrashlib.data.kern import kern_tracks

    assert kern_tracks(KERN_HEAD + body, 120.0) is None
    assert kern_tracks("**kern\t**dynam\n4c\tp\n*-\t*-\n", 120.0) is None
    assert kern_tracks("!! no spines\n", 120.0) is None
