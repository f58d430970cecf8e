"""Ratings CSV validation and safe appends; the automatic panel on real corpus tunes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from vrashlib.data.encoding import duration_index, event_from_midi
from vrashlib.data.tracks import TrackSet
from vrashlib.filter.autorater import CRITERIA, fit_panel, musical_criteria
from vrashlib.filter.ratings import (
    AUTO_RATER,
    acceptable,
    append_rating,
    labels_for,
    load_ratings,
    mean_ratings,
    ratings_frame,
    save_ratings,
)

N_CHORALES = 12  # x 4 voices = 48 real Bach tracks: enough for a reference, parsed in ~2 s


def _encode_part(part) -> np.ndarray | None:
    """A music21 part as events: durations / median snapped, median pitch moved to octave 4."""
    items = [
        (None if n.isRest else n.pitch.midi, float(n.quarterLength))
        for n in part.stripTies().flatten().notesAndRests
        if float(n.quarterLength) > 0 and (n.isRest or n.isNote)
    ]
    if len(items) < 16:
        return None
    pitches = np.array([p for p, _ in items if p is not None])
    shift = 12 * (4 - (int(np.median(pitches)) // 12 - 1))
    lengths = np.array([q for _, q in items])
    idx, _ = duration_index(lengths / np.median(lengths))
    return np.array(
        [
            event_from_midi(None if p is None else p + shift, int(d))
            for (p, _), d in zip(items, idx, strict=True)
        ],
        dtype=np.int16,
    )


@pytest.fixture(scope="session")
def bach_tracks() -> TrackSet:
    """Voices of the first Bach chorales of the music21 corpus (session-cached)."""
    from music21 import corpus

    tracks, ids = [], []
    for path in corpus.getComposer("bach")[:N_CHORALES]:
        for k, part in enumerate(corpus.parse(path).parts):
            ev = _encode_part(part)
            if ev is not None:
                tracks.append(ev)
                ids.append(f"{path.stem}#{k}")
    return TrackSet.from_tracks(tracks, ("bach",), np.zeros(len(tracks)), ids=ids)


def _shuffled(ts: TrackSet, seed: int = 0) -> TrackSet:
    rng = np.random.default_rng(seed)
    tracks = [ts[i][rng.permutation(len(ts[i]))] for i in range(len(ts))]
    return TrackSet.from_tracks(tracks, ts.styles, ts.style, ids=[f"{i}~shuffled" for i in ts.ids])


# ------------------------------------------------------------------ CSV format
def _write(tmp_path, text: str):
    path = tmp_path / "ratings.csv"
    path.write_text(text)
    return path


def test_load_valid_csv_and_average_raters(tmp_path):
    path = _write(tmp_path, "track_id,rater,rating\na,ann,4\na,bob,3\nb,ann,5\n")
    df = load_ratings(path, known_ids=["a", "b", "c"])
    means = mean_ratings(df)
    assert means["a"] == 3.5 and means["b"] == 5.0
    assert acceptable(means).tolist() == [True, True]
    assert labels_for(["b", "a"], df).tolist() == [True, True]
    assert acceptable([3.0, 3.4, 4.0]).tolist() == [False, False, True]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("a,ann,6\n", "line 2: rating '6' of track 'a'"),
        ("a,ann,0\n", "line 2: rating '0'"),
        ("a,ann,x\n", "line 2: rating 'x'"),
        ("a,ann,3.5\n", "line 2: rating '3.5'"),
        ("a,ann,4\nb,ann,4\na,ann,2\n", "line 4: rater 'ann' already rated track 'a'"),
        ("a,ann,4\nzzz,bob,2\n", "line 3: unknown track id 'zzz'"),
        ("a,,4\n", "line 2: empty rater"),
    ],
)
def test_invalid_rows_are_named(tmp_path, body, message):
    path = _write(tmp_path, "track_id,rater,rating\n" + body)
    with pytest.raises(ValueError, match=message) as err:
        load_ratings(path, known_ids=["a", "b"])
    assert str(path) in str(err.value)


def test_missing_column_and_missing_file(tmp_path):
    with pytest.raises(ValueError, match="missing column"):
        load_ratings(_write(tmp_path, "track_id,score\na,4\n"))
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        load_ratings(tmp_path / "nope.csv")


def test_unrated_track_raises():
    df = ratings_frame(["a"], [4], "ann")
    with pytest.raises(ValueError, match="no rating"):
        labels_for(["a", "b"], df)


def test_append_rating_creates_appends_and_replaces(tmp_path):
    path = tmp_path / "sub" / "mine.csv"
    append_rating(path, "a", "me", 2)
    append_rating(path, "b", "me", 5)
    append_rating(path, "a", "you", 4)
    table = append_rating(path, "a", "me", 4)  # changed her mind
    df = load_ratings(path)
    pd.testing.assert_frame_equal(df, table)
    assert len(df) == 3
    assert df.set_index(["track_id", "rater"])["rating"][("a", "me")] == 4
    with pytest.raises(ValueError, match="not an integer 1..5"):
        append_rating(path, "a", "me", 9)
    assert len(load_ratings(path)) == 3  # a rejected click leaves the file alone
    assert not list(path.parent.glob("*.tmp"))


def test_save_ratings_round_trip(tmp_path):
    df = ratings_frame(["x", "y"], np.array([1, 5]), AUTO_RATER)
    loaded = load_ratings(save_ratings(df, tmp_path / "r.csv"))
    pd.testing.assert_frame_equal(loaded, df)


# ------------------------------------------------------------ automatic panel
def test_criteria_hand_computed():
    from tests.test_features import TINY  # C4:1 D4:1 C4:2 rest:1 C5:1

    c = musical_criteria(TrackSet.from_tracks([TINY], ("bach",), [0])).iloc[0]
    assert c["longest_run"] == 1
    assert c["step_share"] == pytest.approx(2 / 3)  # +2, -2, +12
    assert c["leap_share"] == pytest.approx(1 / 3)
    assert c["grid_share"] == 1.0  # onsets 0, 1, 2, 5 (the rest starts at 4)
    assert 0.5 < c["key_clarity"] <= 1.0


def test_panel_rates_real_tracks_above_shuffled_versions(bach_tracks):
    panel = fit_panel(bach_tracks)
    real = panel.rate(bach_tracks)
    shuffled = panel.rate(_shuffled(bach_tracks))
    assert real.min() >= 1 and real.max() <= 5
    assert real.mean() > shuffled.mean() + 1.0, (real.mean(), shuffled.mean())
    assert acceptable(real).mean() > acceptable(shuffled).mean() + 0.3


def test_panel_judges_each_criterion_against_real_style(bach_tracks):
    panel = fit_panel(bach_tracks)
    scores = panel.scores(bach_tracks)
    assert set(scores["reference"]) == {"bach"}
    for name in CRITERIA:
        assert scores[f"{name}_score"].between(0, 1).all()
    # about half of the real tracks are rated 5 (median of their own reference)
    assert 0.35 < (scores["rating"] == 5).mean() < 0.65
    # a style with no reference falls back to all real tracks
    other = TrackSet.from_tracks([bach_tracks[0]], ("jazz",), [0])
    assert panel.scores(other)["reference"].iloc[0] == "*all*"


def test_panel_gives_one_note_drone_the_lowest_rating(bach_tracks):
    drone = np.tile(np.array([[0, 4, 0]], np.int16), (64, 1))
    drone[:, 2] = bach_tracks[0][0, 2]
    empty = np.zeros((0, 3), np.int16)
    ts = TrackSet.from_tracks([drone, empty], ("bach",), [0, 0])
    assert fit_panel(bach_tracks).rate(ts).tolist() == [1, 1]


def test_panel_is_deterministic(bach_tracks):
    a = fit_panel(bach_tracks).scores(_shuffled(bach_tracks, 3))
    b = fit_panel(bach_tracks).scores(_shuffled(bach_tracks, 3))
    pd.testing.assert_frame_equal(a, b)


def test_panel_needs_enough_real_tracks(bach_tracks):
    with pytest.raises(ValueError, match="at least 20"):
        fit_panel(bach_tracks.subset(np.arange(5)))


# ------------------------------------------------------------ rating widget
def test_rating_widget_writes_clicks_and_resumes(tmp_path, tiny_trackset):
    from vrashlib.viz.rating import rating_order, rating_panel

    path = tmp_path / "mine.csv"
    ts = tiny_trackset.subset(np.arange(4))
    panel = rating_panel(ts, path, rater="me", seed=1, audio=False)
    first = rating_order(ts, path, "me", seed=1)
    assert not path.exists()  # building the panel writes nothing
    panel.start.click()
    panel.buttons[4].click()  # rate the first track 5
    panel.skip.click()
    panel.buttons[0].click()  # rate the third track 1
    df = load_ratings(path, known_ids=ts.ids)
    assert df["track_id"].tolist() == [ts.ids[first[0]], ts.ids[first[2]]]
    assert df["rating"].tolist() == [5, 1]
    # a new session skips what she already rated, in the same order
    assert rating_order(ts, path, "me", seed=1) == [first[1], first[3]]
    with pytest.raises(ValueError, match="auto-panel"):
        rating_panel(ts, path, rater=AUTO_RATER)


def test_rating_panel_plays_the_library_synthesizer(tmp_path, tiny_trackset, monkeypatch):
    from vrashlib.sampling import audio
    from vrashlib.viz.rating import SAMPLE_RATE, rating_panel

    calls, real = [], audio.synthesize

    def spy(events, unit_seconds, sample_rate=22050, **kw):
        calls.append(sample_rate)
        return real(events, unit_seconds, sample_rate, **kw)

    monkeypatch.setattr(audio, "synthesize", spy)
    panel = rating_panel(tiny_trackset.subset(np.arange(2)), tmp_path / "r.csv", audio=True)
    assert calls == []  # nothing is synthesised before "start"
    panel.start.click()
    assert calls == [SAMPLE_RATE]  # vrashlib.sampling.audio's synthesizer, no copy of it


def test_rating_table_and_rated_subset(bach_tracks):
    from vrashlib.filter.autorater import auto_ratings, holdout_sample
    from vrashlib.filter.ratings import rated_subset, rating_table

    shuffled = _shuffled(bach_tracks)
    sets = {"real": bach_tracks, "shuffled": shuffled}
    auto, scores = auto_ratings(fit_panel(bach_tracks), sets)
    table = rating_table(sets, auto)
    assert len(table) == 2 * len(bach_tracks) and list(scores.index.names) == ["source", "track_id"]
    assert table.loc["real", "good"].mean() > table.loc["shuffled", "good"].mean()
    # only rated tracks enter; several raters are averaged
    partial = pd.DataFrame(
        {
            "track_id": [bach_tracks.ids[0]] * 2 + [shuffled.ids[1]],
            "rater": ["x", "y", "x"],
            "rating": [5, 2, 4],
        }
    )
    table = rating_table(sets, partial)
    assert table["mean_rating"].tolist() == [3.5, 4.0] and table["n_raters"].tolist() == [2, 1]
    sub, good = rated_subset(shuffled, table.loc[["shuffled"]])
    assert list(sub.ids) == [shuffled.ids[1]] and good.tolist() == [True]
    with pytest.raises(ValueError, match="more than one set"):
        rating_table({"a": bach_tracks, "b": bach_tracks}, partial)
    held = holdout_sample(bach_tracks, 10, seed=1)
    assert len(held) == 10 and set(held.ids) <= set(bach_tracks.ids)


def test_row_with_an_extra_field_is_named_by_line(tmp_path):
    """An extra field on the first data row made pandas take the first column as an
    index, and the message named the rater as the track and a note as the rating."""
    for body, line in [("a,bob,4,extra\nb,bob,3,x\n", 2), ("a,bob,4\nb,bob,3,extra\n", 3)]:
        path = _write(tmp_path, "track_id,rater,rating\n" + body)
        with pytest.raises(ValueError, match=rf"line {line}: 4 fields \[.*'extra'\].* has 3"):
            load_ratings(path)


def test_partial_ratings_name_the_sources_without_any(bach_tracks):
    from vrashlib.filter.ratings import rating_table

    first, second = bach_tracks.subset(np.arange(5)), bach_tracks.subset(np.arange(5, 10))
    sets = {"lm": first, "vrash": second}
    some = pd.DataFrame({"track_id": list(first.ids[:3]), "rater": "x", "rating": 4})
    with pytest.raises(ValueError, match=r"cover 3 of the 10 tracks .*none of 'vrash' \(5 tracks"):
        rating_table(sets, some)
